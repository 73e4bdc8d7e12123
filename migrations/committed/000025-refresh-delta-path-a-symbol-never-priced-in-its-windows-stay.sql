--! Previous: sha1:98675ea2e86b17834a5843932d00b6cab9c1a127
--! Hash: sha1:3f17a7b704d4cc10850d8453929b2b4ad86a2c80
--! Message: Refresh delta path: a symbol never priced in its windows stays on the delta path while its new buckets are unpriced too (before, a null first-priced bucket sent it to the recompute every refresh)

--! split: 1-current.sql
-- Enter migration here

--! split: 2-unpriced-delta.sql
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
             -- first priced buckets: ret_1m/5m base. A window without any (a symbol never priced) stays on
             -- the delta path while this bucket is unpriced too; its first price falls back (below and here).
             and (t.bucket_start <> t.w_fp5_start or (t.w_fp5_start is null and t.p_close is null))
             and (t.bucket_start <> t.w_fp1_start or t.w_fp1_start is null or not t.in_1m)
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
