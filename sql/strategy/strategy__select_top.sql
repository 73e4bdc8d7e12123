-- Top-1 per evaluation: the winner of strategy__rank, or one row saying why there is none.
drop function if exists kapitaal.strategy__select_top(bigint, timestamptz, numeric, text);
create function kapitaal.strategy__select_top(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns table (
  outcome text,
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
  gross_edge_bps numeric,
  fee_bps numeric,
  net_edge_bps numeric,
  fill_probability numeric,
  score numeric,
  proposals integer,
  selectable_proposals integer,
  reason text,
  inputs jsonb
)
language sql
stable
as $$
  with r as (
    select * from kapitaal.strategy__rank(p_run_id, p_now, p_size_quote, p_account)
  ),
  c as (
    select count(*)::integer as n, count(*) filter (where r.selectable)::integer as n_sel,
           count(*) filter (where r.data_ok)::integer as n_data_ok,
           max(r.generation_id) as generation_id
      from r
  )
  select 'selected', r.run_id, r.generation_id, r.symbol, r.strategy, r.regime, r.side, r.entry_liquidity,
         r.order_type, r.post_only, r.entry_price, r.queue_ahead_qty, r.gross_edge_bps, r.fee_bps, r.net_edge_bps,
         r.fill_probability, r.score, c.n, c.n_sel, r.reason, r.inputs
    from r cross join c
   where r.selected
  union all
  select case when c.n_data_ok = 0 then 'data_blocked' else 'economically_empty' end,
         p_run_id, c.generation_id, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
         c.n, 0,
         case when c.n = 0 then 'data_blocked: no run_symbol_state rows for this run'
              when c.n_data_ok = 0 then format('data_blocked: none of %s proposals passed readiness, regime and route freshness', c.n)
              else format('economically_empty: %s proposals, %s with usable data, none with positive net edge after fees '
                          'in an eligible regime', c.n, c.n_data_ok) end,
         jsonb_build_object('reasons', (select jsonb_object_agg(x.k, x.n) from (
           select split_part(r.reason, ':', 1) as k, count(*) as n from r group by 1) x), 'now', p_now)
    from c
   where c.n_sel = 0
$$;
comment on function kapitaal.strategy__select_top(bigint, timestamptz, numeric, text) is
  'Exactly one row: the rank-1 selectable proposal of strategy__rank (outcome selected), or no winner with outcome '
  'data_blocked (no state, or no proposal with a regime, ready data and a fresh route) or economically_empty (data '
  'usable but nothing with positive net edge after fees in an eligible regime); inputs then counts the losers per '
  'reason. Writes nothing; evaluation_rankings__record stores the whole ranking.';
