-- One pass over the new raw rows of a run: per table one index range scan on txid and one
-- aggregation per (symbol, 10-second bucket). Each bucket carries, besides its state_buckets
-- columns, the key and payload of its newest row per table, so the newest row per symbol
-- (state_symbol_latest) is the largest of those over the symbol's buckets: no second scan.
-- The recomputation oracle reads with the separate per-purpose functions (source_*.sql,
-- from_raw.sql), so it also checks this one.
create or replace function kapitaal.state__raw_pass(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8
)
returns table (
  symbol text, bucket_start timestamptz,
  ticker_n integer, ticker_open numeric[], ticker_last numeric[], ticker_at timestamptz,
  trade_n integer, trade_quote_volume numeric, trade_buy_quote_volume numeric, trade_min_id bigint, trade_max_id bigint,
  trade_last numeric[], trade_at timestamptz,
  l2_n integer, l2_bad_n integer, l2_snapshot_n integer, l2_open numeric[], l2_close numeric[], l2_last numeric[], l2_at timestamptz,
  l3_n integer, l3_bad_n integer, l3_touch_adds integer, l3_touch_deletes integer, l3_last numeric[], l3_at timestamptz
)
language sql
stable
as $$
  -- Each table is read by a subquery that computes its per-row expressions once (offset 0 keeps
  -- the planner from copying them into every aggregate that uses them): one key array per row,
  -- [epoch, seq, payload…]. Open/close/newest are the min/max of that one array: (epoch, seq) is
  -- unique, so the order of longer arrays is decided by their first two elements and a slice of
  -- the min/max equals the min/max of the shorter array.
  with t as (
    select r.symbol, r.bucket_start, count(*)::integer as n,
           (min(r.k))[1:3] as open_key,
           -- [epoch, seq, mid, bid, ask]: [1:3] is the bucket's close, the rest the newest quote
           max(r.k) as last,
           max(r.received_at) as at
      from (select r.symbol, r.received_at,
                   date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
                   array[extract(epoch from r.received_at), r.seq, (r.bid + r.ask) * 0.5, r.bid, r.ask] as k
              from kapitaal.ticker_samples r
             where r.run_id = p_run_id and r.txid >= p_lo_ticker and r.txid < p_hi
            offset 0) r
     group by 1, 2
  ), d as (
    select r.symbol, r.bucket_start, count(*)::integer as n,
           sum(r.qv) as quote_volume,
           coalesce(sum(r.qv) filter (where r.side = 'buy'), 0) as buy_quote_volume,
           min(r.trade_id) as min_id, max(r.trade_id) as max_id,
           max(r.k) as last,
           max(r.received_at) as at
      from (select r.symbol, r.received_at, r.side, r.trade_id, r.price * r.qty as qv,
                   date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
                   array[extract(epoch from r.received_at), r.seq, r.price] as k
              from kapitaal.trade_samples r
             where r.run_id = p_run_id and r.txid >= p_lo_trade and r.txid < p_hi
            offset 0) r
     group by 1, 2
  ), b2 as (
    select r.symbol, r.bucket_start, count(*)::integer as n,
           count(*) filter (where not r.checksum_ok)::integer as bad_n,
           count(*) filter (where r.is_snapshot)::integer as snapshot_n,
           -- [epoch, seq, mid] of the valid two-sided samples
           min(r.k) filter (where r.valid) as open_key,
           max(r.k) filter (where r.valid) as close_key,
           -- newest sample, valid or not: [epoch, seq]; its book is fetched by seq afterwards
           (max(r.k))[1:2] as last,
           max(r.received_at) as at
      from (select r.symbol, r.received_at, r.checksum_ok, r.is_snapshot,
                   date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
                   r.checksum_ok and x.bid is not null and x.ask is not null as valid,
                   array[extract(epoch from r.received_at), r.seq, (x.bid + x.ask) * 0.5] as k
              from kapitaal.l2_snap_metrics r
             cross join lateral (select r.bid_px[1] as bid, r.ask_px[1] as ask) x
             where r.run_id = p_run_id and r.txid >= p_lo_l2 and r.txid < p_hi
            offset 0) r
     group by 1, 2
  ), b3 as (
    select r.symbol, date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
           count(*)::integer as n,
           count(*) filter (where not r.checksum_ok)::integer as bad_n,
           sum(r.touch_adds)::integer as touch_adds,
           sum(r.touch_deletes)::integer as touch_deletes,
           max(array[extract(epoch from r.received_at), r.seq, r.checksum_ok::integer,
                     r.bid_qty[1], r.bid_orders[1], r.ask_qty[1], r.ask_orders[1]]) as last,
           max(r.received_at) as at
      from kapitaal.l3_queue_metrics r
     where r.run_id = p_run_id and r.txid >= p_lo_l3 and r.txid < p_hi
     group by 1, 2
  )
  select symbol, bucket_start,
         coalesce(t.n, 0), t.open_key, t.last, t.at,
         coalesce(d.n, 0), coalesce(d.quote_volume, 0), coalesce(d.buy_quote_volume, 0), d.min_id, d.max_id, d.last, d.at,
         coalesce(b2.n, 0), coalesce(b2.bad_n, 0), coalesce(b2.snapshot_n, 0), b2.open_key, b2.close_key, b2.last, b2.at,
         coalesce(b3.n, 0), coalesce(b3.bad_n, 0), coalesce(b3.touch_adds, 0), coalesce(b3.touch_deletes, 0), b3.last, b3.at
    from t
    full join d using (symbol, bucket_start)
    full join b2 using (symbol, bucket_start)
    full join b3 using (symbol, bucket_start)
$$;
comment on function kapitaal.state__raw_pass(bigint, xid8, xid8, xid8, xid8, xid8) is
  'The raw rows of a run with txid in [p_lo_<table>, p_hi), all four tables, aggregated per symbol and 10-second bucket '
  'in one pass: the state_buckets columns (ticker close = ticker_last[1:3]) plus per table the newest row''s key and '
  'payload and received_at, from which state__merge takes the newest row per symbol. Buckets of any age (the merge '
  'keeps those inside the window).';
