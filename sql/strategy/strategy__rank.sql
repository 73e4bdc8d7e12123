-- Competitive scoring: every proposal of a run (all strategies, all pairs) in one ranking by
-- score = net edge x fill probability. Strategy competes against strategy, across pairs.
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
  with p as (
    select pr.*,
           row_number() over (order by pr.selectable desc, pr.score desc nulls last, pr.net_edge_bps desc nulls last,
                                       pr.symbol, pr.strategy)::integer as rk
      from kapitaal.strategy__proposals(p_run_id, p_now, p_size_quote, p_account) pr
  ),
  w as (select p.* from p where p.rk = 1 and p.selectable)
  select p.rk, p.rk = 1 and p.selectable, p.run_id, p.generation_id, p.symbol, p.strategy, p.regime, p.side,
         p.entry_liquidity, p.order_type, p.post_only, p.entry_price, p.queue_ahead_qty, p.expected_move_bps,
         p.gross_edge_bps, p.fee_bps, p.net_edge_bps, p.fill_probability, p.score, p.data_ok, p.selectable,
         case when not p.selectable then p.reason
              when p.rk = 1 then format('selected: best score %s of %s selectable proposals', p.score,
                                        (select count(*) from p p2 where p2.selectable))
              else format('lower_score_than %s/%s: score %s < %s', w.strategy, w.symbol, p.score, w.score)
         end,
         p.gates, p.inputs
    from p
    left join w on true
   order by p.rk
$$;
comment on function kapitaal.strategy__rank(bigint, timestamptz, numeric, text) is
  'All proposals of strategy__proposals in one ranking across strategies and pairs: selectable ones first, by score '
  '(net edge bps x fill probability) descending, ties by net edge, symbol, strategy. Rank 1, if selectable, is '
  'selected; every other proposal says why it lost: lower_score_than <strategy>/<symbol> (selectable but beaten) or '
  'its first gate (regime_ineligible, not_ready: ..., route_stale: ..., net_edge_not_positive, ...). Writes nothing.';
