--! Previous: sha1:05a572439ce4dc087d8c03c647c9b10fd75009dc
--! Hash: sha1:8e3b33741346be494e9d126fb103a18f2398cd9b
--! Message: Window moves by subtraction: state__window_advance moves each symbol's window cache to the new bucket_now (leaving buckets subtracted, first and first-priced buckets and the smallest trade id fixed by probes), falling back to the recompute per symbol where it cannot prove exactness; cache sums stored with trim_scale; refresh_run_symbol_state returns symbols_moved

--! split: 1-current.sql
-- Enter migration here

--! split: 2-window-move.sql
--! Included state/state_buckets.sql
-- Ingest-only working set: 10-second aggregates of the raw rows per run and symbol, kept
-- only as long as the longest rolling window (5 minutes) needs them.
create table if not exists kapitaal.state_buckets (
  run_id bigint not null,
  symbol text not null,
  bucket_start timestamptz not null,
  ticker_n integer not null default 0,
  ticker_open numeric[],
  ticker_close numeric[],
  trade_n integer not null default 0,
  trade_quote_volume numeric not null default 0,
  trade_buy_quote_volume numeric not null default 0,
  trade_min_id bigint,
  trade_max_id bigint,
  l2_n integer not null default 0,
  l2_bad_n integer not null default 0,
  l2_snapshot_n integer not null default 0,
  l2_open numeric[],
  l2_close numeric[],
  l3_n integer not null default 0,
  l3_bad_n integer not null default 0,
  l3_touch_adds integer not null default 0,
  l3_touch_deletes integer not null default 0,
  primary key (run_id, symbol, bucket_start)
);
create index if not exists state_buckets_time_idx on kapitaal.state_buckets (run_id, bucket_start);
-- The smallest trade id of a symbol's window after buckets left it, by one index probe
-- (state__window_advance). Partial: buckets without trades never need it, and an update that
-- leaves trade_min_id unchanged (the usual one: ids ascend) stays HOT.
create index if not exists state_buckets_min_id_idx on kapitaal.state_buckets (run_id, symbol, trade_min_id)
  where trade_min_id is not null;
comment on index kapitaal.state_buckets_min_id_idx is
  'Smallest trade_min_id of a symbol''s window by one probe, when the bucket holding it left the window (state__window_advance).';

comment on table kapitaal.state_buckets is
  'Ingest-only: per run, symbol and 10-second bucket (bucket_start = date_bin(10 s, received_at)), the aggregates the '
  'rolling windows need. Each refresh merges the new raw rows in (counts add, open/close keys take least/greatest, so '
  'the order rows arrive in does not matter) and deletes buckets that left the 5-minute window.';
comment on column kapitaal.state_buckets.ticker_open is
  'Earliest ticker row of the bucket as array[epoch(received_at), seq, mid]; arrays compare element-wise, so least() picks the earliest.';
comment on column kapitaal.state_buckets.ticker_close is 'Latest ticker row of the bucket as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.trade_quote_volume is 'Sum of price * qty of the bucket''s trades.';
comment on column kapitaal.state_buckets.trade_min_id is 'Smallest trade_id in the bucket (for trade-id gap detection).';
comment on column kapitaal.state_buckets.l2_bad_n is 'L2 samples with checksum_ok = false.';
comment on column kapitaal.state_buckets.l2_snapshot_n is 'L2 samples that were snapshots (is_snapshot).';
comment on column kapitaal.state_buckets.l2_open is 'Earliest valid L2 sample with both sides as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.l2_close is 'Latest valid L2 sample with both sides as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.l3_touch_adds is 'Sum of touch_adds of the bucket''s L3 samples.';
comment on column kapitaal.state_buckets.run_id is
  'The ingest run (ingest_runs.run_id) of the raw rows aggregated here.';
comment on column kapitaal.state_buckets.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.state_buckets.bucket_start is
  'Start of the 10-second bucket: date_bin(10 s, received_at), so on the engine clock.';
comment on column kapitaal.state_buckets.ticker_n is 'Ticker rows received in the bucket.';
comment on column kapitaal.state_buckets.trade_n is 'Trades received in the bucket.';
comment on column kapitaal.state_buckets.trade_buy_quote_volume is
  'The part of trade_quote_volume whose taker bought (quote currency, numeric).';
comment on column kapitaal.state_buckets.trade_max_id is 'Largest trade_id in the bucket (for trade-id gap detection).';
comment on column kapitaal.state_buckets.l2_n is 'L2 samples received in the bucket (valid or not).';
comment on column kapitaal.state_buckets.l3_n is 'L3 samples received in the bucket (valid or not).';
comment on column kapitaal.state_buckets.l3_bad_n is 'L3 samples with checksum_ok = false.';
comment on column kapitaal.state_buckets.l3_touch_deletes is 'Sum of touch_deletes of the bucket''s L3 samples.';

-- Every refresh rewrites the touched rows; free space on the page lets those updates be HOT
-- (no index entries), since no indexed column changes.
alter table kapitaal.state_buckets set (fillfactor = 70);
--! EndIncluded state/state_buckets.sql
--! Included state/compose.sql
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
--! EndIncluded state/compose.sql
--! Included state/merge.sql
-- Folds a txid range of raw rows into the working set in one statement: one MERGE over the
-- touched buckets and one over the touched symbols, whatever the number of raw tables involved.
-- The symbols' MERGE keeps the window cache (w_* columns of state_symbol_latest) current by
-- deltas when the windows did not move and the new rows only touched the symbol's newest
-- bucket(s); otherwise it marks the symbol stale (w_now null) for state__window_cache_refresh.
drop function if exists kapitaal.state__merge(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz);
create or replace function kapitaal.state__merge(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8, p_now timestamptz
)
returns table (ticker_rows integer, trade_rows integer, l2_rows integer, l3_rows integer, symbols_changed integer,
               symbols_delta integer)
language plpgsql
volatile
-- one plan per session: a custom plan per call would cost more to plan than to run
set plan_cache_mode = force_generic_plan
-- joins of whole per-symbol sets: hash joins, never a per-symbol rescan on a row estimate of 1
set enable_nestloop = off
as $$
declare
  v_now timestamptz;
  v_from_1m timestamptz;
  v_from_5m timestamptz;
begin
  select w.bucket_now, w.from_1m, w.from_5m into v_now, v_from_1m, v_from_5m from kapitaal.state__windows(p_now) w;
  return query
  with p as materialized (
    select * from kapitaal.state__raw_pass(p_run_id, p_lo_ticker, p_lo_trade, p_lo_l2, p_lo_l3, p_hi)
  ), d as materialized (
    -- the state_buckets rows inside the window (older rows only count for the newest row)
    select p_run_id as run_id, p.symbol, p.bucket_start, p.ticker_n, p.ticker_open, p.ticker_last[1:3] as ticker_close,
           p.trade_n, p.trade_quote_volume, p.trade_buy_quote_volume, p.trade_min_id, p.trade_max_id,
           p.l2_n, p.l2_bad_n, p.l2_snapshot_n, p.l2_open, p.l2_close,
           p.l3_n, p.l3_bad_n, p.l3_touch_adds, p.l3_touch_deletes
      from p
     where p.bucket_start >= v_from_5m
  ), s as materialized (
    -- per symbol: rows per table and the newest row per table (largest [epoch, seq, …] key)
    select p.symbol, sum(p.ticker_n)::integer as ticker_n, sum(p.trade_n)::integer as trade_n,
           sum(p.l2_n)::integer as l2_n, sum(p.l3_n)::integer as l3_n,
           count(*) filter (where p.bucket_start >= v_from_5m) as nb,
           max(p.ticker_last) as tl, max(p.ticker_at) as ta, max(p.trade_last) as dl, max(p.trade_at) as da,
           max(p.l2_last) as l2l, max(p.l2_at) as l2a, max(p.l3_last) as l3l, max(p.l3_at) as l3a
      from p
     group by p.symbol
  ), l2n as (
    -- the book of each symbol's newest L2 sample (seq is unique)
    select s.symbol, r.checksum_ok, r.bid_px, r.bid_qty, r.ask_px, r.ask_qty, (r.bid_px[1] + r.ask_px[1]) * 0.5 as mid
      from s
      join kapitaal.l2_snap_metrics r
        on r.run_id = p_run_id and r.txid >= p_lo_l2 and r.txid < p_hi and r.seq = (s.l2l[2])::bigint
  ), dp as (
    -- depth within 10 and 50 bps of the mid, as state__l2_latest: one aggregation over all
    -- symbols' levels (a per-symbol aggregate subplan cost more than the sums)
    select u.symbol,
           case when u.mid is not null then coalesce(sum(u.bp * u.bq) filter (where u.bp >= u.mid * 0.9990), 0) end as bid10,
           case when u.mid is not null then coalesce(sum(u.bp * u.bq) filter (where u.bp >= u.mid * 0.9950), 0) end as bid50,
           case when u.mid is not null then coalesce(sum(u.ap * u.aq) filter (where u.ap <= u.mid * 1.0010), 0) end as ask10,
           case when u.mid is not null then coalesce(sum(u.ap * u.aq) filter (where u.ap <= u.mid * 1.0050), 0) end as ask50
      -- the levels by set-returning functions in the select list (run in lockstep like a
      -- multi-argument unnest, without a function scan and its tuple store per book)
      from (select x.symbol, x.mid, unnest(x.bid_px) as bp, unnest(x.bid_qty) as bq,
                   unnest(x.ask_px) as ap, unnest(x.ask_qty) as aq
              from l2n x) u
     group by u.symbol, u.mid
  ), lat as materialized (
    select s.symbol, s.tl[1:2] as ticker_key, s.ta as ticker_at, s.tl[4] as ticker_bid, s.tl[5] as ticker_ask,
           s.dl[1:2] as trade_key, s.da as trade_at, s.dl[3] as trade_price,
           s.l2l as l2_key, s.l2a as l2_at, x.checksum_ok as l2_checksum_ok,
           x.bid_px[1] as l2_best_bid, x.ask_px[1] as l2_best_ask, x.bid_qty[1] as l2_bid_qty, x.ask_qty[1] as l2_ask_qty,
           dp.bid10 as l2_bid_depth_10bps, dp.ask10 as l2_ask_depth_10bps, dp.bid50 as l2_bid_depth_50bps, dp.ask50 as l2_ask_depth_50bps,
           s.l3l[1:2] as l3_key, s.l3a as l3_at, s.l3l[3] = 1 as l3_checksum_ok, s.l3l[4] as l3_bid_qty,
           s.l3l[5]::integer as l3_bid_orders, s.l3l[6] as l3_ask_qty, s.l3l[7]::integer as l3_ask_orders,
           s.ticker_n, s.trade_n, s.l2_n, s.l3_n
      from s
      left join l2n x on x.symbol = s.symbol
      left join dp on dp.symbol = s.symbol
  ), ub as (
    -- MERGE rather than INSERT … ON CONFLICT: no conflict probe and tuple lock per row, and its
    -- RETURNING carries the bucket deltas (d) along, so no join back to d afterwards
    merge into kapitaal.state_buckets as b
    using d on b.run_id = p_run_id and b.symbol = d.symbol and b.bucket_start = d.bucket_start
            -- implied by the match; lets the target side be an index range over the touched buckets only
            and b.bucket_start >= (select min(x.bucket_start) from d x)
    when matched then update set
        -- counts add up; first/last keys take least/greatest: the order batches arrive in does not matter
        ticker_n = b.ticker_n + d.ticker_n,
        ticker_open = least(b.ticker_open, d.ticker_open),
        ticker_close = greatest(b.ticker_close, d.ticker_close),
        trade_n = b.trade_n + d.trade_n,
        trade_quote_volume = b.trade_quote_volume + d.trade_quote_volume,
        trade_buy_quote_volume = b.trade_buy_quote_volume + d.trade_buy_quote_volume,
        trade_min_id = least(b.trade_min_id, d.trade_min_id),
        trade_max_id = greatest(b.trade_max_id, d.trade_max_id),
        l2_n = b.l2_n + d.l2_n,
        l2_bad_n = b.l2_bad_n + d.l2_bad_n,
        l2_snapshot_n = b.l2_snapshot_n + d.l2_snapshot_n,
        l2_open = least(b.l2_open, d.l2_open),
        l2_close = greatest(b.l2_close, d.l2_close),
        l3_n = b.l3_n + d.l3_n,
        l3_bad_n = b.l3_bad_n + d.l3_bad_n,
        l3_touch_adds = b.l3_touch_adds + d.l3_touch_adds,
        l3_touch_deletes = b.l3_touch_deletes + d.l3_touch_deletes
    when not matched then insert values (
      d.run_id, d.symbol, d.bucket_start, d.ticker_n, d.ticker_open, d.ticker_close, d.trade_n, d.trade_quote_volume,
      d.trade_buy_quote_volume, d.trade_min_id, d.trade_max_id, d.l2_n, d.l2_bad_n, d.l2_snapshot_n, d.l2_open,
      d.l2_close, d.l3_n, d.l3_bad_n, d.l3_touch_adds, d.l3_touch_deletes)
    returning b.symbol, b.bucket_start,
              nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open,
              nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) as p_close,
              d.trade_n, d.trade_quote_volume, d.trade_buy_quote_volume, d.trade_min_id, d.trade_max_id,
              d.l2_bad_n, d.l2_snapshot_n, d.l3_bad_n, d.l3_touch_adds + d.l3_touch_deletes as touch
  ), t as (
    -- touched buckets with their deltas and the symbol's cache before this refresh
    select ub.symbol, ub.bucket_start, ub.p_open, ub.p_close, ub.bucket_start >= v_from_1m as in_1m,
           ub.trade_n, ub.trade_quote_volume, ub.trade_buy_quote_volume, ub.trade_min_id, ub.trade_max_id,
           ub.l2_bad_n, ub.l2_snapshot_n, ub.l3_bad_n, ub.touch,
           o.w_now, o.w_first5_start, o.w_first1_start, o.w_fp5_start, o.w_fp1_start,
           o.w_last_start, o.w_last_close, o.w_prev_close, o.w_last_r, s.nb
      from ub
      join s on s.symbol = ub.symbol
      left join kapitaal.state_symbol_latest o on o.run_id = p_run_id and o.symbol = ub.symbol
  ), tw as (
    -- position i of k touched buckets per symbol; the usual case, one touched bucket, needs no window
    select t.*, 1::bigint as i, 1::bigint as k, null::numeric as lag_close from t where t.nb = 1
    union all
    select t.*, row_number() over s, count(*) over (partition by t.symbol), lag(t.p_close) over s
      from t
     where t.nb > 1
    window s as (partition by t.symbol order by t.bucket_start)
  ), tr as (
    select t.*, x.pclose,
           -- the bucket return exactly as state__window_cache computes it (pred = previous bucket)
           case when t.p_close is not null then coalesce(t.p_close / x.pclose, t.p_close / t.p_open) - 1 end as r,
           coalesce(
             t.w_now = v_now                                   -- windows did not move
             and t.w_last_start <= v_now                       -- no bucket beyond the window
             and t.bucket_start >= t.w_last_start and t.bucket_start <= v_now   -- only the tail changes
             and t.bucket_start <> t.w_first5_start            -- first buckets: return from own open
             and (t.bucket_start <> t.w_first1_start or not t.in_1m)
             and (t.w_first1_start is not null or not t.in_1m)
             and t.bucket_start <> t.w_fp5_start               -- first priced buckets: ret_1m/5m base
             and (t.bucket_start <> t.w_fp1_start or not t.in_1m)
             and (t.w_fp1_start is not null or not t.in_1m or t.p_close is null)
             and not (t.bucket_start = t.w_last_start and t.w_last_close is not null and t.p_close is null),
             false) as ok
      from tw t
     cross join lateral (
       select case when t.i > 1 then t.lag_close
                   when t.bucket_start = t.w_last_start then t.w_prev_close
                   else t.w_last_close end as pclose
     ) x
  ), g as (
    -- One touched bucket (k = 1): the aggregates below of a single row, written out (an
    -- aggregation of ~25 numeric aggregates per symbol cost more than the rest of this step).
    select tr.symbol, tr.ok as fast,
           tr.trade_n::bigint as trades_5m, case when tr.in_1m then tr.trade_n else 0 end::bigint as trades_1m,
           tr.trade_quote_volume as qv_5m, case when tr.in_1m then tr.trade_quote_volume else 0 end as qv_1m,
           tr.trade_buy_quote_volume as buy_qv_5m,
           tr.trade_min_id as min_id, tr.trade_max_id as max_id,
           tr.l2_bad_n::bigint as l2_bad_5m, case when tr.in_1m then tr.l2_bad_n else 0 end::bigint as l2_bad_1m,
           tr.l2_snapshot_n::bigint as l2_snap_5m,
           case when tr.in_1m then tr.l3_bad_n else 0 end::bigint as l3_bad_1m,
           case when tr.in_1m then tr.touch else 0 end::bigint as touch_1m,
           case when tr.p_close is not null
                 and not (tr.bucket_start = tr.w_last_start and tr.w_last_close is not null) then 1 else 0 end::bigint as n_new,
           coalesce(tr.r * tr.r, 0) as rr5, coalesce(abs(tr.r), 0) as ra5,
           coalesce(case when tr.in_1m then tr.r * tr.r end, 0) as rr1,
           coalesce(case when tr.bucket_start = tr.w_last_start then tr.w_last_r * tr.w_last_r end, 0) as old_rr5,
           coalesce(case when tr.bucket_start = tr.w_last_start then abs(tr.w_last_r) end, 0) as old_ra5,
           coalesce(case when tr.bucket_start = tr.w_last_start and tr.in_1m then tr.w_last_r * tr.w_last_r end, 0) as old_rr1,
           tr.p_close as close_last, tr.bucket_start as last_start, tr.p_close as last_close, tr.pclose as prev_close,
           tr.r as last_r
      from tr
     where tr.k = 1
    union all
    select tr.symbol,
           bool_and(tr.ok) as fast,
           sum(tr.trade_n) as trades_5m, coalesce(sum(tr.trade_n) filter (where tr.in_1m), 0) as trades_1m,
           sum(tr.trade_quote_volume) as qv_5m, coalesce(sum(tr.trade_quote_volume) filter (where tr.in_1m), 0) as qv_1m,
           sum(tr.trade_buy_quote_volume) as buy_qv_5m,
           min(tr.trade_min_id) as min_id, max(tr.trade_max_id) as max_id,
           sum(tr.l2_bad_n) as l2_bad_5m, coalesce(sum(tr.l2_bad_n) filter (where tr.in_1m), 0) as l2_bad_1m,
           sum(tr.l2_snapshot_n) as l2_snap_5m,
           coalesce(sum(tr.l3_bad_n) filter (where tr.in_1m), 0) as l3_bad_1m,
           coalesce(sum(tr.touch) filter (where tr.in_1m), 0) as touch_1m,
           count(*) filter (where tr.p_close is not null
                              and not (tr.bucket_start = tr.w_last_start and tr.w_last_close is not null)) as n_new,
           coalesce(sum(tr.r * tr.r), 0) as rr5, coalesce(sum(abs(tr.r)), 0) as ra5,
           coalesce(sum(tr.r * tr.r) filter (where tr.in_1m), 0) as rr1,
           -- the newest bucket's old return leaves the sums when it was touched
           coalesce(max(tr.w_last_r * tr.w_last_r) filter (where tr.bucket_start = tr.w_last_start), 0) as old_rr5,
           coalesce(max(abs(tr.w_last_r)) filter (where tr.bucket_start = tr.w_last_start), 0) as old_ra5,
           coalesce(max(tr.w_last_r * tr.w_last_r) filter (where tr.bucket_start = tr.w_last_start and tr.in_1m), 0) as old_rr1,
           (max(array[extract(epoch from tr.bucket_start), tr.p_close]) filter (where tr.p_close is not null))[2] as close_last,
           max(tr.bucket_start) as last_start,
           max(tr.p_close) filter (where tr.i = tr.k) as last_close,
           max(tr.pclose) filter (where tr.i = tr.k) as prev_close,
           max(tr.r) filter (where tr.i = tr.k) as last_r
      from tr
     where tr.k > 1
     group by tr.symbol
  ), merged_latest as (
    -- MERGE, not INSERT … ON CONFLICT: the existing rows are matched by one hash join instead of a
    -- conflict probe and a tuple lock (an extra WAL record) per row before each update.
    merge into kapitaal.state_symbol_latest as l
    using (
      select p_run_id, lat.symbol, lat.ticker_key, lat.ticker_at, lat.ticker_bid, lat.ticker_ask,
             lat.trade_key, lat.trade_at, lat.trade_price,
             lat.l2_key, lat.l2_at, lat.l2_checksum_ok, lat.l2_best_bid, lat.l2_best_ask, lat.l2_bid_qty, lat.l2_ask_qty,
             lat.l2_bid_depth_10bps, lat.l2_ask_depth_10bps, lat.l2_bid_depth_50bps, lat.l2_ask_depth_50bps,
             lat.l3_key, lat.l3_at, lat.l3_checksum_ok, lat.l3_bid_qty, lat.l3_bid_orders, lat.l3_ask_qty, lat.l3_ask_orders,
             -- untouched: keep the cache ('-infinity' marker); touched: the delta result, or stale (null)
             case when g.symbol is null then '-infinity' when g.fast then v_now end,
             o.w_first5_start, o.w_first1_start, o.w_fp5_start, o.w_fp1_start,
             g.last_start, g.last_close, g.prev_close, g.last_r,
             o.w_n5 + g.n_new, o.w_open5, o.w_open1, coalesce(g.close_last, o.w_close_last),
             -- sums of numerics without trailing zeros, as state__window_cache stores them
             trim_scale(o.w_ss5 + g.rr5 - g.old_rr5), trim_scale(o.w_sa5 + g.ra5 - g.old_ra5),
             trim_scale(o.w_ss1 + g.rr1 - g.old_rr1),
             o.w_trades_1m + g.trades_1m, o.w_trades_5m + g.trades_5m,
             trim_scale(o.w_qv_1m + g.qv_1m), trim_scale(o.w_qv_5m + g.qv_5m), trim_scale(o.w_buy_qv_5m + g.buy_qv_5m),
             least(o.w_min_id, g.min_id), greatest(o.w_max_id, g.max_id),
             o.w_l2_bad_1m + g.l2_bad_1m, o.w_l2_bad_5m + g.l2_bad_5m, o.w_l2_snap_5m + g.l2_snap_5m,
             o.w_l3_bad_1m + g.l3_bad_1m, o.w_touch_1m + g.touch_1m
        from lat
        left join g on g.symbol = lat.symbol
        left join kapitaal.state_symbol_latest o on o.run_id = p_run_id and o.symbol = lat.symbol
    ) as n (
      run_id, symbol, ticker_key, ticker_at, ticker_bid, ticker_ask, trade_key, trade_at, trade_price, l2_key, l2_at,
      l2_checksum_ok, l2_best_bid, l2_best_ask, l2_bid_qty, l2_ask_qty, l2_bid_depth_10bps, l2_ask_depth_10bps,
      l2_bid_depth_50bps, l2_ask_depth_50bps, l3_key, l3_at, l3_checksum_ok, l3_bid_qty, l3_bid_orders, l3_ask_qty,
      l3_ask_orders, w_now, w_first5_start, w_first1_start, w_fp5_start, w_fp1_start, w_last_start, w_last_close,
      w_prev_close, w_last_r, w_n5, w_open5, w_open1, w_close_last, w_ss5, w_sa5, w_ss1, w_trades_1m, w_trades_5m,
      w_qv_1m, w_qv_5m, w_buy_qv_5m, w_min_id, w_max_id, w_l2_bad_1m, w_l2_bad_5m, w_l2_snap_5m, w_l3_bad_1m,
      w_touch_1m)
    on l.run_id = p_run_id and l.symbol = n.symbol
    when matched then update set
        -- per source: the new row wins only when its (received_at, seq) key is larger
        ticker_key = case when n.ticker_key > coalesce(l.ticker_key, '{}') then n.ticker_key else l.ticker_key end,
        ticker_at  = case when n.ticker_key > coalesce(l.ticker_key, '{}') then n.ticker_at else l.ticker_at end,
        ticker_bid = case when n.ticker_key > coalesce(l.ticker_key, '{}') then n.ticker_bid else l.ticker_bid end,
        ticker_ask = case when n.ticker_key > coalesce(l.ticker_key, '{}') then n.ticker_ask else l.ticker_ask end,
        trade_key   = case when n.trade_key > coalesce(l.trade_key, '{}') then n.trade_key else l.trade_key end,
        trade_at    = case when n.trade_key > coalesce(l.trade_key, '{}') then n.trade_at else l.trade_at end,
        trade_price = case when n.trade_key > coalesce(l.trade_key, '{}') then n.trade_price else l.trade_price end,
        l2_key         = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_key else l.l2_key end,
        l2_at          = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_at else l.l2_at end,
        l2_checksum_ok = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_checksum_ok else l.l2_checksum_ok end,
        l2_best_bid    = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_best_bid else l.l2_best_bid end,
        l2_best_ask    = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_best_ask else l.l2_best_ask end,
        l2_bid_qty     = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_bid_qty else l.l2_bid_qty end,
        l2_ask_qty     = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_ask_qty else l.l2_ask_qty end,
        l2_bid_depth_10bps = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_bid_depth_10bps else l.l2_bid_depth_10bps end,
        l2_ask_depth_10bps = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_ask_depth_10bps else l.l2_ask_depth_10bps end,
        l2_bid_depth_50bps = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_bid_depth_50bps else l.l2_bid_depth_50bps end,
        l2_ask_depth_50bps = case when n.l2_key > coalesce(l.l2_key, '{}') then n.l2_ask_depth_50bps else l.l2_ask_depth_50bps end,
        l3_key         = case when n.l3_key > coalesce(l.l3_key, '{}') then n.l3_key else l.l3_key end,
        l3_at          = case when n.l3_key > coalesce(l.l3_key, '{}') then n.l3_at else l.l3_at end,
        l3_checksum_ok = case when n.l3_key > coalesce(l.l3_key, '{}') then n.l3_checksum_ok else l.l3_checksum_ok end,
        l3_bid_qty     = case when n.l3_key > coalesce(l.l3_key, '{}') then n.l3_bid_qty else l.l3_bid_qty end,
        l3_bid_orders  = case when n.l3_key > coalesce(l.l3_key, '{}') then n.l3_bid_orders else l.l3_bid_orders end,
        l3_ask_qty     = case when n.l3_key > coalesce(l.l3_key, '{}') then n.l3_ask_qty else l.l3_ask_qty end,
        l3_ask_orders  = case when n.l3_key > coalesce(l.l3_key, '{}') then n.l3_ask_orders else l.l3_ask_orders end,

      w_now = case when n.w_now = '-infinity' then l.w_now else n.w_now end,
      w_first5_start = case when n.w_now = '-infinity' then l.w_first5_start else n.w_first5_start end,
      w_first1_start = case when n.w_now = '-infinity' then l.w_first1_start else n.w_first1_start end,
      w_fp5_start = case when n.w_now = '-infinity' then l.w_fp5_start else n.w_fp5_start end,
      w_fp1_start = case when n.w_now = '-infinity' then l.w_fp1_start else n.w_fp1_start end,
      w_last_start = case when n.w_now = '-infinity' then l.w_last_start else n.w_last_start end,
      w_last_close = case when n.w_now = '-infinity' then l.w_last_close else n.w_last_close end,
      w_prev_close = case when n.w_now = '-infinity' then l.w_prev_close else n.w_prev_close end,
      w_last_r = case when n.w_now = '-infinity' then l.w_last_r else n.w_last_r end,
      w_n5 = case when n.w_now = '-infinity' then l.w_n5 else n.w_n5 end,
      w_open5 = case when n.w_now = '-infinity' then l.w_open5 else n.w_open5 end,
      w_open1 = case when n.w_now = '-infinity' then l.w_open1 else n.w_open1 end,
      w_close_last = case when n.w_now = '-infinity' then l.w_close_last else n.w_close_last end,
      w_ss5 = case when n.w_now = '-infinity' then l.w_ss5 else n.w_ss5 end,
      w_sa5 = case when n.w_now = '-infinity' then l.w_sa5 else n.w_sa5 end,
      w_ss1 = case when n.w_now = '-infinity' then l.w_ss1 else n.w_ss1 end,
      w_trades_1m = case when n.w_now = '-infinity' then l.w_trades_1m else n.w_trades_1m end,
      w_trades_5m = case when n.w_now = '-infinity' then l.w_trades_5m else n.w_trades_5m end,
      w_qv_1m = case when n.w_now = '-infinity' then l.w_qv_1m else n.w_qv_1m end,
      w_qv_5m = case when n.w_now = '-infinity' then l.w_qv_5m else n.w_qv_5m end,
      w_buy_qv_5m = case when n.w_now = '-infinity' then l.w_buy_qv_5m else n.w_buy_qv_5m end,
      w_min_id = case when n.w_now = '-infinity' then l.w_min_id else n.w_min_id end,
      w_max_id = case when n.w_now = '-infinity' then l.w_max_id else n.w_max_id end,
      w_l2_bad_1m = case when n.w_now = '-infinity' then l.w_l2_bad_1m else n.w_l2_bad_1m end,
      w_l2_bad_5m = case when n.w_now = '-infinity' then l.w_l2_bad_5m else n.w_l2_bad_5m end,
      w_l2_snap_5m = case when n.w_now = '-infinity' then l.w_l2_snap_5m else n.w_l2_snap_5m end,
      w_l3_bad_1m = case when n.w_now = '-infinity' then l.w_l3_bad_1m else n.w_l3_bad_1m end,
      w_touch_1m = case when n.w_now = '-infinity' then l.w_touch_1m else n.w_touch_1m end
    when not matched then insert values (
      n.run_id, n.symbol, n.ticker_key, n.ticker_at, n.ticker_bid, n.ticker_ask, n.trade_key, n.trade_at,
      n.trade_price, n.l2_key, n.l2_at, n.l2_checksum_ok, n.l2_best_bid, n.l2_best_ask, n.l2_bid_qty, n.l2_ask_qty,
      n.l2_bid_depth_10bps, n.l2_ask_depth_10bps, n.l2_bid_depth_50bps, n.l2_ask_depth_50bps, n.l3_key, n.l3_at,
      n.l3_checksum_ok, n.l3_bid_qty, n.l3_bid_orders, n.l3_ask_qty, n.l3_ask_orders, n.w_now, n.w_first5_start,
      n.w_first1_start, n.w_fp5_start, n.w_fp1_start, n.w_last_start, n.w_last_close, n.w_prev_close, n.w_last_r,
      n.w_n5, n.w_open5, n.w_open1, n.w_close_last, n.w_ss5, n.w_sa5, n.w_ss1, n.w_trades_1m, n.w_trades_5m,
      n.w_qv_1m, n.w_qv_5m, n.w_buy_qv_5m, n.w_min_id, n.w_max_id, n.w_l2_bad_1m, n.w_l2_bad_5m, n.w_l2_snap_5m,
      n.w_l3_bad_1m, n.w_touch_1m)
    returning 1
  )
  select coalesce(sum(x.ticker_n), 0)::integer, coalesce(sum(x.trade_n), 0)::integer,
         coalesce(sum(x.l2_n), 0)::integer, coalesce(sum(x.l3_n), 0)::integer, count(*)::integer,
         (select count(*) filter (where g.fast) from g)::integer
    from lat x;
end
$$;
comment on function kapitaal.state__merge(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) is
  'Folds the raw rows of a run with txid in [p_lo_<table>, p_hi) into state_symbol_latest (newest row per source wins '
  'by (received_at, seq)) and state_buckets (rows inside the 5-minute window at p_now or later), and updates the window '
  'cache of each touched symbol by deltas when that is exact (windows unchanged, only the newest bucket(s) touched, no '
  'first bucket of a window involved), else marks it stale. Returns the rows read per table, the symbols they touched '
  'and how many of those took the delta path.';
--! EndIncluded state/merge.sql
--! Included state/window_advance.sql
-- Window moves by subtraction. Every 10 s the windows move; instead of recomputing each
-- symbol's window cache from its ≤ 30 buckets (state__window_cache), the refresh first moves
-- the caches that are valid for a bucket_now at most p_max_buckets behind: what left a window
-- is subtracted from the additive fields, and the fields that depend on a window's first
-- bucket are fixed from the few buckets involved. All symbols' buckets are read together
-- (time-index ranges joined by hash); per-symbol index probes only where the usual bucket is
-- missing:
--   leaving buckets   [old from_5m, new from_5m) and [old from_1m, new from_1m), with their
--                     returns as the old windows computed them (lag within the leaving set:
--                     the first of each set is the old window's first bucket, own open);
--   f5 / f1           the new first bucket of each window, the one at its new start (else a
--                     probe): its return is now from its own open (before: from the last
--                     leaving bucket's close, if that one was priced);
--   fp5 / fp1         the new first priced bucket and its open (the return base), when the old
--                     one left: f5 / f1 if priced, else a probe;
--   min trade id      probed on state_buckets_min_id_idx only when a leaving bucket held the
--                     smallest or largest id.
-- Sums of numerics are stored with trim_scale (also by the definition and the delta path), so
-- a difference has the same text as a fresh sum. What this rule cannot prove exact stays
-- stale and state__window_cache_refresh recomputes it: buckets after the old bucket_now
-- (rows from the future), a window left without buckets, the largest trade id leaving while
-- trades remain (ids out of order), and sums of returns whose null-ness the newest bucket's
-- return does not settle (an unpriced newest bucket).
create or replace function kapitaal.state__window_advance(p_run_id bigint, p_now timestamptz, p_max_buckets integer default 6)
returns integer
language plpgsql
volatile
set plan_cache_mode = force_generic_plan
-- Whole per-symbol sets are joined by hash, whatever the row estimates (a generic plan made before
-- the working set was analysed estimates 1 row and rescanned every bucket per symbol). The few
-- per-symbol probes are LATERAL (a nested loop by necessity) and gated, so they run only for the
-- symbols that need them.
set enable_nestloop = off
set enable_mergejoin = off
as $$
declare
  v_now timestamptz;
  v_from_1m timestamptz;
  v_from_5m timestamptz;
  v_n integer;
  v_lo5 timestamptz;
  v_lo1 timestamptz;
begin
  select w.bucket_now, w.from_1m, w.from_5m into v_now, v_from_1m, v_from_5m from kapitaal.state__windows(p_now) w;
  -- beyond 24 buckets the leaving sets of the two windows would overlap
  if p_max_buckets < 1 or p_max_buckets > 24 then
    raise exception 'state__window_advance: p_max_buckets must be in 1..24 (got %)', p_max_buckets using errcode = '22023';
  end if;
  -- the oldest start of a window these caches can have: the leaving buckets are one time-index range
  v_lo5 := v_from_5m - p_max_buckets * kapitaal.state__bucket_width();
  v_lo1 := v_from_1m - p_max_buckets * kapitaal.state__bucket_width();
  with o as materialized (
    -- caches valid for an earlier bucket_now, not too far behind, with no bucket after it (w_last_start
    -- null: the symbol has no bucket at all, and its empty windows stay empty)
    select l.symbol, l.w_now, ow.from_1m as of1, ow.from_5m as of5,
           l.w_first5_start, l.w_first1_start, l.w_fp5_start, l.w_fp1_start, l.w_last_start, l.w_last_close,
           l.w_prev_close, l.w_last_r, l.w_n5, l.w_open5, l.w_open1, l.w_close_last, l.w_ss5, l.w_sa5, l.w_ss1,
           l.w_trades_1m, l.w_trades_5m, l.w_qv_1m, l.w_qv_5m, l.w_buy_qv_5m, l.w_min_id, l.w_max_id,
           l.w_l2_bad_1m, l.w_l2_bad_5m, l.w_l2_snap_5m, l.w_l3_bad_1m, l.w_touch_1m
      from kapitaal.state_symbol_latest l
     cross join lateral kapitaal.state__windows(l.w_now) ow
     where l.run_id = p_run_id
       and l.w_now < v_now and l.w_now >= v_now - p_max_buckets * kapitaal.state__bucket_width()
       and (l.w_last_start <= l.w_now or l.w_last_start is null)
  ), lb as (
    -- buckets leaving the 5-minute window (out5) and buckets leaving only the 1-minute window
    select o.symbol, true as out5, b.bucket_start, b.trade_n, b.trade_quote_volume, b.trade_buy_quote_volume,
           b.trade_min_id, b.trade_max_id, b.l2_bad_n, b.l2_snapshot_n, b.l3_bad_n,
           b.l3_touch_adds + b.l3_touch_deletes as touch,
           nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open,
           nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) as p_close
      from kapitaal.state_buckets b
      join o on o.symbol = b.symbol
     where b.run_id = p_run_id and b.bucket_start >= v_lo5 and b.bucket_start < v_from_5m and b.bucket_start >= o.of5
    union all
    select o.symbol, false, b.bucket_start, b.trade_n, b.trade_quote_volume, b.trade_buy_quote_volume,
           b.trade_min_id, b.trade_max_id, b.l2_bad_n, b.l2_snapshot_n, b.l3_bad_n,
           b.l3_touch_adds + b.l3_touch_deletes,
           nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0),
           nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0)
      from kapitaal.state_buckets b
      join o on o.symbol = b.symbol
     where b.run_id = p_run_id and b.bucket_start >= v_lo1 and b.bucket_start < v_from_1m and b.bucket_start >= o.of1
  ), c5 as (
    -- the buckets that start each new window: usually its new first bucket (and its first priced one)
    select b.symbol, b.bucket_start,
           nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open,
           nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) as p_close
      from kapitaal.state_buckets b
     where b.run_id = p_run_id and b.bucket_start = v_from_5m
  ), c1 as (
    select b.symbol, b.bucket_start,
           nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open,
           nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) as p_close
      from kapitaal.state_buckets b
     where b.run_id = p_run_id and b.bucket_start = v_from_1m
  ), lr as (
    -- each leaving bucket's return as its old window computed it (r5 for out5, r1 for the others)
    select lb.*,
           case when lb.p_close is not null then coalesce(lb.p_close / lag(lb.p_close) over w, lb.p_close / lb.p_open) - 1 end as r,
           lead(lb.bucket_start) over w is null as is_last
      from lb
    window w as (partition by lb.symbol, lb.out5 order by lb.bucket_start)
  ), la as (
    select lr.symbol,
           count(*) filter (where lr.out5) as n_out5,
           count(*) filter (where not lr.out5) as n_out1,
           count(lr.p_close) filter (where lr.out5) as priced_out5,
           max(lr.p_close) filter (where lr.out5 and lr.is_last) as last_close5,
           max(lr.p_close) filter (where not lr.out5 and lr.is_last) as last_close1,
           coalesce(sum(lr.r * lr.r) filter (where lr.out5), 0) as rr5,
           coalesce(sum(abs(lr.r)) filter (where lr.out5), 0) as ra5,
           coalesce(sum(lr.r * lr.r) filter (where not lr.out5), 0) as rr1,
           coalesce(sum(lr.trade_n) filter (where lr.out5), 0) as trades5,
           coalesce(sum(lr.trade_n) filter (where not lr.out5), 0) as trades1,
           coalesce(sum(lr.trade_quote_volume) filter (where lr.out5), 0) as qv5,
           coalesce(sum(lr.trade_quote_volume) filter (where not lr.out5), 0) as qv1,
           coalesce(sum(lr.trade_buy_quote_volume) filter (where lr.out5), 0) as buy_qv5,
           coalesce(sum(lr.l2_bad_n) filter (where lr.out5), 0) as l2_bad5,
           coalesce(sum(lr.l2_bad_n) filter (where not lr.out5), 0) as l2_bad1,
           coalesce(sum(lr.l2_snapshot_n) filter (where lr.out5), 0) as l2_snap5,
           coalesce(sum(lr.l3_bad_n) filter (where not lr.out5), 0) as l3_bad1,
           coalesce(sum(lr.touch) filter (where not lr.out5), 0) as touch1,
           min(lr.trade_min_id) filter (where lr.out5) as min_id5,
           max(lr.trade_max_id) filter (where lr.out5) as max_id5
      from lr
     group by lr.symbol
  ), x0 as (
    select o.*, coalesce(la.n_out5, 0) as n_out5, coalesce(la.n_out1, 0) as n_out1,
           coalesce(la.priced_out5, 0) as priced_out5,
           la.last_close5, la.last_close1, coalesce(la.rr5, 0) as rr5, coalesce(la.ra5, 0) as ra5,
           coalesce(la.rr1, 0) as rr1, coalesce(la.trades5, 0) as trades5, coalesce(la.trades1, 0) as trades1,
           coalesce(la.qv5, 0) as qv5, coalesce(la.qv1, 0) as qv1, coalesce(la.buy_qv5, 0) as buy_qv5,
           coalesce(la.l2_bad5, 0) as l2_bad5, coalesce(la.l2_bad1, 0) as l2_bad1, coalesce(la.l2_snap5, 0) as l2_snap5,
           coalesce(la.l3_bad1, 0) as l3_bad1, coalesce(la.touch1, 0) as touch1,
           coalesce(la.min_id5 = o.w_min_id, false) as min_leaves, coalesce(la.max_id5 = o.w_max_id, false) as max_leaves,
           c5.symbol is not null as has_c5, c5.bucket_start as c5_start, c5.p_open as c5_open, c5.p_close as c5_close,
           c1.symbol is not null as has_c1, c1.bucket_start as c1_start, c1.p_open as c1_open, c1.p_close as c1_close
      from o
      left join la on la.symbol = o.symbol
      left join c5 on c5.symbol = o.symbol
      left join c1 on c1.symbol = o.symbol
  ), x1 as (
    -- the new first bucket of each window (nothing lies after the old bucket_now): the one at the
    -- window's start, else the first after it (probe)
    select x0.*,
           case when x0.has_c5 then x0.c5_start else f5.bucket_start end as f5_start,
           case when x0.has_c5 then x0.c5_open else f5.p_open end as f5_open,
           case when x0.has_c5 then x0.c5_close else f5.p_close end as f5_close,
           case when x0.has_c1 then x0.c1_start else f1.bucket_start end as f1_start,
           case when x0.has_c1 then x0.c1_open else f1.p_open end as f1_open,
           case when x0.has_c1 then x0.c1_close else f1.p_close end as f1_close
      from x0
      left join lateral (
        select b.bucket_start,
               nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open,
               nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) as p_close
          from kapitaal.state_buckets b
         where not x0.has_c5
           and b.run_id = p_run_id and b.symbol = x0.symbol and b.bucket_start >= v_from_5m
         order by b.bucket_start limit 1
      ) f5 on true
      left join lateral (
        select b.bucket_start,
               nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open,
               nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) as p_close
          from kapitaal.state_buckets b
         where not x0.has_c1
           and b.run_id = p_run_id and b.symbol = x0.symbol and b.bucket_start >= v_from_1m
         order by b.bucket_start limit 1
      ) f1 on true
  ), x as (
    -- the new first priced bucket and its open (the return base), needed only when the old one left:
    -- the new first bucket when it is priced, else the first priced one after it (probe); the
    -- smallest trade id left in the window, only when a leaving bucket held the smallest or largest
    select x1.*,
           case when x1.f5_close is not null then x1.f5_start else fp5.bucket_start end as fp5_start,
           case when x1.f5_close is not null then x1.f5_open else fp5.p_open end as fp5_open,
           case when x1.f1_close is not null then x1.f1_start else fp1.bucket_start end as fp1_start,
           case when x1.f1_close is not null then x1.f1_open else fp1.p_open end as fp1_open,
           mi.trade_min_id as min_id_probe
      from x1
      left join lateral (
        select b.bucket_start, nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open
          from kapitaal.state_buckets b
         where x1.w_fp5_start < v_from_5m and x1.f5_close is null
           and b.run_id = p_run_id and b.symbol = x1.symbol and b.bucket_start >= v_from_5m
           and nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) is not null
         order by b.bucket_start limit 1
      ) fp5 on true
      left join lateral (
        select b.bucket_start, nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open
          from kapitaal.state_buckets b
         where x1.w_fp1_start < v_from_1m and x1.f1_close is null
           and b.run_id = p_run_id and b.symbol = x1.symbol and b.bucket_start >= v_from_1m
           and nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) is not null
         order by b.bucket_start limit 1
      ) fp1 on true
      left join lateral (
        select b.trade_min_id
          from kapitaal.state_buckets b
         where (x1.min_leaves or x1.max_leaves)
           and b.run_id = p_run_id and b.symbol = x1.symbol and b.trade_min_id is not null
           and b.bucket_start >= v_from_5m
         order by b.trade_min_id limit 1
      ) mi on true
  ), y as (
    select x.*,
           x.w_n5 - x.priced_out5 as n5,
           -- the new first bucket's return is from its own open (the same expression as the definition
           -- with no previous close); before, from the last leaving bucket's close when one left
           case when x.f5_close is not null then coalesce(x.f5_close / null::numeric, x.f5_close / x.f5_open) - 1 end as f5_r_new,
           case when x.f5_close is not null and x.n_out5 > 0
                then coalesce(x.f5_close / x.last_close5, x.f5_close / x.f5_open) - 1 end as f5_r_old,
           case when x.f1_close is not null then coalesce(x.f1_close / null::numeric, x.f1_close / x.f1_open) - 1 end as f1_r_new,
           case when x.f1_close is not null and x.n_out1 > 0
                then coalesce(x.f1_close / x.last_close1, x.f1_close / x.f1_open) - 1 end as f1_r_old,
           case when x.w_fp1_start >= v_from_1m then x.w_fp1_start
                when x.w_fp1_start is not null then x.fp1_start end as fp1_new,
           x.n_out5 > 0 and x.w_last_start = x.f5_start as newest_first
      from x
  ), z as (
    select y.*,
           case when y.newest_first then y.f5_r_new else y.w_last_r end as last_r_new,
           -- the newest bucket's return in the 1-minute window: from its own open when it is the first
           -- bucket there, else as in the 5-minute window (its previous bucket is in both). Non-null, it
           -- proves the 1-minute sum of returns is not null, as last_r_new does for the 5-minute sums.
           case when y.w_last_start < v_from_1m then null
                when y.w_last_start = y.f1_start then y.f1_r_new
                else y.w_last_r end as last_r1
      from y
  )
  update kapitaal.state_symbol_latest l
     set w_now = v_now,
         w_first5_start = z.f5_start,
         w_first1_start = z.f1_start,
         w_fp5_start = case when z.w_fp5_start >= v_from_5m then z.w_fp5_start
                            when z.w_fp5_start is not null then z.fp5_start end,
         w_fp1_start = z.fp1_new,
         w_prev_close = case when z.newest_first then null else z.w_prev_close end,
         w_last_r = z.last_r_new,
         w_n5 = z.n5,
         w_open5 = case when z.w_fp5_start >= v_from_5m then z.w_open5
                        when z.w_fp5_start is not null then z.fp5_open end,
         w_open1 = case when z.w_fp1_start >= v_from_1m then z.w_open1
                        when z.w_fp1_start is not null then z.fp1_open end,
         w_close_last = case when z.n5 > 0 then z.w_close_last end,
         w_ss5 = case when z.n5 > 0 then trim_scale(coalesce(z.w_ss5, 0) - z.rr5
                                                    - coalesce(z.f5_r_old * z.f5_r_old, 0) + case when z.n_out5 > 0 then coalesce(z.f5_r_new * z.f5_r_new, 0) else 0 end) end,
         w_sa5 = case when z.n5 > 0 then trim_scale(coalesce(z.w_sa5, 0) - z.ra5
                                                    - coalesce(abs(z.f5_r_old), 0) + case when z.n_out5 > 0 then coalesce(abs(z.f5_r_new), 0) else 0 end) end,
         w_ss1 = case when z.fp1_new is not null then trim_scale(coalesce(z.w_ss1, 0) - z.rr1
                                                    - coalesce(z.f1_r_old * z.f1_r_old, 0) + case when z.n_out1 > 0 then coalesce(z.f1_r_new * z.f1_r_new, 0) else 0 end) end,
         w_trades_1m = z.w_trades_1m - z.trades1,
         w_trades_5m = z.w_trades_5m - z.trades5,
         w_qv_1m = trim_scale(z.w_qv_1m - z.qv1),
         w_qv_5m = trim_scale(z.w_qv_5m - z.qv5),
         w_buy_qv_5m = trim_scale(z.w_buy_qv_5m - z.buy_qv5),
         w_min_id = case when z.min_leaves or z.max_leaves then z.min_id_probe else z.w_min_id end,
         w_max_id = case when z.max_leaves then null else z.w_max_id end,
         w_l2_bad_1m = z.w_l2_bad_1m - z.l2_bad1,
         w_l2_bad_5m = z.w_l2_bad_5m - z.l2_bad5,
         w_l2_snap_5m = z.w_l2_snap_5m - z.l2_snap5,
         w_l3_bad_1m = z.w_l3_bad_1m - z.l3_bad1,
         w_touch_1m = z.w_touch_1m - z.touch1
    from z
   where l.run_id = p_run_id and l.symbol = z.symbol
     -- what the rule above cannot prove exact stays stale (recomputed from the buckets)
     and (z.f5_start is not null or z.w_last_start is null)        -- the 5-minute window still holds a bucket (or held none)
     and (z.n5 = 0 or z.last_r_new is not null)                    -- sums of returns stay non-null
     and (z.fp1_new is null or z.last_r1 is not null)
     and (not z.max_leaves or z.min_id_probe is null)              -- the largest id left, and trades remain
  ;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
comment on function kapitaal.state__window_advance(bigint, timestamptz, integer) is
  'Moves the window caches (state_symbol_latest.w_*) of a run to the bucket_now of p_now by subtraction, for symbols '
  'whose cache is valid for a bucket_now at most p_max_buckets (1..24) behind and who have no bucket after it: the '
  'buckets that left each window are subtracted, the first (priced) bucket of each window and the return of the new '
  'first bucket are fixed by index probes. Symbols the rule cannot move exactly are left stale for '
  'state__window_cache_refresh. Returns the number of symbols moved. Called by refresh_run_symbol_state before '
  'state__merge, so the merge''s delta path applies to the moved caches.';
--! EndIncluded state/window_advance.sql
--! Included state/refresh_run_symbol_state.sql
-- The incremental refresh: fold the raw rows committed since the previous refresh into
-- the working set, rebuild the run's state, stamp one generation on it.
drop function if exists kapitaal.refresh_run_symbol_state(bigint, timestamptz);
create or replace function kapitaal.refresh_run_symbol_state(p_run_id bigint, p_now timestamptz default now())
returns table (
  generation_id bigint,
  run_id bigint,
  refreshed_at timestamptz,
  ticker_rows integer,
  trade_rows integer,
  l2_rows integer,
  l3_rows integer,
  rows_read integer,
  symbols integer,
  symbols_changed integer,
  buckets_deleted integer,
  watermark_from xid8,
  watermark_to xid8,
  state_digest text,
  duration_ms numeric,
  symbols_recomputed integer,
  symbols_moved integer
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
set work_mem = '64MB'
-- Every join here is between whole per-symbol sets of one run. On a fresh run the row estimates
-- are 1, and a nested loop then re-reads the run's previous state rows once per symbol (seen:
-- 125 k rows filtered for 500 symbols); hash joins cost the same at any estimate.
set enable_nestloop = off
-- One plan per statement and session: under the default mode the first five refreshes of a
-- session each plan the state MERGE again (compose and regime inlined, ~15 ms each).
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_t0 timestamptz := clock_timestamp();
  v_status text;
  v_lo_ticker xid8; v_lo_trade xid8; v_lo_l2 xid8; v_lo_l3 xid8;
  v_prev_now timestamptz;
  v_hi xid8;
  v_now timestamptz;
  v_from timestamptz;
  v_gen bigint;
  v_policy kapitaal.regime_policy;
begin
  if current_setting('transaction_isolation') <> 'read committed' then
    -- Under REPEATABLE READ the snapshot predates the lock below, so the watermarks read
    -- after waiting could be stale and rows would be folded in twice.
    raise exception 'refresh_run_symbol_state must run in a READ COMMITTED transaction (got %)',
      current_setting('transaction_isolation') using errcode = '25000';
  end if;
  select r.status into v_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  if not found then
    raise exception 'refresh_run_symbol_state: no ingest run %', p_run_id using errcode = 'P0002';
  end if;

  -- One refresh of a run at a time; a second one waits here and then starts from the
  -- watermarks the first committed.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.refresh_run_symbol_state', p_run_id));

  insert into kapitaal.state_refresh_watermarks (run_id, table_name)
  select p_run_id, t from unnest(kapitaal.raw_tables()) t
  on conflict do nothing;
  select max(w.watermark) filter (where w.table_name = 'ticker_samples'),
         max(w.watermark) filter (where w.table_name = 'trade_samples'),
         max(w.watermark) filter (where w.table_name = 'l2_snap_metrics'),
         max(w.watermark) filter (where w.table_name = 'l3_queue_metrics'),
         max(w.refreshed_at)
    into v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3, v_prev_now
    from kapitaal.state_refresh_watermarks w
   where w.run_id = p_run_id;

  -- Every transaction of this database below the horizon has finished: its rows are final and
  -- visible to every later statement. Rows of transactions still running stay for the next refresh.
  v_hi := kapitaal.raw_txid_horizon();
  v_now := greatest(p_now, v_prev_now);
  v_from := (select w.from_5m from kapitaal.state__windows(v_now) w);
  v_gen := nextval('kapitaal.state_generation_seq');
  select * into v_policy from kapitaal.regime_policy where policy = 'default';

  -- Windows that moved by a few buckets since the caches were computed: subtract what left them
  -- (before the merge, whose delta path then applies to the moved caches; the buckets that left
  -- are still there to subtract).
  -- Skipped while bucket_now is the previous refresh's: every cache is then valid for it already.
  symbols_moved := 0;
  if (select w.bucket_now from kapitaal.state__windows(v_prev_now) w)
     is distinct from (select w.bucket_now from kapitaal.state__windows(v_now) w) then
    symbols_moved := kapitaal.state__window_advance(p_run_id, v_now);
  end if;

  select m.ticker_rows, m.trade_rows, m.l2_rows, m.l3_rows, m.symbols_changed
    into ticker_rows, trade_rows, l2_rows, l3_rows, symbols_changed
    from kapitaal.state__merge(p_run_id, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3,
                               greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3), v_now) m;

  -- Buckets that left the longest window are never read again.
  delete from kapitaal.state_buckets b where b.run_id = p_run_id and b.bucket_start < v_from;
  get diagnostics buckets_deleted = row_count;

  -- Window caches neither moved nor updated by deltas (windows moved further or in a way the
  -- subtraction cannot prove exact, late or future rows, new symbols).
  symbols_recomputed := kapitaal.state__window_cache_refresh(p_run_id, v_now, true);

  -- MERGE, not INSERT … ON CONFLICT: the existing rows are matched by one hash join instead of a
  -- conflict probe and a tuple lock (an extra WAL record) per row before each update.
  merge into kapitaal.run_symbol_state as s
  using (
    select c.run_id, c.symbol, v_gen as generation_id, v_now as refreshed_at, c.last_ticker_at, c.last_trade_at,
           c.last_l2_at, c.last_l3_at, c.book_source, c.best_bid, c.best_ask, c.mid, c.spread_bps, c.microprice,
           c.bid_depth_10bps_quote, c.ask_depth_10bps_quote, c.bid_depth_50bps_quote, c.ask_depth_50bps_quote,
           c.book_imbalance, c.book_valid, c.last_trade_price, c.l3_bid_touch_qty, c.l3_bid_touch_orders,
           c.l3_ask_touch_qty, c.l3_ask_touch_orders, c.l3_valid, c.l3_touch_churn_1m, c.ret_1m_bps, c.ret_5m_bps,
           c.vol_1m_bps, c.vol_5m_bps, c.trend_strength_5m, c.price_buckets_5m, c.trades_1m, c.trades_5m,
           c.quote_volume_1m, c.quote_volume_5m, c.buy_quote_volume_5m, c.l2_checksum_failures_1m,
           c.l2_checksum_failures_5m, c.l3_checksum_failures_1m, c.l2_resyncs_5m, c.trade_id_gaps_5m, st.regime,
           st.since as regime_since, ind.regime as regime_indicated, ind.reason as regime_reason,
           st.candidate as regime_candidate, st.streak as regime_streak
      from kapitaal.state__compose_cached(p_run_id) c
      -- previous regime columns (hash join: see enable_nestloop above)
      left join kapitaal.run_symbol_state p on p.run_id = p_run_id and p.symbol = c.symbol
      -- offset 0: the indication is computed once per symbol; without it the inlined CASE would be
      -- copied into every reference regime__step and the insert make to ind.regime
      cross join lateral (select * from kapitaal.regime__indicate(c, p.regime, v_policy, v_now) offset 0) ind
      cross join lateral kapitaal.regime__step(p.regime, p.regime_since, p.regime_candidate, p.regime_streak,
                                               ind.regime, v_policy, v_now) st
  ) as n
  on s.run_id = p_run_id and s.symbol = n.symbol
  when matched then update set
    generation_id = n.generation_id, refreshed_at = n.refreshed_at, last_ticker_at = n.last_ticker_at,
    last_trade_at = n.last_trade_at, last_l2_at = n.last_l2_at, last_l3_at = n.last_l3_at,
    book_source = n.book_source, best_bid = n.best_bid, best_ask = n.best_ask, mid = n.mid,
    spread_bps = n.spread_bps, microprice = n.microprice, bid_depth_10bps_quote = n.bid_depth_10bps_quote,
    ask_depth_10bps_quote = n.ask_depth_10bps_quote, bid_depth_50bps_quote = n.bid_depth_50bps_quote,
    ask_depth_50bps_quote = n.ask_depth_50bps_quote, book_imbalance = n.book_imbalance, book_valid = n.book_valid,
    last_trade_price = n.last_trade_price, l3_bid_touch_qty = n.l3_bid_touch_qty,
    l3_bid_touch_orders = n.l3_bid_touch_orders, l3_ask_touch_qty = n.l3_ask_touch_qty,
    l3_ask_touch_orders = n.l3_ask_touch_orders, l3_valid = n.l3_valid, l3_touch_churn_1m = n.l3_touch_churn_1m,
    ret_1m_bps = n.ret_1m_bps, ret_5m_bps = n.ret_5m_bps, vol_1m_bps = n.vol_1m_bps, vol_5m_bps = n.vol_5m_bps,
    trend_strength_5m = n.trend_strength_5m, price_buckets_5m = n.price_buckets_5m, trades_1m = n.trades_1m,
    trades_5m = n.trades_5m, quote_volume_1m = n.quote_volume_1m, quote_volume_5m = n.quote_volume_5m,
    buy_quote_volume_5m = n.buy_quote_volume_5m, l2_checksum_failures_1m = n.l2_checksum_failures_1m,
    l2_checksum_failures_5m = n.l2_checksum_failures_5m, l3_checksum_failures_1m = n.l3_checksum_failures_1m,
    l2_resyncs_5m = n.l2_resyncs_5m, trade_id_gaps_5m = n.trade_id_gaps_5m, regime = n.regime,
    regime_since = n.regime_since, regime_indicated = n.regime_indicated, regime_reason = n.regime_reason,
    regime_candidate = n.regime_candidate, regime_streak = n.regime_streak
  when not matched then insert values (
    n.run_id, n.symbol, n.generation_id, n.refreshed_at, n.last_ticker_at, n.last_trade_at, n.last_l2_at,
    n.last_l3_at, n.book_source, n.best_bid, n.best_ask, n.mid, n.spread_bps, n.microprice, n.bid_depth_10bps_quote,
    n.ask_depth_10bps_quote, n.bid_depth_50bps_quote, n.ask_depth_50bps_quote, n.book_imbalance, n.book_valid,
    n.last_trade_price, n.l3_bid_touch_qty, n.l3_bid_touch_orders, n.l3_ask_touch_qty, n.l3_ask_touch_orders,
    n.l3_valid, n.l3_touch_churn_1m, n.ret_1m_bps, n.ret_5m_bps, n.vol_1m_bps, n.vol_5m_bps, n.trend_strength_5m,
    n.price_buckets_5m, n.trades_1m, n.trades_5m, n.quote_volume_1m, n.quote_volume_5m, n.buy_quote_volume_5m,
    n.l2_checksum_failures_1m, n.l2_checksum_failures_5m, n.l3_checksum_failures_1m, n.l2_resyncs_5m,
    n.trade_id_gaps_5m, n.regime, n.regime_since, n.regime_indicated, n.regime_reason, n.regime_candidate,
    n.regime_streak);
  get diagnostics symbols = row_count;

  generation_id := v_gen;
  run_id := p_run_id;
  refreshed_at := v_now;
  rows_read := ticker_rows + trade_rows + l2_rows + l3_rows;
  watermark_from := least(v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3);
  watermark_to := greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3);
  state_digest := kapitaal.run_symbol_state__digest(p_run_id);

  update kapitaal.state_refresh_watermarks w
     set watermark = greatest(w.watermark, v_hi), refreshed_at = v_now, generation_id = v_gen,
         rows_read = w.rows_read + case w.table_name when 'ticker_samples' then ticker_rows
                                                     when 'trade_samples' then trade_rows
                                                     when 'l2_snap_metrics' then l2_rows
                                                     else l3_rows end
   where w.run_id = p_run_id;

  duration_ms := round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3);
  insert into kapitaal.state_generations
    (generation_id, run_id, refreshed_at, symbols, symbols_changed, state_digest,
     ticker_rows, trade_rows, l2_rows, l3_rows, duration_ms)
  values (v_gen, p_run_id, v_now, symbols, symbols_changed, state_digest,
          ticker_rows, trade_rows, l2_rows, l3_rows, duration_ms);
  return next;
end
$$;
comment on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) is
  'Incremental refresh of one run''s run_symbol_state. Serialised per run (advisory lock); reads exactly the raw rows '
  'with txid in [watermark, raw_txid_horizon()) per table, so a row is folded in once, after its transaction finished, '
  'however late it commits. Cost: O(new rows + buckets in the 5-minute window + symbols). Rewrites all rows of the run '
  'with a new generation_id, records the generation in state_generations and returns the outcome (symbols_recomputed: '
  'symbols whose window aggregates were recomputed from their buckets instead of updated by deltas; symbols_moved: '
  'symbols whose windows moved by subtraction, state__window_advance). Effective time is '
  'greatest(p_now, previous refresh time). Must run in READ COMMITTED.';
--! EndIncluded state/refresh_run_symbol_state.sql
--! Included state/grants.sql
-- Least privilege for the state layer. Roles come from migrations/roles.sql.
-- Ingest writer: runs the refresh (security definer) and reads what it produced.
-- Execution: reads state, policies and the decision functions; never raw tables or the working set.
-- Read-only: everything.

revoke all on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) from public;
revoke all on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) from public;
revoke all on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) from public;
grant execute on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) to kapitaal_ingest_writer;

-- The working-set writer only makes sense inside the refresh.
revoke all on function kapitaal.state__merge(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) from public;
revoke all on function kapitaal.state__window_cache_refresh(bigint, timestamptz, boolean) from public;
revoke all on function kapitaal.state__window_advance(bigint, timestamptz, integer) from public;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations, kapitaal.state_refresh_watermarks,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_ingest_writer;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_execution;
grant execute on function kapitaal.apply_route_freshness_filter(bigint, timestamptz),
  kapitaal.strategy_readiness(bigint, timestamptz), kapitaal.run_symbol_state__digest(bigint)
  to kapitaal_execution, kapitaal_readonly, kapitaal_ingest_writer;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations, kapitaal.state_refresh_watermarks,
  kapitaal.state_buckets, kapitaal.state_symbol_latest,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_readonly;
--! EndIncluded state/grants.sql
