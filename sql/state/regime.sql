-- Regime per pair: what the data of one refresh indicates, and the hysteresis that turns
-- indications into the effective regime.

create or replace function kapitaal.regime__indicate(
  p_state kapitaal.run_symbol_state,
  p_current text,
  p_policy kapitaal.regime_policy,
  p_now timestamptz
)
returns table (regime text, reason text)
language plpgsql
immutable
as $$
declare
  -- thresholds that keep the current regime are relaxed by the exit margin (hysteresis band)
  v_keep numeric := 1 - p_policy.exit_margin;
  v_age interval := p_now - greatest(p_state.last_l2_at, p_state.last_ticker_at);
  v_f numeric;
  v_min_depth numeric := least(p_state.bid_depth_50bps_quote, p_state.ask_depth_50bps_quote);
begin
  -- CHAOS: missing, stale or corrupt data first; a confident regime needs trustworthy data.
  if p_state.mid is null then
    regime := 'CHAOS'; reason := 'NO_BOOK: no L2 book or ticker quote';
    return next; return;
  end if;
  if p_state.last_l2_at is null or p_state.book_source is distinct from 'l2' then
    regime := 'CHAOS'; reason := 'NO_L2_BOOK: depth and spread unknown without a two-sided L2 book';
    return next; return;
  end if;
  if p_state.book_valid is not true then
    regime := 'CHAOS'; reason := 'BOOK_INVALID: newest L2 sample failed its checksum';
    return next; return;
  end if;
  if v_age > p_policy.chaos_max_data_age then
    regime := 'CHAOS'; reason := format('DATA_STALE: newest L2/ticker data %s old > %s', v_age, p_policy.chaos_max_data_age);
    return next; return;
  end if;
  if p_state.l2_checksum_failures_1m + p_state.l3_checksum_failures_1m >= p_policy.chaos_checksum_failures_1m then
    regime := 'CHAOS'; reason := format('CHECKSUM_FAILURES: %s L2 + %s L3 checksum failures in 1 m >= %s',
      p_state.l2_checksum_failures_1m, p_state.l3_checksum_failures_1m, p_policy.chaos_checksum_failures_1m);
    return next; return;
  end if;
  if p_state.trade_id_gaps_5m >= p_policy.chaos_trade_id_gaps_5m then
    regime := 'CHAOS'; reason := format('TRADE_GAPS: %s trade ids missing in 5 m >= %s',
      p_state.trade_id_gaps_5m, p_policy.chaos_trade_id_gaps_5m);
    return next; return;
  end if;
  if p_state.price_buckets_5m < p_policy.min_price_buckets_5m then
    regime := 'CHAOS'; reason := format('INSUFFICIENT_HISTORY: %s price buckets in 5 m < %s',
      p_state.price_buckets_5m, p_policy.min_price_buckets_5m);
    return next; return;
  end if;
  v_f := case when p_current = 'CHAOS' then v_keep else 1 end;
  if p_state.vol_1m_bps >= p_policy.chaos_vol_1m_bps * v_f then
    regime := 'CHAOS'; reason := format('EXTREME_VOLATILITY: vol_1m %s bps >= %s', p_state.vol_1m_bps,
      round(p_policy.chaos_vol_1m_bps * v_f, 4));
    return next; return;
  end if;

  -- LOW_LIQUIDITY
  v_f := case when p_current = 'LOW_LIQUIDITY' then v_keep else 1 end;
  if p_state.spread_bps >= p_policy.low_liq_max_spread_bps * v_f then
    regime := 'LOW_LIQUIDITY'; reason := format('WIDE_SPREAD: spread %s bps >= %s', p_state.spread_bps,
      round(p_policy.low_liq_max_spread_bps * v_f, 4));
    return next; return;
  end if;
  if coalesce(v_min_depth, 0) < p_policy.low_liq_min_depth_50bps_quote / v_f then
    regime := 'LOW_LIQUIDITY'; reason := format('THIN_BOOK: thinner side %s quote within 50 bps < %s',
      coalesce(v_min_depth, 0), round(p_policy.low_liq_min_depth_50bps_quote / v_f, 4));
    return next; return;
  end if;
  if p_state.trades_5m < p_policy.low_liq_min_trades_5m / v_f then
    regime := 'LOW_LIQUIDITY'; reason := format('FEW_TRADES: %s trades in 5 m < %s', p_state.trades_5m,
      round(p_policy.low_liq_min_trades_5m / v_f, 4));
    return next; return;
  end if;

  -- HIGH_VOLATILITY
  v_f := case when p_current = 'HIGH_VOLATILITY' then v_keep else 1 end;
  if p_state.vol_5m_bps >= p_policy.high_vol_vol_5m_bps * v_f then
    regime := 'HIGH_VOLATILITY'; reason := format('vol_5m %s bps >= %s', p_state.vol_5m_bps,
      round(p_policy.high_vol_vol_5m_bps * v_f, 4));
    return next; return;
  end if;

  -- TREND
  v_f := case when p_current = 'TREND' then v_keep else 1 end;
  if abs(p_state.trend_strength_5m) >= p_policy.trend_min_strength * v_f
     and abs(p_state.ret_5m_bps) >= p_policy.trend_min_abs_ret_5m_bps * v_f then
    regime := 'TREND'; reason := format('trend_strength_5m %s (|.| >= %s), ret_5m %s bps (|.| >= %s)',
      p_state.trend_strength_5m, round(p_policy.trend_min_strength * v_f, 4),
      p_state.ret_5m_bps, round(p_policy.trend_min_abs_ret_5m_bps * v_f, 4));
    return next; return;
  end if;

  regime := 'RANGE'; reason := format('vol_5m %s bps, trend_strength_5m %s, ret_5m %s bps, spread %s bps',
    p_state.vol_5m_bps, p_state.trend_strength_5m, p_state.ret_5m_bps, p_state.spread_bps);
  return next;
end
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
