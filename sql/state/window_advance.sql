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
