-- All four raw tables of a run combined per (symbol, bucket) and per symbol, for rows with
-- txid in [p_lo_<table>, p_hi). The incremental refresh passes its watermarks; the
-- recomputation passes 0 and the largest xid8 (every committed row).

create or replace function kapitaal.state__buckets_between(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8, p_from timestamptz
)
returns setof kapitaal.state_buckets
language sql
stable
as $$
  with t as (select * from kapitaal.state__ticker_buckets(p_run_id, p_lo_ticker, p_hi, p_from)),
       d as (select * from kapitaal.state__trade_buckets(p_run_id, p_lo_trade, p_hi, p_from)),
       b2 as (select * from kapitaal.state__l2_buckets(p_run_id, p_lo_l2, p_hi, p_from)),
       b3 as (select * from kapitaal.state__l3_buckets(p_run_id, p_lo_l3, p_hi, p_from)),
       k as (select symbol, bucket_start from t union select symbol, bucket_start from d
             union select symbol, bucket_start from b2 union select symbol, bucket_start from b3)
  select p_run_id, k.symbol, k.bucket_start,
         coalesce(t.n, 0), t.open_key, t.close_key,
         coalesce(d.n, 0), coalesce(d.quote_volume, 0), coalesce(d.buy_quote_volume, 0), d.min_id, d.max_id,
         coalesce(b2.n, 0), coalesce(b2.bad_n, 0), coalesce(b2.snapshot_n, 0), b2.open_key, b2.close_key,
         coalesce(b3.n, 0), coalesce(b3.bad_n, 0), coalesce(b3.touch_adds, 0), coalesce(b3.touch_deletes, 0)
    from k
    left join t using (symbol, bucket_start)
    left join d using (symbol, bucket_start)
    left join b2 using (symbol, bucket_start)
    left join b3 using (symbol, bucket_start)
$$;
comment on function kapitaal.state__buckets_between(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) is
  'state_buckets rows (one per symbol and 10-second bucket) aggregated from the raw rows of a run with txid in '
  '[p_lo_<table>, p_hi) and received_at >= p_from.';

-- Flat columns (not the state_symbol_latest row type, which also holds the window cache).
drop function if exists kapitaal.state__latest_between(bigint, xid8, xid8, xid8, xid8, xid8);
create or replace function kapitaal.state__latest_between(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8
)
returns table (
  symbol text, ticker_key numeric[], ticker_at timestamptz, ticker_bid numeric, ticker_ask numeric,
  trade_key numeric[], trade_at timestamptz, trade_price numeric,
  l2_key numeric[], l2_at timestamptz, l2_checksum_ok boolean, l2_best_bid numeric, l2_best_ask numeric,
  l2_bid_qty numeric, l2_ask_qty numeric, l2_bid_depth_10bps numeric, l2_ask_depth_10bps numeric,
  l2_bid_depth_50bps numeric, l2_ask_depth_50bps numeric,
  l3_key numeric[], l3_at timestamptz, l3_checksum_ok boolean, l3_bid_qty numeric, l3_bid_orders integer,
  l3_ask_qty numeric, l3_ask_orders integer,
  ticker_n integer, trade_n integer, l2_n integer, l3_n integer
)
language sql
stable
as $$
  with t as (select * from kapitaal.state__ticker_latest(p_run_id, p_lo_ticker, p_hi)),
       d as (select * from kapitaal.state__trade_latest(p_run_id, p_lo_trade, p_hi)),
       b2 as (select * from kapitaal.state__l2_latest(p_run_id, p_lo_l2, p_hi)),
       b3 as (select * from kapitaal.state__l3_latest(p_run_id, p_lo_l3, p_hi)),
       k as (select symbol from t union select symbol from d union select symbol from b2 union select symbol from b3)
  select k.symbol,
         t.key, t.at, t.bid, t.ask,
         d.key, d.at, d.price,
         b2.key, b2.at, b2.checksum_ok, b2.best_bid, b2.best_ask, b2.bid_qty, b2.ask_qty,
         b2.bid_depth_10bps, b2.ask_depth_10bps, b2.bid_depth_50bps, b2.ask_depth_50bps,
         b3.key, b3.at, b3.checksum_ok, b3.bid_qty, b3.bid_orders, b3.ask_qty, b3.ask_orders,
         coalesce(t.n, 0), coalesce(d.n, 0), coalesce(b2.n, 0), coalesce(b3.n, 0)
    from k
    left join t using (symbol)
    left join d using (symbol)
    left join b2 using (symbol)
    left join b3 using (symbol)
$$;
comment on function kapitaal.state__latest_between(bigint, xid8, xid8, xid8, xid8, xid8) is
  'Per symbol: the newest ticker, trade, L2 and L3 row of a run with txid in [p_lo_<table>, p_hi) in the columns of '
  'state_symbol_latest, and how many rows of each table there were.';
