-- Builds the metric columns of run_symbol_state for a run from its working set: the newest
-- rows (state_symbol_latest) and the buckets of the rolling windows (state_buckets), in one
-- pass over the window's buckets in (symbol, bucket_start) order.

create or replace function kapitaal.state__compose(p_run_id bigint, p_now timestamptz)
returns setof kapitaal.run_symbol_state
language sql
stable
as $$
  with bounds as materialized (
    select * from kapitaal.state__windows(p_now)
  ), b as (
    select s.symbol, s.bucket_start, s.bucket_start >= bo.from_1m as in_1m,
           s.trade_n, s.trade_quote_volume, s.trade_buy_quote_volume, s.trade_min_id, s.trade_max_id,
           s.l2_bad_n, s.l2_snapshot_n, s.l3_bad_n, s.l3_touch_adds + s.l3_touch_deletes as touch,
           -- the price path: first and last mid of the bucket, from valid L2 books, else from the ticker
           nullif(case when s.l2_close is not null then s.l2_open[3] else s.ticker_open[3] end, 0) as p_open,
           nullif(case when s.l2_close is not null then s.l2_close[3] else s.ticker_close[3] end, 0) as p_close
      from bounds bo
      join kapitaal.state_buckets s
        on s.run_id = p_run_id and s.bucket_start >= bo.from_5m and s.bucket_start <= bo.bucket_now
  ), wdw as (
    select b.*,
           lag(b.p_close) over win as prev_close,
           lag(b.bucket_start) over win as prev_start,
           count(b.p_close) over win as n_upto,
           count(b.p_close) filter (where b.in_1m) over win as n1_upto
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
  ), ag as (
    select r.symbol,
           count(r.p_close)::integer as n5,
           max(r.p_open) filter (where r.p_close is not null and r.n_upto = 1) as open5,
           max(r.p_open) filter (where r.p_close is not null and r.in_1m and r.n1_upto = 1) as open1,
           -- close of the last priced bucket: bucket_start is unique per symbol, so the array
           -- comparison is decided by the epoch (no second window pass over the partition)
           (max(array[extract(epoch from r.bucket_start), r.p_close]) filter (where r.p_close is not null))[2] as close_last,
           bool_or(r.p_close is not null and r.in_1m) as priced_1m,
           sum(r.r5 * r.r5) as ss5,
           sum(abs(r.r5)) as sa5,
           sum(r.r1 * r.r1) as ss1,
           coalesce(sum(r.trade_n) filter (where r.in_1m), 0)::integer as trades_1m,
           sum(r.trade_n)::integer as trades_5m,
           coalesce(sum(r.trade_quote_volume) filter (where r.in_1m), 0) as qv_1m,
           sum(r.trade_quote_volume) as qv_5m,
           sum(r.trade_buy_quote_volume) as buy_qv_5m,
           min(r.trade_min_id) as min_id,
           max(r.trade_max_id) as max_id,
           coalesce(sum(r.l2_bad_n) filter (where r.in_1m), 0)::integer as l2_bad_1m,
           sum(r.l2_bad_n)::integer as l2_bad_5m,
           sum(r.l2_snapshot_n)::integer as l2_snap_5m,
           coalesce(sum(r.l3_bad_n) filter (where r.in_1m), 0)::integer as l3_bad_1m,
           coalesce(sum(r.touch) filter (where r.in_1m), 0)::integer as touch_churn_1m
      from r
     group by r.symbol
  ), q as (
    select l.*,
           l.l2_best_bid is not null and l.l2_best_ask is not null as has_l2,
           case when l.l2_best_bid is not null and l.l2_best_ask is not null then l.l2_best_bid else l.ticker_bid end as bid,
           case when l.l2_best_bid is not null and l.l2_best_ask is not null then l.l2_best_ask else l.ticker_ask end as ask
      from kapitaal.state_symbol_latest l
     where l.run_id = p_run_id
  )
  select p_run_id, q.symbol, null::bigint, null::timestamptz,
         q.ticker_at, q.trade_at, q.l2_at, q.l3_at,
         case when q.has_l2 then 'l2' when q.bid is not null and q.ask is not null then 'ticker' end,
         q.bid, q.ask, (q.bid + q.ask) * 0.5,
         round((q.ask - q.bid) / nullif((q.bid + q.ask) * 0.5, 0) * 10000, 4),
         round((q.l2_best_bid * q.l2_ask_qty + q.l2_best_ask * q.l2_bid_qty) / nullif(q.l2_bid_qty + q.l2_ask_qty, 0), 12),
         q.l2_bid_depth_10bps, q.l2_ask_depth_10bps, q.l2_bid_depth_50bps, q.l2_ask_depth_50bps,
         round((q.l2_bid_depth_50bps - q.l2_ask_depth_50bps) / nullif(q.l2_bid_depth_50bps + q.l2_ask_depth_50bps, 0), 6),
         q.l2_checksum_ok,
         q.trade_price,
         q.l3_bid_qty, q.l3_bid_orders, q.l3_ask_qty, q.l3_ask_orders, q.l3_checksum_ok,
         coalesce(ag.touch_churn_1m, 0),
         case when ag.priced_1m then round((ag.close_last / ag.open1 - 1) * 10000, 4) end,
         round((ag.close_last / ag.open5 - 1) * 10000, 4),
         round(sqrt(ag.ss1) * 10000, 4),
         round(sqrt(ag.ss5) * 10000, 4),
         case when ag.sa5 > 0 then round(greatest(-1, least(1, (ag.close_last / ag.open5 - 1) / ag.sa5)), 4)
              when ag.n5 > 0 then 0 end,
         coalesce(ag.n5, 0),
         coalesce(ag.trades_1m, 0), coalesce(ag.trades_5m, 0),
         coalesce(ag.qv_1m, 0), coalesce(ag.qv_5m, 0), coalesce(ag.buy_qv_5m, 0),
         coalesce(ag.l2_bad_1m, 0), coalesce(ag.l2_bad_5m, 0), coalesce(ag.l3_bad_1m, 0), coalesce(ag.l2_snap_5m, 0),
         coalesce(greatest(0, ag.max_id - ag.min_id + 1 - ag.trades_5m), 0)::integer,
         null::text, null::timestamptz, null::text, null::text, null::text, 0
    from q
    left join ag on ag.symbol = q.symbol
$$;
comment on function kapitaal.state__compose(bigint, timestamptz) is
  'The metric columns of run_symbol_state for every symbol of a run at p_now (generation and regime columns null), '
  'from state_symbol_latest and the state_buckets inside the windows (see state__windows). Cost: O(symbols + buckets '
  'in the 5-minute window).';
