--! Previous: sha1:b39409c65f9b2e8fd3c5dfb17503a917ac9c1484
--! Hash: sha1:935e022e8077e7e510f7a5eeeacf0248fd56be29
--! Message: The account's fee rates: account_fee_rates, fee_rates__for (strategies and maker fallback), account_fee_rates__record, capital__fee_rates cadence

--! split: 1-current.sql
-- Enter migration here

--! split: 3-fee-rates.sql
--! Included execution/account_fee_rates.sql
-- The fee rates the exchange reports for the account, per pair (Kraken TradeVolume: the 30-day volume
-- tier). Where a pair has a row, the strategies' net edge and the maker fallback use it instead of the
-- configured capital_policy rates (fee_rates__for).
create table if not exists kapitaal.account_fee_rates (
  account text not null,
  symbol text not null,
  maker_fee_rate numeric not null check (maker_fee_rate >= 0 and maker_fee_rate < 0.1),
  taker_fee_rate numeric not null check (taker_fee_rate >= 0 and taker_fee_rate < 0.1),
  source text not null,
  fetched_at timestamptz not null,
  primary key (account, symbol)
);
comment on table kapitaal.account_fee_rates is
  'Fee rates the exchange reports for the account, per pair, as fractions (0.0026 = 0.26 %). Written by '
  'account_fee_rates__record (task capital__fee_rates, live and simulator exchanges); read by fee_rates__for.';
comment on column kapitaal.account_fee_rates.account is 'capital_policy.account these rates belong to.';
comment on column kapitaal.account_fee_rates.symbol is 'WS v2 symbol, e.g. BTC/USD.';
comment on column kapitaal.account_fee_rates.maker_fee_rate is 'Maker fee as a fraction of the cost (Kraken fees_maker / 100; the taker rate when the pair has no maker schedule).';
comment on column kapitaal.account_fee_rates.taker_fee_rate is 'Taker fee as a fraction of the cost (Kraken fees / 100).';
comment on column kapitaal.account_fee_rates.source is 'Where the rates came from, e.g. kraken:TradeVolume or sim:TradeVolume.';
comment on column kapitaal.account_fee_rates.fetched_at is 'When the exchange was asked (p_now of account_fee_rates__record).';
--! EndIncluded execution/account_fee_rates.sql
--! Included execution/fee_rates__for.sql
-- Which fee rates a decision uses for a pair: the exchange's for the account when known, else the
-- configured capital_policy rates, else the built-in entry tier. One place, so the strategies and the
-- maker fallback can never price the same order with different fees.
create or replace function kapitaal.fee_rates__for(p_account text, p_symbol text)
returns table (maker_fee_rate numeric, taker_fee_rate numeric, source text)
language sql
stable
as $$
  select f.maker_fee_rate, f.taker_fee_rate, f.source
    from (select a.maker_fee_rate, a.taker_fee_rate, a.source || ' at ' || a.fetched_at as source, 1 as pref
            from kapitaal.account_fee_rates a where a.account = p_account and a.symbol = p_symbol
          union all
          select c.maker_fee_rate, c.taker_fee_rate, 'capital_policy:' || c.account, 2
            from kapitaal.capital_policy c where c.account = p_account
          union all
          select 0.0025, 0.0040, 'built_in_default', 3) f
   order by f.pref
   limit 1
$$;
comment on function kapitaal.fee_rates__for(text, text) is
  'The maker and taker fee rates (fractions) decisions use for p_symbol: the exchange''s rates for the account '
  '(account_fee_rates) when known, else capital_policy''s configured rates, else 0.0025 / 0.0040 (Kraken''s entry tier); '
  'source says which.';
--! EndIncluded execution/fee_rates__for.sql
--! Included execution/account_fee_rates__record.sql
-- Records the exchange's fee rates for the account and says, per pair, how they compare with the
-- configured ones: configured rates below the exchange's overstated every net edge until now.
create or replace function kapitaal.account_fee_rates__record(
  p_account text,
  p_rates jsonb,
  p_source text,
  p_now timestamptz default now()
)
returns table (symbol text, maker_fee_rate numeric, taker_fee_rate numeric,
               configured_maker_fee_rate numeric, configured_taker_fee_rate numeric, verdict text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_bad text;
begin
  if p_rates is null or jsonb_typeof(p_rates) <> 'object' then
    raise exception 'account_fee_rates__record: rates must be a JSON object {symbol: {"maker": "0.0016", "taker": "0.0026"}}'
      using errcode = '22023';
  end if;
  select string_agg(r.key, ', ' order by r.key) into v_bad
    from jsonb_each(p_rates) r
   where jsonb_typeof(r.value) <> 'object'
      or coalesce(r.value->>'maker', '') !~ '^[0-9]+(\.[0-9]+)?$' or coalesce(r.value->>'taker', '') !~ '^[0-9]+(\.[0-9]+)?$'
      or (r.value->>'maker')::numeric >= 0.1 or (r.value->>'taker')::numeric >= 0.1;
  if v_bad is not null then
    raise exception 'account_fee_rates__record: no valid maker/taker fractions below 0.1 for %', v_bad using errcode = '22023';
  end if;
  insert into kapitaal.account_fee_rates as a (account, symbol, maker_fee_rate, taker_fee_rate, source, fetched_at)
  select p_account, r.key, (r.value->>'maker')::numeric, (r.value->>'taker')::numeric, p_source, p_now
    from jsonb_each(p_rates) r
  on conflict (account, symbol) do update
    set maker_fee_rate = excluded.maker_fee_rate, taker_fee_rate = excluded.taker_fee_rate,
        source = excluded.source, fetched_at = excluded.fetched_at;
  return query
  select r.key, (r.value->>'maker')::numeric, (r.value->>'taker')::numeric, c.maker_fee_rate, c.taker_fee_rate,
         case when c.account is null then 'no_configured_rates'
              when (r.value->>'maker')::numeric > c.maker_fee_rate or (r.value->>'taker')::numeric > c.taker_fee_rate
                then 'exchange_higher'
              when (r.value->>'maker')::numeric < c.maker_fee_rate or (r.value->>'taker')::numeric < c.taker_fee_rate
                then 'exchange_lower'
              else 'same' end
    from jsonb_each(p_rates) r
    left join kapitaal.capital_policy c on c.account = p_account
   order by r.key;
end
$$;
comment on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) is
  'Stores the exchange''s fee rates for the account (p_rates: {symbol: {"maker": fraction, "taker": fraction}}, each '
  'below 0.1, else 22023) in account_fee_rates, which fee_rates__for then prefers, and returns per pair the '
  'configured capital_policy rates and a verdict: exchange_higher (a configured rate was below the exchange''s: net '
  'edges were overstated), exchange_lower (configured rates were conservative), same, or no_configured_rates.';
--! EndIncluded execution/account_fee_rates__record.sql
--! Included execution/grants.sql
-- Least privilege for execution objects (decision cluster). Tables are written only through the
-- security-definer functions; kapitaal_execution calls them, kapitaal_readonly reads, the ingest writer gets nothing.
revoke all on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance, kapitaal.orders,
  kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy, kapitaal.capital_snapshots,
  kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status, kapitaal.fills_ledger
  from public, kapitaal_ingest_writer;

grant select on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance,
  kapitaal.orders, kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy,
  kapitaal.capital_snapshots, kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status,
  kapitaal.fills_ledger
  to kapitaal_execution, kapitaal_readonly;

-- Append-only ledgers: nobody updates or deletes, not even the owner's grantees (the trigger also refuses).
revoke update, delete, truncate on kapitaal.order_events, kapitaal.fills from kapitaal_execution, kapitaal_readonly;

-- Writers (security definer): execution only.
revoke all on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) from public;
revoke all on function kapitaal.order__begin_submit(bigint, timestamptz) from public;
revoke all on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) from public;
revoke all on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) from public;
revoke all on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) from public;
revoke all on function kapitaal.tg__append_only() from public;
grant execute on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.order__begin_submit(bigint, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) to kapitaal_execution;

-- Readers: pure or read-only functions, for execution and for a DBA with the read-only role.
revoke all on function kapitaal.order__client_id(text, bigint, text) from public;
revoke all on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) from public;
revoke all on function kapitaal.positions__recompute(text) from public;
revoke all on function kapitaal.positions__verify(text) from public;
revoke all on function kapitaal.capital__exposure(text, text) from public;
revoke all on function kapitaal.capital__position_size(text, numeric, timestamptz, text) from public;
revoke all on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) from public;
revoke all on function kapitaal.open_positions__marked(jsonb, text) from public;
grant execute on function kapitaal.order__client_id(text, bigint, text),
  kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric),
  kapitaal.positions__recompute(text),
  kapitaal.positions__verify(text),
  kapitaal.capital__exposure(text, text),
  kapitaal.capital__position_size(text, numeric, timestamptz, text),
  kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text),
  kapitaal.open_positions__marked(jsonb, text)
  to kapitaal_execution, kapitaal_readonly;
-- The runtime's snapshot task (writes capital_snapshots through capital__snapshot).
revoke all on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) from public;
grant execute on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) to kapitaal_execution;
-- Fee rates: execution records the exchange's (task capital__fee_rates) and reads them through fee_rates__for,
-- which is plain SQL so that it inlines into strategy__proposals (hence the table grant).
revoke all on kapitaal.account_fee_rates from public;
revoke all on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) from public;
revoke all on function kapitaal.fee_rates__for(text, text) from public;
grant select on kapitaal.account_fee_rates to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.fee_rates__for(text, text) to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) to kapitaal_execution;
--! EndIncluded execution/grants.sql
--! Included strategy/strategy__proposals.sql
-- Strategy fan-out: per symbol of a run and per strategy one entry proposal with its expected
-- edge after fees, its fill probability, the gates it fails and every input that went into it.
-- Reads run_symbol_state (directly and through strategy_readiness / apply_route_freshness_filter),
-- run_pairs (price tick and pair status, exchange reference data of the same run) and the policy
-- tables; never raw data. Size is not decided here (capital__position_size does that).
drop function if exists kapitaal.strategy__proposals(bigint, timestamptz, numeric, text);
create function kapitaal.strategy__proposals(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns table (
  run_id bigint,
  generation_id bigint,
  symbol text,
  strategy text,
  regime text,
  side text,
  entry_liquidity text,
  order_type text,
  post_only boolean,
  entry_price numeric,
  queue_ahead_qty numeric,
  expected_move_bps numeric,
  entry_cost_bps numeric,
  exit_cost_bps numeric,
  gross_edge_bps numeric,
  fee_bps numeric,
  adverse_selection_bps numeric,
  net_edge_bps numeric,
  fill_probability numeric,
  score numeric,
  data_ok boolean,
  selectable boolean,
  reason text,
  gates text[],
  inputs jsonb
)
language sql
stable
as $$
  with base as (
    select s.*, p.strategy, p.enabled, p.entry_liquidity, p.order_type, p.post_only, p.route_type,
           p.adverse_selection_bps, p.microprice_weight, p.reversion_weight, p.fill_horizon, p.improve_after_wait,
           p.continuation, p.flow_bps, p.min_surge, p.surge_cap,
           e.eligible, coalesce(e.signal_factor, 1) as signal_factor,
           rd.ready, rd.detail as readiness_detail,
           rf.exec_allowed, rf.reason as route_reason, rf.marker as route_marker,
           rp.price_increment as tick, rp.status as pair_status,
           fees.maker_fee_rate, fees.taker_fee_rate, fees.source as fee_source
      from kapitaal.run_symbol_state s
     cross join kapitaal.strategy_policy p
     -- the exchange's rates for the account where known, else the configured ones (fee_rates__for)
     cross join lateral kapitaal.fee_rates__for(p_account, s.symbol) fees
      left join kapitaal.strategy_regime_eligibility e on e.regime = s.regime and e.strategy = p.strategy
      left join kapitaal.strategy_readiness(p_run_id, p_now) rd on rd.symbol = s.symbol and rd.strategy = p.strategy
      left join kapitaal.apply_route_freshness_filter(p_run_id, p_now) rf
             on rf.symbol = s.symbol and rf.route_type = p.route_type
      left join kapitaal.run_pairs rp on rp.run_id = s.run_id and rp.symbol = s.symbol
     where s.run_id = p_run_id
  ),
  -- market quantities shared by all strategies
  m as (
    select b.*,
           case when b.mid > 0 then (b.microprice - b.mid) / b.mid * 10000 end as tilt_bps,
           b.quote_volume_5m - b.buy_quote_volume_5m as sell_quote_5m,
           (b.quote_volume_5m - b.buy_quote_volume_5m) / 300 as sell_quote_per_s,
           case when b.quote_volume_5m > 0 then 2 * b.buy_quote_volume_5m / b.quote_volume_5m - 1 end as flow_imbalance,
           case when b.quote_volume_5m > 0 then b.quote_volume_1m * 5 / b.quote_volume_5m end as surge,
           b.l3_bid_touch_qty * b.best_bid as touch_queue_quote
      from base b
  ),
  -- maker entry: stay at the touch or improve by one tick
  q as (
    select m.*,
           case when m.entry_liquidity = 'maker' and m.sell_quote_per_s > 0
                then m.touch_queue_quote / m.sell_quote_per_s end as touch_wait_s,
           m.tick is not null and m.best_bid + m.tick < m.best_ask as can_improve
      from m
  ),
  d as (
    select q.*,
           q.entry_liquidity = 'maker' and q.can_improve and q.touch_queue_quote > 0
             and (q.touch_wait_s is null or q.touch_wait_s > extract(epoch from q.improve_after_wait)) as improve
      from q
  ),
  ent as (
    select d.*,
           case when d.entry_liquidity = 'taker' then d.best_ask
                when d.improve then d.best_bid + d.tick
                else d.best_bid end as px,
           case when d.entry_liquidity = 'taker' then null
                when d.improve then 0::numeric
                else d.l3_bid_touch_qty end as q_ahead,
           case d.strategy
             when 'liquidity' then
               (d.microprice_weight * d.tilt_bps + d.reversion_weight * greatest(-d.ret_1m_bps, 0)) * d.signal_factor
             when 'momentum' then
               case when d.ret_5m_bps > 0 and d.trend_strength_5m > 0
                    then d.continuation * d.ret_5m_bps * d.trend_strength_5m * d.signal_factor
                    when d.ret_5m_bps is not null and d.trend_strength_5m is not null then 0 end
             when 'volume' then
               case when d.surge >= d.min_surge and d.flow_imbalance > 0
                    then d.flow_bps * d.flow_imbalance * least(d.surge, d.surge_cap) * d.signal_factor
                    when d.surge is not null and d.flow_imbalance is not null then 0 end
           end as move_raw,
           case d.strategy
             when 'momentum' then
               case when not (d.ret_5m_bps > 0 and d.trend_strength_5m > 0)
                    then format('no_signal: ret_5m %s bps, trend_strength_5m %s (long only: needs an up-move)',
                                d.ret_5m_bps, d.trend_strength_5m) end
             when 'volume' then
               case when d.surge is null or d.flow_imbalance is null
                    then 'no_signal: no trades in 5 m'
                    when d.surge < d.min_surge
                    then format('no_signal: surge %s < %s', round(d.surge, 4), d.min_surge)
                    when d.flow_imbalance <= 0
                    then format('no_signal: flow imbalance %s <= 0 (sellers dominate)', round(d.flow_imbalance, 4)) end
           end as no_signal,
           (case when d.entry_liquidity = 'maker' then d.maker_fee_rate else d.taker_fee_rate end + d.taker_fee_rate)
             * 10000 as fee_raw
      from d
  ),
  x as (
    select t.*,
           case when t.mid > 0 then (t.px - t.mid) / t.mid * 10000 end as entry_cost_raw,
           case when t.mid > 0 then (t.mid - t.best_bid) / t.mid * 10000 end as exit_cost_raw,
           case when t.entry_liquidity = 'taker' then 1::numeric
                when t.sell_quote_per_s is null or t.q_ahead is null or t.px is null then null
                when t.sell_quote_per_s <= 0 then 0::numeric
                else t.sell_quote_per_s * extract(epoch from t.fill_horizon)
                     / (t.sell_quote_per_s * extract(epoch from t.fill_horizon) + t.q_ahead * t.px
                        + greatest(coalesce(p_size_quote, 0), 0))
           end as fill_raw
      from ent t
  ),
  y as (
    select x.*,
           round(x.move_raw, 6) as move,
           round(x.entry_cost_raw, 6) as entry_cost,
           round(x.exit_cost_raw, 6) as exit_cost,
           round(x.move_raw - x.entry_cost_raw - x.exit_cost_raw, 6) as gross,
           round(x.fee_raw, 6) as fee,
           round(x.move_raw - x.entry_cost_raw - x.exit_cost_raw - x.fee_raw - x.adverse_selection_bps, 6) as net,
           round(x.fill_raw, 6) as fill
      from x
  ),
  g as (
    select y.*,
           round(y.net * y.fill, 6) as sc,
           y.regime is not null and y.ready is true and y.exec_allowed is true as data_ok,
           array_remove(array[
             case when not y.enabled then 'strategy_disabled' end,
             case when y.regime is null then 'not_ready: REGIME_NOT_ESTABLISHED: no effective regime yet'
                  when y.eligible is not true then format('regime_ineligible: %s', y.regime) end,
             case when y.ready is null then format('not_ready: NO_READINESS_POLICY for %s', y.strategy)
                  when not y.ready then 'not_ready: ' || y.readiness_detail end,
             case when y.exec_allowed is null then format('route_stale: route type %s not enabled', y.route_type)
                  when not y.exec_allowed then 'route_stale: ' || y.route_reason end,
             case when y.pair_status is not null
                   and not (y.pair_status in ('online', 'limit_only') and y.order_type = 'limit'
                            or y.pair_status = 'online'
                            or y.pair_status = 'post_only' and y.post_only)
                  then format('pair_not_tradable: status %s', y.pair_status) end,
             case when y.net is null then 'no_signal: inputs missing (book, microprice or returns)'
                  else y.no_signal end,
             case when y.net <= 0
                  then format('net_edge_not_positive: %s bps = gross %s - fees %s - adverse selection %s',
                              y.net, y.gross, y.fee, y.adverse_selection_bps) end,
             case when y.net > 0 and y.fill is null then 'fill_probability_unknown: no trade flow or queue data'
                  when y.net > 0 and y.fill <= 0 then 'fill_probability_zero: no sell flow to fill a bid' end
           ], null) as gates
      from y
  )
  select g.run_id, g.generation_id, g.symbol, g.strategy, g.regime, 'buy'::text, g.entry_liquidity, g.order_type,
         g.post_only, g.px, g.q_ahead, g.move, g.entry_cost, g.exit_cost, g.gross, g.fee, g.adverse_selection_bps,
         g.net, g.fill, g.sc, g.data_ok, cardinality(g.gates) = 0, g.gates[1], g.gates,
         jsonb_build_object(
           'state', jsonb_build_object(
             'generation_id', g.generation_id, 'refreshed_at', g.refreshed_at, 'regime', g.regime,
             'mid', g.mid, 'best_bid', g.best_bid, 'best_ask', g.best_ask, 'spread_bps', g.spread_bps,
             'microprice', g.microprice, 'book_imbalance', g.book_imbalance,
             'l3_bid_touch_qty', g.l3_bid_touch_qty, 'l3_bid_touch_orders', g.l3_bid_touch_orders,
             'ret_1m_bps', g.ret_1m_bps, 'ret_5m_bps', g.ret_5m_bps, 'vol_5m_bps', g.vol_5m_bps,
             'trend_strength_5m', g.trend_strength_5m, 'quote_volume_1m', g.quote_volume_1m,
             'quote_volume_5m', g.quote_volume_5m, 'buy_quote_volume_5m', g.buy_quote_volume_5m,
             'ask_depth_10bps_quote', g.ask_depth_10bps_quote),
           'derived', jsonb_build_object(
             'microprice_tilt_bps', round(g.tilt_bps, 6), 'flow_imbalance', round(g.flow_imbalance, 6),
             'surge', round(g.surge, 6), 'sell_quote_per_s', round(g.sell_quote_per_s, 6),
             'touch_queue_quote', g.touch_queue_quote, 'touch_wait_s', round(g.touch_wait_s, 3),
             'tick', g.tick, 'can_improve', g.can_improve, 'improved_one_tick', g.improve,
             'queue_ahead_quote', g.q_ahead * g.px, 'size_quote', p_size_quote),
           'policy', jsonb_build_object(
             'signal_factor', g.signal_factor, 'regime_eligible', g.eligible,
             'microprice_weight', g.microprice_weight, 'reversion_weight', g.reversion_weight,
             'fill_horizon_s', extract(epoch from g.fill_horizon), 'improve_after_wait_s', extract(epoch from g.improve_after_wait),
             'continuation', g.continuation, 'flow_bps', g.flow_bps, 'min_surge', g.min_surge, 'surge_cap', g.surge_cap,
             'adverse_selection_bps', g.adverse_selection_bps),
           'fees', jsonb_build_object(
             'maker_fee_rate', g.maker_fee_rate, 'taker_fee_rate', g.taker_fee_rate, 'source', g.fee_source,
             'entry', g.entry_liquidity, 'exit', 'taker'),
           'gates', jsonb_build_object(
             'readiness', g.readiness_detail, 'route_type', g.route_type, 'route', g.route_reason,
             'route_marker', g.route_marker, 'pair_status', g.pair_status),
           'now', p_now)
    from g
   order by g.symbol, g.strategy
$$;
comment on function kapitaal.strategy__proposals(bigint, timestamptz, numeric, text) is
  'Strategy fan-out of a run: per symbol in run_symbol_state and per strategy in strategy_policy one long entry '
  'proposal (side buy) with entry price (liquidity: best bid, or best bid + one tick when the touch queue is long and '
  'the spread is at least two ticks; momentum/volume: best ask), expected move, gross edge (move - entry cost - taker '
  'exit cost, bps of mid), fees (entry maker or taker + exit taker, rates from fee_rates__for(p_account, symbol): the '
  'exchange''s when known, else capital_policy''s), net edge '
  '(gross - fees - adverse selection), fill probability (maker: sell flow over fill_horizon / (flow + queue ahead + '
  'p_size_quote); taker: 1) and score = net edge x fill probability. gates lists every reason it may not be selected '
  '(strategy_disabled, regime_ineligible, not_ready, route_stale, pair_not_tradable, no_signal, net_edge_not_positive, '
  'fill_probability_zero); reason is the first; selectable when there is none. inputs holds every number used. '
  'Writes nothing.';
--! EndIncluded strategy/strategy__proposals.sql
--! Included strategy/grants.sql
-- Least privilege for the strategy layer. Roles come from migrations/roles.sql.
-- Execution (the evaluation runs as it): reads policies and rankings, runs the scoring, appends rankings.
-- Read-only: reads everything and may run the read-only scoring functions to explain a decision.
revoke all on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text) from public;

grant select on kapitaal.strategy_policy, kapitaal.strategy_regime_eligibility, kapitaal.evaluation_rankings
  to kapitaal_execution, kapitaal_readonly;
grant insert on kapitaal.evaluation_rankings to kapitaal_execution;
grant execute on function
  kapitaal.strategy__proposals(bigint, timestamptz, numeric, text),
  kapitaal.strategy__rank(bigint, timestamptz, numeric, text),
  kapitaal.strategy__select_top(bigint, timestamptz, numeric, text)
  to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text)
  to kapitaal_execution;
--! EndIncluded strategy/grants.sql
--! Included orders/order__maker_fallback.sql
-- Maker fallback: a post-only entry still unfilled after order_policy.maker_wait is cancelled, and the
-- unfilled rest goes out as a taker order only when the edge, recomputed from current state, still
-- pays the taker fee on entry (and on the exit, as every proposal assumes).
create table if not exists kapitaal.maker_fallbacks (
  order_id bigint primary key references kapitaal.orders (order_id) on delete restrict,
  decided_at timestamptz not null,
  action text not null check (action in ('taker', 'cancel')),
  reason text not null,
  details jsonb not null,
  fallback_order_id bigint references kapitaal.orders (order_id) on delete restrict,
  constraint maker_fallbacks_order_iff_taker check ((action = 'taker') = (fallback_order_id is not null))
);
comment on table kapitaal.maker_fallbacks is
  'What became of each maker (post-only) entry that did not fill in time: replaced by a taker order (action taker, '
  'fallback_order_id) or only cancelled, with the recomputed taker edge and every input in details. One row per maker order.';
comment on column kapitaal.maker_fallbacks.order_id is
  'The post-only entry order that did not fill in time (orders.order_id).';
comment on column kapitaal.maker_fallbacks.decided_at is 'p_now of order__maker_fallback.';
comment on column kapitaal.maker_fallbacks.action is
  'taker: the unfilled rest went out as a market order (fallback_order_id); cancel: nothing replaced it.';
comment on column kapitaal.maker_fallbacks.reason is 'Why this action, with the deciding numbers (edge, fee, age).';
comment on column kapitaal.maker_fallbacks.details is
  'order__maker_fallback_decision''s inputs and recomputed taker edge, plus the conformed terms of a taker order, as JSON.';
comment on column kapitaal.maker_fallbacks.fallback_order_id is
  'The taker order that replaced the rest (orders.order_id); null when action = cancel.';

create or replace function kapitaal.order__maker_fallback_decision(p_order_id bigint, p_now timestamptz default now())
returns table (action text, reason text, details jsonb)
language plpgsql
stable
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_pol kapitaal.order_policy;
  v_prop record;
  v_st kapitaal.run_symbol_state;
  v_taker numeric;
  v_rest numeric;
  v_age interval;
  v_entry_cost numeric;
  v_fee numeric;
  v_net numeric;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id;
  if not found then
    raise exception 'order__maker_fallback_decision: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  v_pol := kapitaal.order_policy__for(v_order.strategy);
  v_age := p_now - v_order.created_at;
  v_rest := v_order.qty - v_order.filled_qty;
  details := jsonb_build_object('order_id', p_order_id, 'status', v_order.status, 'age', v_age,
                                'maker_wait', v_pol.maker_wait, 'unfilled_qty', v_rest);
  if v_order.purpose <> 'entry' or not v_order.post_only then
    action := 'none'; reason := 'NOT_MAKER: only post-only entries have a maker fallback';
    return next; return;
  end if;
  if v_rest <= 0 or v_order.status = 'filled' then
    action := 'none'; reason := 'FILLED: nothing left to fall back with';
    return next; return;
  end if;
  if v_order.status in ('new', 'submitting') then
    action := 'wait'; reason := format('NOT_WORKING: order is %s', v_order.status);
    return next; return;
  end if;
  if v_order.status in ('open', 'partially_filled') and v_age < v_pol.maker_wait then
    action := 'wait';
    reason := format('MAKER_WAITING: %s of %s waited', v_age, v_pol.maker_wait);
    return next; return;
  end if;
  if not v_pol.maker_fallback_to_taker then
    action := 'cancel';
    reason := format('MAKER_WAIT_EXPIRED: unfilled after %s; taker fallback disabled for %s', v_age, v_order.strategy);
    return next; return;
  end if;

  select * into v_st from kapitaal.run_symbol_state s where s.run_id = v_order.run_id and s.symbol = v_order.symbol;
  select p.* into v_prop from kapitaal.strategy__proposals(v_order.run_id, p_now) p
   where p.symbol = v_order.symbol and p.strategy = v_order.strategy;
  -- The same rates the proposal used (the exchange's for the account where known).
  select f.taker_fee_rate into v_taker from kapitaal.fee_rates__for(v_order.account, v_order.symbol) f;
  if v_prop.symbol is null or v_st.symbol is null or not v_prop.data_ok or v_st.mid is null or v_st.best_ask is null then
    action := 'cancel';
    reason := format('MAKER_WAIT_EXPIRED: unfilled after %s; current state of %s is not usable for a taker decision (%s)',
                     v_age, v_order.symbol, coalesce(v_prop.reason, 'no state row for run ' || v_order.run_id));
    details := details || jsonb_build_object('proposal_reason', v_prop.reason, 'data_ok', v_prop.data_ok);
    return next; return;
  end if;
  -- The proposal's own model, with a taker entry: move - entry cost at the ask - exit cost - taker fee on
  -- both legs - adverse selection.
  v_entry_cost := (v_st.best_ask - v_st.mid) / v_st.mid * 10000;
  v_fee := 2 * v_taker * 10000;
  v_net := round(v_prop.expected_move_bps - v_entry_cost - v_prop.exit_cost_bps - v_fee - v_prop.adverse_selection_bps, 6);
  details := details || jsonb_build_object(
    'generation_id', v_st.generation_id, 'mid', v_st.mid, 'best_ask', v_st.best_ask,
    'expected_move_bps', v_prop.expected_move_bps, 'taker_entry_cost_bps', round(v_entry_cost, 6),
    'exit_cost_bps', v_prop.exit_cost_bps, 'taker_fee_bps', v_fee, 'adverse_selection_bps', v_prop.adverse_selection_bps,
    'taker_net_edge_bps', v_net, 'maker_net_edge_bps', v_prop.net_edge_bps, 'taker_fee_rate', v_taker);
  if v_net > 0 then
    action := 'cancel_and_taker';
    reason := format('MAKER_FALLBACK_TAKER: unfilled after %s; taker edge %s bps = move %s - entry %s - exit %s - fees %s - adverse %s > 0',
                     v_age, v_net, v_prop.expected_move_bps, round(v_entry_cost, 6), v_prop.exit_cost_bps, v_fee,
                     v_prop.adverse_selection_bps);
  else
    action := 'cancel';
    reason := format('MAKER_FALLBACK_CANCEL: unfilled after %s; taker edge %s bps = move %s - entry %s - exit %s - fees %s - adverse %s does not pay the taker fee',
                     v_age, v_net, v_prop.expected_move_bps, round(v_entry_cost, 6), v_prop.exit_cost_bps, v_fee,
                     v_prop.adverse_selection_bps);
  end if;
  return next;
end
$$;
comment on function kapitaal.order__maker_fallback_decision(bigint, timestamptz) is
  'For a post-only entry: wait (younger than order_policy.maker_wait, or not working yet), none (filled / not a maker '
  'entry), cancel, or cancel_and_taker. The taker case requires the edge recomputed from the current state of the '
  'order''s run (strategy__proposals: expected move, exit cost, adverse selection; run_symbol_state: ask and mid; '
  'capital_policy taker fee on entry and exit) to be positive. Reads only; order__maker_fallback acts.';

create or replace function kapitaal.order__maker_fallback(p_order_id bigint, p_now timestamptz default now())
returns kapitaal.maker_fallbacks
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_done kapitaal.maker_fallbacks;
  v_order kapitaal.orders;
  v_dec record;
  v_pol kapitaal.order_policy;
  v_st kapitaal.run_symbol_state;
  v_pair kapitaal.run_pairs;
  v_lim record;
  v_action text;
  v_reason text;
  v_details jsonb;
  v_new_id bigint;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__maker_fallback: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  select * into v_done from kapitaal.maker_fallbacks m where m.order_id = p_order_id;
  if found then
    return v_done;
  end if;
  if v_order.status not in ('cancelled', 'expired') then
    raise exception 'order__maker_fallback: order % is %; cancel it on the exchange first', p_order_id, v_order.status
      using errcode = '55000';
  end if;
  select * into v_dec from kapitaal.order__maker_fallback_decision(p_order_id, p_now);
  if v_dec.action = 'none' or v_dec.action = 'wait' then
    return null;
  end if;
  v_pol := kapitaal.order_policy__for(v_order.strategy);
  v_action := 'cancel';
  v_reason := v_dec.reason;
  v_details := v_dec.details;
  if v_dec.action = 'cancel_and_taker' then
    if p_now - v_order.updated_at > v_pol.maker_fallback_window then
      v_reason := format('MAKER_FALLBACK_TOO_LATE: cancelled %s ago > %s; %s', p_now - v_order.updated_at,
                         v_pol.maker_fallback_window, v_dec.reason);
    else
      select * into v_st from kapitaal.run_symbol_state s where s.run_id = v_order.run_id and s.symbol = v_order.symbol;
      select * into v_pair from kapitaal.run_pairs rp where rp.run_id = v_order.run_id and rp.symbol = v_order.symbol;
      if v_pair.symbol is null then
        v_reason := format('UNKNOWN_PAIR: %s; but %s has no run_pairs row for run %s', v_dec.reason, v_order.symbol, v_order.run_id);
      else
        select * into v_lim from kapitaal.order__conform_to_limits('buy', v_st.best_ask, v_order.qty - v_order.filled_qty,
                                                                   v_pair.price_increment, v_pair.qty_increment,
                                                                   v_pair.qty_min, v_pair.cost_min);
        v_details := v_details || jsonb_build_object('conformed', to_jsonb(v_lim));
        if not v_lim.ok then
          v_reason := format('LIMITS_%s: %s; but the unfilled rest %s fails the pair limits', upper(v_lim.reason), v_dec.reason,
                             trim_scale(v_order.qty - v_order.filled_qty));
        else
          select i.order_id into v_new_id
            from kapitaal.order__create_intent(
              p_client_order_id => kapitaal.order__client_id('maker_fallback', p_order_id, '0'),
              p_run_id => v_order.run_id,
              p_symbol => v_order.symbol,
              p_side => 'buy',
              p_order_type => 'market',
              p_qty => trim_scale(v_lim.qty),
              p_price => null,
              p_strategy => v_order.strategy,
              p_purpose => 'entry',
              p_reason => format('taker fallback of maker order %s: %s', p_order_id, v_dec.reason),
              p_evaluation_id => v_order.evaluation_id,
              p_generation_id => v_st.generation_id,
              p_reference_price => v_st.best_ask,
              p_regime => v_st.regime,
              p_account => v_order.account,
              p_now => p_now) i;
          v_action := 'taker';
        end if;
      end if;
    end if;
  end if;
  insert into kapitaal.maker_fallbacks (order_id, decided_at, action, reason, details, fallback_order_id)
  values (p_order_id, p_now, v_action, v_reason, v_details, v_new_id)
  returning * into v_done;
  return v_done;
end
$$;
comment on function kapitaal.order__maker_fallback(bigint, timestamptz) is
  'After the maker entry was cancelled (or expired) on the exchange: decides again (order__maker_fallback_decision) '
  'and, when the taker edge still pays, writes a market buy of the unfilled rest (conformed to the pair''s limits) '
  'with client id order__client_id(''maker_fallback'', order id, ''0'') through order__create_intent; otherwise '
  'records the cancel with its reason. One row per maker order in maker_fallbacks (idempotent). Raises 55000 while '
  'the order is still working.';
--! EndIncluded orders/order__maker_fallback.sql
--! Included orders/execution_jobs__ensure.sql
-- Starts the execution cadences (each task re-queues itself with its job key afterwards).
create or replace function kapitaal.execution_jobs__ensure(p_now timestamptz default now())
returns table (task text, job_id bigint, run_at timestamptz)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_task text;
  v_id bigint;
  v_run_at timestamptz;
begin
  foreach v_task in array array['order__reconcile', 'exits__scan', 'capital__snapshot', 'capital__fee_rates'] loop
    -- preserve_run_at: an existing pending cycle keeps its schedule; a missing one starts now.
    select j.id, j.run_at into v_id, v_run_at
      from graphile_worker.add_job(v_task, '{}'::json, job_key => v_task, run_at => p_now,
                                   max_attempts => 3, job_key_mode => 'preserve_run_at') j;
    return query select v_task, v_id, v_run_at;
  end loop;
end
$$;
comment on function kapitaal.execution_jobs__ensure(timestamptz) is
  'Queues the execution cadence jobs order__reconcile, exits__scan, capital__snapshot and capital__fee_rates (job key = task name) unless one is pending '
  '(its run_at is kept). Each run re-queues itself with run_at = now + cadence. Safe to call on every start.';
--! EndIncluded orders/execution_jobs__ensure.sql
