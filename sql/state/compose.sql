-- Builds the metric columns of run_symbol_state in two steps:
--   state__window_cache  the window aggregates of a symbol from its buckets (one pass over the
--                        window's buckets in (symbol, bucket_start) order): the definition;
--   state__compose_cached the state row from state_symbol_latest, whose w_* columns hold those
--                        aggregates (kept up to date by deltas in state__merge, or recomputed).
-- The recomputation oracle always takes the first path for every symbol, the refresh only
-- for symbols whose cache is stale, so the oracle test checks the delta path.

drop function if exists kapitaal.state__compose(bigint, timestamptz);

create or replace function kapitaal.state__window_cache(p_run_id bigint, p_now timestamptz, p_stale_only boolean)
returns table (
  symbol text, w_first5_start timestamptz, w_first1_start timestamptz, w_fp5_start timestamptz, w_fp1_start timestamptz,
  w_last_start timestamptz, w_last_close numeric, w_prev_close numeric, w_last_r numeric,
  w_n5 integer, w_open5 numeric, w_open1 numeric, w_close_last numeric, w_ss5 numeric, w_sa5 numeric, w_ss1 numeric,
  w_trades_1m integer, w_trades_5m integer, w_qv_1m numeric, w_qv_5m numeric, w_buy_qv_5m numeric,
  w_min_id bigint, w_max_id bigint, w_l2_bad_1m integer, w_l2_bad_5m integer, w_l2_snap_5m integer,
  w_l3_bad_1m integer, w_touch_1m integer
)
language sql
stable
as $$
  with bounds as materialized (
    select * from kapitaal.state__windows(p_now)
  ), syms as materialized (
    select l.symbol
      from kapitaal.state_symbol_latest l, bounds bo
     where l.run_id = p_run_id and (not p_stale_only or l.w_now is distinct from bo.bucket_now)
  ), b as (
    -- the window's buckets and any beyond bucket_now (rows received after p_now): those are
    -- outside every window but the newest bucket is remembered for the delta path
    select s.symbol, s.bucket_start,
           s.bucket_start <= bo.bucket_now as in_5m,
           s.bucket_start >= bo.from_1m and s.bucket_start <= bo.bucket_now as in_1m,
           s.trade_n, s.trade_quote_volume, s.trade_buy_quote_volume, s.trade_min_id, s.trade_max_id,
           s.l2_bad_n, s.l2_snapshot_n, s.l3_bad_n, s.l3_touch_adds + s.l3_touch_deletes as touch,
           -- the price path: first and last mid of the bucket, from valid L2 books, else from the ticker
           nullif(case when s.l2_close is not null then s.l2_open[3] else s.ticker_open[3] end, 0) as p_open,
           nullif(case when s.l2_close is not null then s.l2_close[3] else s.ticker_close[3] end, 0) as p_close
      from bounds bo
      join kapitaal.state_buckets s on s.run_id = p_run_id and s.bucket_start >= bo.from_5m
     where s.symbol in (select y.symbol from syms y)
  ), wdw as (
    select b.*,
           lag(b.p_close) over win as prev_close,
           lag(b.bucket_start) over win as prev_start,
           count(b.p_close) over win as n_upto,
           count(b.p_close) filter (where b.in_1m) over win as n1_upto,
           row_number() over win = count(*) over (partition by b.symbol) as newest
      from b
    window win as (partition by b.symbol order by b.bucket_start)
  ), r as (
    -- Return of a priced bucket: from the previous bucket's close, or from its own open when
    -- it is the first bucket of the window or follows a bucket without a price.
    select w.*,
           case when w.p_close is not null then coalesce(w.p_close / w.prev_close, w.p_close / w.p_open) - 1 end as r5,
           case when w.p_close is not null and w.in_1m then
             coalesce(case when w.prev_start >= (select from_1m from bounds) then w.p_close / w.prev_close end,
                      w.p_close / w.p_open) - 1
           end as r1
      from wdw w
  ), ag as materialized (
    select r.symbol,
           min(r.bucket_start) filter (where r.in_5m) as first5,
           min(r.bucket_start) filter (where r.in_1m) as first1,
           min(r.bucket_start) filter (where r.in_5m and r.p_close is not null) as fp5,
           min(r.bucket_start) filter (where r.in_1m and r.p_close is not null) as fp1,
           max(r.bucket_start) as last_start,
           max(r.p_close) filter (where r.newest) as last_close,
           max(r.prev_close) filter (where r.newest) as prev_close,
           max(r.r5) filter (where r.newest) as last_r,
           count(r.p_close) filter (where r.in_5m) as n5,
           max(r.p_open) filter (where r.in_5m and r.p_close is not null and r.n_upto = 1) as open5,
           max(r.p_open) filter (where r.p_close is not null and r.in_1m and r.n1_upto = 1) as open1,
           -- close of the last priced bucket: bucket_start is unique per symbol, so the array
           -- comparison is decided by the epoch
           (max(array[extract(epoch from r.bucket_start), r.p_close]) filter (where r.in_5m and r.p_close is not null))[2] as close_last,
           sum(r.r5 * r.r5) filter (where r.in_5m) as ss5,
           sum(abs(r.r5)) filter (where r.in_5m) as sa5,
           sum(r.r1 * r.r1) as ss1,
           coalesce(sum(r.trade_n) filter (where r.in_1m), 0) as trades_1m,
           coalesce(sum(r.trade_n) filter (where r.in_5m), 0) as trades_5m,
           coalesce(sum(r.trade_quote_volume) filter (where r.in_1m), 0) as qv_1m,
           coalesce(sum(r.trade_quote_volume) filter (where r.in_5m), 0) as qv_5m,
           coalesce(sum(r.trade_buy_quote_volume) filter (where r.in_5m), 0) as buy_qv_5m,
           min(r.trade_min_id) filter (where r.in_5m) as min_id,
           max(r.trade_max_id) filter (where r.in_5m) as max_id,
           coalesce(sum(r.l2_bad_n) filter (where r.in_1m), 0) as l2_bad_1m,
           coalesce(sum(r.l2_bad_n) filter (where r.in_5m), 0) as l2_bad_5m,
           coalesce(sum(r.l2_snapshot_n) filter (where r.in_5m), 0) as l2_snap_5m,
           coalesce(sum(r.l3_bad_n) filter (where r.in_1m), 0) as l3_bad_1m,
           coalesce(sum(r.touch) filter (where r.in_1m), 0) as touch_1m
      from r
     group by r.symbol
  )
  select y.symbol, ag.first5, ag.first1, ag.fp5, ag.fp1, ag.last_start, ag.last_close, ag.prev_close, ag.last_r,
         -- sums of numerics without trailing zeros: then a sum kept by additions and subtractions
         -- (state__merge, state__window_advance) has the same text as this one
         coalesce(ag.n5, 0)::integer, ag.open5, ag.open1, ag.close_last,
         trim_scale(ag.ss5), trim_scale(ag.sa5), trim_scale(ag.ss1),
         coalesce(ag.trades_1m, 0)::integer, coalesce(ag.trades_5m, 0)::integer,
         trim_scale(coalesce(ag.qv_1m, 0)), trim_scale(coalesce(ag.qv_5m, 0)), trim_scale(coalesce(ag.buy_qv_5m, 0)),
         ag.min_id, ag.max_id,
         coalesce(ag.l2_bad_1m, 0)::integer, coalesce(ag.l2_bad_5m, 0)::integer, coalesce(ag.l2_snap_5m, 0)::integer,
         coalesce(ag.l3_bad_1m, 0)::integer, coalesce(ag.touch_1m, 0)::integer
    from syms y
    left join ag on ag.symbol = y.symbol
$$;
comment on function kapitaal.state__window_cache(bigint, timestamptz, boolean) is
  'The window aggregates (state_symbol_latest.w_*) of every symbol of a run at p_now, or only of those whose cache is '
  'stale (p_stale_only), computed from their state_buckets in one pass: the definition the delta path of state__merge '
  'must agree with. Cost: O(buckets of the symbols asked for).';

create or replace function kapitaal.state__window_cache_refresh(p_run_id bigint, p_now timestamptz, p_stale_only boolean)
returns integer
language plpgsql
volatile
-- Joins by symbol over whole sets: a nested loop chosen on a row estimate of 1 (a fresh run,
-- the recomputation's scratch key) would re-run the window pass per symbol.
set enable_nestloop = off
as $$
declare
  v_now timestamptz := (select w.bucket_now from kapitaal.state__windows(p_now) w);
  v_n integer;
begin
  update kapitaal.state_symbol_latest l
     set w_now = v_now, w_first5_start = a.w_first5_start, w_first1_start = a.w_first1_start,
         w_fp5_start = a.w_fp5_start, w_fp1_start = a.w_fp1_start, w_last_start = a.w_last_start,
         w_last_close = a.w_last_close, w_prev_close = a.w_prev_close, w_last_r = a.w_last_r,
         w_n5 = a.w_n5, w_open5 = a.w_open5, w_open1 = a.w_open1, w_close_last = a.w_close_last,
         w_ss5 = a.w_ss5, w_sa5 = a.w_sa5, w_ss1 = a.w_ss1,
         w_trades_1m = a.w_trades_1m, w_trades_5m = a.w_trades_5m, w_qv_1m = a.w_qv_1m, w_qv_5m = a.w_qv_5m,
         w_buy_qv_5m = a.w_buy_qv_5m, w_min_id = a.w_min_id, w_max_id = a.w_max_id,
         w_l2_bad_1m = a.w_l2_bad_1m, w_l2_bad_5m = a.w_l2_bad_5m, w_l2_snap_5m = a.w_l2_snap_5m,
         w_l3_bad_1m = a.w_l3_bad_1m, w_touch_1m = a.w_touch_1m
    from kapitaal.state__window_cache(p_run_id, p_now, p_stale_only) a
   where l.run_id = p_run_id and l.symbol = a.symbol;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
comment on function kapitaal.state__window_cache_refresh(bigint, timestamptz, boolean) is
  'Recomputes the window cache (w_* columns of state_symbol_latest) of a run at p_now from its buckets: for every symbol '
  '(the recomputation) or only for stale ones (the refresh). Returns the number of symbols recomputed.';

create or replace function kapitaal.state__compose_cached(p_run_id bigint)
returns setof kapitaal.run_symbol_state
language sql
stable
as $$
  select p_run_id, q.symbol, null::bigint, null::timestamptz,
         q.ticker_at, q.trade_at, q.l2_at, q.l3_at,
         case when x.has_l2 then 'l2' when x.bid is not null and x.ask is not null then 'ticker' end,
         x.bid, x.ask, (x.bid + x.ask) * 0.5,
         round((x.ask - x.bid) / nullif((x.bid + x.ask) * 0.5, 0) * 10000, 4),
         round((q.l2_best_bid * q.l2_ask_qty + q.l2_best_ask * q.l2_bid_qty) / nullif(q.l2_bid_qty + q.l2_ask_qty, 0), 12),
         q.l2_bid_depth_10bps, q.l2_ask_depth_10bps, q.l2_bid_depth_50bps, q.l2_ask_depth_50bps,
         round((q.l2_bid_depth_50bps - q.l2_ask_depth_50bps) / nullif(q.l2_bid_depth_50bps + q.l2_ask_depth_50bps, 0), 6),
         q.l2_checksum_ok,
         q.trade_price,
         q.l3_bid_qty, q.l3_bid_orders, q.l3_ask_qty, q.l3_ask_orders, q.l3_checksum_ok,
         coalesce(q.w_touch_1m, 0),
         case when q.w_fp1_start is not null then round((q.w_close_last / q.w_open1 - 1) * 10000, 4) end,
         round((q.w_close_last / q.w_open5 - 1) * 10000, 4),
         round(sqrt(q.w_ss1) * 10000, 4),
         round(sqrt(q.w_ss5) * 10000, 4),
         case when q.w_sa5 > 0 then round(greatest(-1, least(1, (q.w_close_last / q.w_open5 - 1) / q.w_sa5)), 4)
              when q.w_n5 > 0 then 0 end,
         coalesce(q.w_n5, 0),
         coalesce(q.w_trades_1m, 0), coalesce(q.w_trades_5m, 0),
         coalesce(q.w_qv_1m, 0), coalesce(q.w_qv_5m, 0), coalesce(q.w_buy_qv_5m, 0),
         coalesce(q.w_l2_bad_1m, 0), coalesce(q.w_l2_bad_5m, 0), coalesce(q.w_l3_bad_1m, 0), coalesce(q.w_l2_snap_5m, 0),
         coalesce(greatest(0, q.w_max_id - q.w_min_id + 1 - q.w_trades_5m), 0)::integer,
         null::text, null::timestamptz, null::text, null::text, null::text, 0
    from kapitaal.state_symbol_latest q
   cross join lateral (
     select q.l2_best_bid is not null and q.l2_best_ask is not null as has_l2,
            case when q.l2_best_bid is not null and q.l2_best_ask is not null then q.l2_best_bid else q.ticker_bid end as bid,
            case when q.l2_best_bid is not null and q.l2_best_ask is not null then q.l2_best_ask else q.ticker_ask end as ask
   ) x
   where q.run_id = p_run_id
$$;
comment on function kapitaal.state__compose_cached(bigint) is
  'The metric columns of run_symbol_state for every symbol of a run (generation and regime columns null) from '
  'state_symbol_latest: the newest rows and the window cache (w_*), which must be current (state__merge, then '
  'state__window_cache_refresh). Cost: O(symbols).';

-- Window caches written before the sums were stored without trailing zeros (trim_scale above)
-- are recomputed once, at the next refresh of their run.
update kapitaal.state_symbol_latest set w_now = null where w_now is not null;
