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
