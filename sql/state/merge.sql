-- Folds a txid range of raw rows into the working set in one statement: one upsert per
-- touched bucket and one per touched symbol, whatever the number of raw tables involved.
create or replace function kapitaal.state__merge(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8, p_from timestamptz
)
returns table (ticker_rows integer, trade_rows integer, l2_rows integer, l3_rows integer, symbols_changed integer)
language sql
volatile
as $$
  with lat as materialized (
    select (x.latest).*, x.ticker_n, x.trade_n, x.l2_n, x.l3_n
      from kapitaal.state__latest_between(p_run_id, p_lo_ticker, p_lo_trade, p_lo_l2, p_lo_l3, p_hi) x
  ), merged_latest as (
    insert into kapitaal.state_symbol_latest as l
    select run_id, symbol, ticker_key, ticker_at, ticker_bid, ticker_ask, trade_key, trade_at, trade_price,
           l2_key, l2_at, l2_checksum_ok, l2_best_bid, l2_best_ask, l2_bid_qty, l2_ask_qty,
           l2_bid_depth_10bps, l2_ask_depth_10bps, l2_bid_depth_50bps, l2_ask_depth_50bps,
           l3_key, l3_at, l3_checksum_ok, l3_bid_qty, l3_bid_orders, l3_ask_qty, l3_ask_orders
      from lat
    on conflict (run_id, symbol) do update set
      -- per source: the new row wins only when its (received_at, seq) key is larger
      ticker_key = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_key else l.ticker_key end,
      ticker_at  = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_at else l.ticker_at end,
      ticker_bid = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_bid else l.ticker_bid end,
      ticker_ask = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_ask else l.ticker_ask end,
      trade_key   = case when excluded.trade_key > coalesce(l.trade_key, '{}') then excluded.trade_key else l.trade_key end,
      trade_at    = case when excluded.trade_key > coalesce(l.trade_key, '{}') then excluded.trade_at else l.trade_at end,
      trade_price = case when excluded.trade_key > coalesce(l.trade_key, '{}') then excluded.trade_price else l.trade_price end,
      l2_key         = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_key else l.l2_key end,
      l2_at          = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_at else l.l2_at end,
      l2_checksum_ok = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_checksum_ok else l.l2_checksum_ok end,
      l2_best_bid    = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_best_bid else l.l2_best_bid end,
      l2_best_ask    = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_best_ask else l.l2_best_ask end,
      l2_bid_qty     = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_bid_qty else l.l2_bid_qty end,
      l2_ask_qty     = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_ask_qty else l.l2_ask_qty end,
      l2_bid_depth_10bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_bid_depth_10bps else l.l2_bid_depth_10bps end,
      l2_ask_depth_10bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_ask_depth_10bps else l.l2_ask_depth_10bps end,
      l2_bid_depth_50bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_bid_depth_50bps else l.l2_bid_depth_50bps end,
      l2_ask_depth_50bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_ask_depth_50bps else l.l2_ask_depth_50bps end,
      l3_key         = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_key else l.l3_key end,
      l3_at          = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_at else l.l3_at end,
      l3_checksum_ok = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_checksum_ok else l.l3_checksum_ok end,
      l3_bid_qty     = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_bid_qty else l.l3_bid_qty end,
      l3_bid_orders  = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_bid_orders else l.l3_bid_orders end,
      l3_ask_qty     = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_ask_qty else l.l3_ask_qty end,
      l3_ask_orders  = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_ask_orders else l.l3_ask_orders end
    returning 1
  ), merged_buckets as (
    insert into kapitaal.state_buckets as b
    select * from kapitaal.state__buckets_between(p_run_id, p_lo_ticker, p_lo_trade, p_lo_l2, p_lo_l3, p_hi, p_from)
    on conflict (run_id, symbol, bucket_start) do update set
      -- counts add up; first/last keys take least/greatest: the order batches arrive in does not matter
      ticker_n = b.ticker_n + excluded.ticker_n,
      ticker_open = least(b.ticker_open, excluded.ticker_open),
      ticker_close = greatest(b.ticker_close, excluded.ticker_close),
      trade_n = b.trade_n + excluded.trade_n,
      trade_quote_volume = b.trade_quote_volume + excluded.trade_quote_volume,
      trade_buy_quote_volume = b.trade_buy_quote_volume + excluded.trade_buy_quote_volume,
      trade_min_id = least(b.trade_min_id, excluded.trade_min_id),
      trade_max_id = greatest(b.trade_max_id, excluded.trade_max_id),
      l2_n = b.l2_n + excluded.l2_n,
      l2_bad_n = b.l2_bad_n + excluded.l2_bad_n,
      l2_snapshot_n = b.l2_snapshot_n + excluded.l2_snapshot_n,
      l2_open = least(b.l2_open, excluded.l2_open),
      l2_close = greatest(b.l2_close, excluded.l2_close),
      l3_n = b.l3_n + excluded.l3_n,
      l3_bad_n = b.l3_bad_n + excluded.l3_bad_n,
      l3_touch_adds = b.l3_touch_adds + excluded.l3_touch_adds,
      l3_touch_deletes = b.l3_touch_deletes + excluded.l3_touch_deletes
    returning 1
  )
  select coalesce(sum(x.ticker_n), 0)::integer, coalesce(sum(x.trade_n), 0)::integer,
         coalesce(sum(x.l2_n), 0)::integer, coalesce(sum(x.l3_n), 0)::integer, count(*)::integer
    from lat x
$$;
comment on function kapitaal.state__merge(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) is
  'Folds the raw rows of a run with txid in [p_lo_<table>, p_hi) into state_symbol_latest (newest row per source wins '
  'by (received_at, seq)) and state_buckets (rows at or after p_from). Returns the rows read per table and the number '
  'of symbols they touched.';
