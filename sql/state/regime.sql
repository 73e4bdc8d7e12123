-- Regime per pair: what the data of one refresh indicates, and the hysteresis that turns
-- indications into the effective regime.

-- Plain SQL (one CASE, evaluated lazily: only the chosen branch formats its reason) so the
-- planner inlines it into the refresh's upsert: the plpgsql version cost ~27 us per symbol
-- (13 ms of a 500-symbol refresh). Thresholds that keep the current regime are relaxed by the
-- exit margin (hysteresis band): v_f below is 1 - exit_margin for the current regime, else 1.
create or replace function kapitaal.regime__indicate(
  p_state kapitaal.run_symbol_state,
  p_current text,
  p_policy kapitaal.regime_policy,
  p_now timestamptz
)
returns table (regime text, reason text)
language sql
immutable
as $$
  select v.r[1], v.r[2]
    from (select case
      -- CHAOS: missing, stale or corrupt data first; a confident regime needs trustworthy data.
      when p_state.mid is null then
        array['CHAOS', 'NO_BOOK: no L2 book or ticker quote']
      when p_state.last_l2_at is null or p_state.book_source is distinct from 'l2' then
        array['CHAOS', 'NO_L2_BOOK: depth and spread unknown without a two-sided L2 book']
      when p_state.book_valid is not true then
        array['CHAOS', 'BOOK_INVALID: newest L2 sample failed its checksum']
      when p_now - greatest(p_state.last_l2_at, p_state.last_ticker_at) > p_policy.chaos_max_data_age then
        array['CHAOS', format('DATA_STALE: newest L2/ticker data %s old > %s',
          p_now - greatest(p_state.last_l2_at, p_state.last_ticker_at), p_policy.chaos_max_data_age)]
      when p_state.l2_checksum_failures_1m + p_state.l3_checksum_failures_1m >= p_policy.chaos_checksum_failures_1m then
        array['CHAOS', format('CHECKSUM_FAILURES: %s L2 + %s L3 checksum failures in 1 m >= %s',
          p_state.l2_checksum_failures_1m, p_state.l3_checksum_failures_1m, p_policy.chaos_checksum_failures_1m)]
      when p_state.trade_id_gaps_5m >= p_policy.chaos_trade_id_gaps_5m then
        array['CHAOS', format('TRADE_GAPS: %s trade ids missing in 5 m >= %s',
          p_state.trade_id_gaps_5m, p_policy.chaos_trade_id_gaps_5m)]
      when p_state.price_buckets_5m < p_policy.min_price_buckets_5m then
        array['CHAOS', format('INSUFFICIENT_HISTORY: %s price buckets in 5 m < %s',
          p_state.price_buckets_5m, p_policy.min_price_buckets_5m)]
      when p_state.vol_1m_bps >= p_policy.chaos_vol_1m_bps * f.chaos then
        array['CHAOS', format('EXTREME_VOLATILITY: vol_1m %s bps >= %s', p_state.vol_1m_bps,
          round(p_policy.chaos_vol_1m_bps * f.chaos, 4))]
      -- LOW_LIQUIDITY
      when p_state.spread_bps >= p_policy.low_liq_max_spread_bps * f.low_liq then
        array['LOW_LIQUIDITY', format('WIDE_SPREAD: spread %s bps >= %s', p_state.spread_bps,
          round(p_policy.low_liq_max_spread_bps * f.low_liq, 4))]
      when coalesce(least(p_state.bid_depth_50bps_quote, p_state.ask_depth_50bps_quote), 0)
           < p_policy.low_liq_min_depth_50bps_quote / f.low_liq then
        array['LOW_LIQUIDITY', format('THIN_BOOK: thinner side %s quote within 50 bps < %s',
          coalesce(least(p_state.bid_depth_50bps_quote, p_state.ask_depth_50bps_quote), 0),
          round(p_policy.low_liq_min_depth_50bps_quote / f.low_liq, 4))]
      when p_state.trades_5m < p_policy.low_liq_min_trades_5m / f.low_liq then
        array['LOW_LIQUIDITY', format('FEW_TRADES: %s trades in 5 m < %s', p_state.trades_5m,
          round(p_policy.low_liq_min_trades_5m / f.low_liq, 4))]
      -- HIGH_VOLATILITY
      when p_state.vol_5m_bps >= p_policy.high_vol_vol_5m_bps * f.high_vol then
        array['HIGH_VOLATILITY', format('vol_5m %s bps >= %s', p_state.vol_5m_bps,
          round(p_policy.high_vol_vol_5m_bps * f.high_vol, 4))]
      -- TREND
      when abs(p_state.trend_strength_5m) >= p_policy.trend_min_strength * f.trend
           and abs(p_state.ret_5m_bps) >= p_policy.trend_min_abs_ret_5m_bps * f.trend then
        array['TREND', format('trend_strength_5m %s (|.| >= %s), ret_5m %s bps (|.| >= %s)',
          p_state.trend_strength_5m, round(p_policy.trend_min_strength * f.trend, 4),
          p_state.ret_5m_bps, round(p_policy.trend_min_abs_ret_5m_bps * f.trend, 4))]
      else
        array['RANGE', format('vol_5m %s bps, trend_strength_5m %s, ret_5m %s bps, spread %s bps',
          p_state.vol_5m_bps, p_state.trend_strength_5m, p_state.ret_5m_bps, p_state.spread_bps)]
      end as r
      from (select case when p_current = 'CHAOS' then 1 - p_policy.exit_margin else 1 end as chaos,
                   case when p_current = 'LOW_LIQUIDITY' then 1 - p_policy.exit_margin else 1 end as low_liq,
                   case when p_current = 'HIGH_VOLATILITY' then 1 - p_policy.exit_margin else 1 end as high_vol,
                   case when p_current = 'TREND' then 1 - p_policy.exit_margin else 1 end as trend) f
    ) v
$$;
comment on function kapitaal.regime__indicate(kapitaal.run_symbol_state, text, kapitaal.regime_policy, timestamptz) is
  'The regime one refresh''s numbers indicate, with the reason: CHAOS for missing, stale or corrupt data, too little '
  'history or extreme volatility; then LOW_LIQUIDITY, HIGH_VOLATILITY, TREND, else RANGE. Thresholds come from '
  'regime_policy; those that keep p_current (the effective regime) are relaxed by exit_margin.';

create or replace function kapitaal.regime__step(
  p_regime text,
  p_since timestamptz,
  p_candidate text,
  p_streak integer,
  p_indicated text,
  p_policy kapitaal.regime_policy,
  p_now timestamptz
)
returns table (regime text, since timestamptz, candidate text, streak integer)
language sql
immutable
as $$
  select case when s.switch then p_indicated else p_regime end,
         case when s.switch then p_now else p_since end,
         case when s.switch or p_indicated is not distinct from p_regime then null else p_indicated end,
         case when s.switch or p_indicated is not distinct from p_regime then 0 else s.streak end
    from (
      select n.streak,
             p_indicated is distinct from p_regime
               and (p_indicated = any (p_policy.immediate_regimes) or n.streak >= p_policy.confirm_refreshes) as switch
        from (select case when p_indicated is not distinct from p_candidate then coalesce(p_streak, 0) + 1 else 1 end as streak) n
    ) s
$$;
comment on function kapitaal.regime__step(text, timestamptz, text, integer, text, kapitaal.regime_policy, timestamptz) is
  'Hysteresis: the effective regime changes to the indicated one only after confirm_refreshes consecutive indications '
  '(immediately for immediate_regimes such as CHAOS). Returns the new effective regime, since when, and the candidate '
  'being confirmed with its streak.';
