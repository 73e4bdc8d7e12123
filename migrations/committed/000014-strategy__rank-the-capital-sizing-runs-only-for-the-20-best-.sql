--! Previous: sha1:935e022e8077e7e510f7a5eeeacf0248fd56be29
--! Hash: sha1:7b16df17f5be9e8d5d0e5b0212d5995863f5de98
--! Message: strategy__rank: the capital sizing runs only for the 20 best selectable proposals (offset 0 keeps the lateral from being pulled up)

--! split: 1-current.sql
-- Enter migration here

--! split: 3-rank-offset.sql
--! Included strategy/strategy__rank.sql
-- Competitive scoring: every proposal of a run (all strategies, all pairs) in one ranking by
-- score = net edge x fill probability. Strategy competes against strategy, across pairs; among the
-- selectable proposals those that capital and the pair's limits allow to place come first.
drop function if exists kapitaal.strategy__rank(bigint, timestamptz, numeric, text);
create function kapitaal.strategy__rank(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns table (
  rank integer,
  selected boolean,
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
  gross_edge_bps numeric,
  fee_bps numeric,
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
  with pr as (
    select x.*,
           row_number() over (order by x.selectable desc, x.score desc nulls last, x.net_edge_bps desc nulls last,
                                       x.symbol, x.strategy) as by_score
      from kapitaal.strategy__proposals(p_run_id, p_now, p_size_quote, p_account) x
  ),
  -- Capital room of the 20 best selectable proposals (sized and conformed exactly as evaluation__place_orders
  -- will): a pair already held at its cap must not stay top-1 forever while the next best could trade.
  -- The sizing (~0.15 ms a call) runs for those only; beyond the 20th the room is unknown, and placement
  -- still checks it.
  sized as (
    select pr.*, cs.room_ok, cs.room_detail
      from pr
      left join lateral (
        select l.ok as room_ok,
               jsonb_build_object('quote_size', z.quote_size, 'qty', l.qty, 'sizing', z.reason, 'limits', l.reason,
                                  'position_room', z.position_room, 'total_room', z.total_room,
                                  'qty_min', rp.qty_min, 'cost_min', rp.cost_min) as room_detail
          from kapitaal.run_pairs rp
         cross join lateral kapitaal.capital__position_size(pr.symbol, pr.entry_price, p_now, p_account) z
         cross join lateral kapitaal.order__conform_to_limits(pr.side, pr.entry_price, z.qty, rp.price_increment,
                                                              rp.qty_increment, rp.qty_min, rp.cost_min) l
         where pr.selectable and pr.by_score <= 20 and rp.run_id = pr.run_id and rp.symbol = pr.symbol
        -- offset 0 keeps this subquery from being pulled up into the join: only then is the condition on the
        -- outer row a one-time filter evaluated before the sizing runs (pulled up, it ran for every proposal).
        offset 0
      ) cs on true
  ),
  p as (
    select sz.*,
           -- Without a run_pairs row the room is unknown (placement then refuses: UNKNOWN_PAIR): not demoted here.
           row_number() over (order by sz.selectable desc, coalesce(sz.room_ok, true) desc, sz.score desc nulls last,
                                       sz.net_edge_bps desc nulls last, sz.symbol, sz.strategy)::integer as rk
      from sized sz
  ),
  w as (select p.* from p where p.rk = 1 and p.selectable)
  select p.rk, p.rk = 1 and p.selectable, p.run_id, p.generation_id, p.symbol, p.strategy, p.regime, p.side,
         p.entry_liquidity, p.order_type, p.post_only, p.entry_price, p.queue_ahead_qty, p.expected_move_bps,
         p.gross_edge_bps, p.fee_bps, p.net_edge_bps, p.fill_probability, p.score, p.data_ok, p.selectable,
         case when not p.selectable then p.reason
              when not coalesce(p.room_ok, true) then
                format('no_capital_room: %s quote (%s) for %s fails its limits (%s; qty_min %s, cost_min %s)',
                       trim_scale(round((p.room_detail->>'quote_size')::numeric, 8)), p.room_detail->>'sizing', p.symbol,
                       p.room_detail->>'limits', p.room_detail->>'qty_min', p.room_detail->>'cost_min')
              when p.rk = 1 then format('selected: best score %s of %s selectable proposals', p.score,
                                        (select count(*) from p p2 where p2.selectable))
              else format('lower_score_than %s/%s: score %s < %s', w.strategy, w.symbol, p.score, w.score)
         end,
         case when p.selectable and not coalesce(p.room_ok, true) then p.gates || array['no_capital_room'] else p.gates end,
         case when p.room_detail is null then p.inputs else p.inputs || jsonb_build_object('capital_room', p.room_detail) end
    from p
    left join w on true
   order by p.rk
$$;
comment on function kapitaal.strategy__rank(bigint, timestamptz, numeric, text) is
  'All proposals of strategy__proposals in one ranking across strategies and pairs: selectable ones first, by score '
  '(net edge bps x fill probability) descending, ties by net edge, symbol, strategy. Rank 1, if selectable, is '
  'selected; every other proposal says why it lost: lower_score_than <strategy>/<symbol> (selectable but beaten), '
  'no_capital_room: ... (one of the 20 best selectable proposals, but sized by capital__position_size and conformed to '
  'the pair''s limits as evaluation__place_orders would, no order is possible: e.g. the pair is held at its position '
  'cap; such proposals rank after every selectable one with room, and win only when none has room) or its first gate '
  '(regime_ineligible, not_ready: ..., route_stale: ..., net_edge_not_positive, ...). Writes nothing.';
--! EndIncluded strategy/strategy__rank.sql
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
