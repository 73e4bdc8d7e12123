--! Previous: sha1:d65ac69a8705e146326c0b5cd66b81a2bfa4bc81
--! Hash: sha1:e51630116b87dd5efd45a4c596261d36898f570b
--! Message: Raw tables without the symbol-time index (ticker, trade, L3); refresh with per-symbol window cache and one-pass raw reader; record-text digest; refresh wake and immediate re-queue; json sync payload; cheaper readiness

--! split: 1-current.sql
-- Enter migration here

--! split: 2-ingest.sql
--! Included schema/raw_ticker_samples.sql
-- Raw Kraken WS v2 `ticker` messages, one row per symbol per message.
create sequence if not exists kapitaal.ticker_samples_seq cache 1000;
create table if not exists kapitaal.ticker_samples (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.ticker_samples_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  bid numeric not null,
  bid_qty numeric not null,
  ask numeric not null,
  ask_qty numeric not null,
  last numeric not null,
  volume numeric not null,
  vwap numeric,
  low numeric,
  high numeric,
  change numeric,
  change_pct numeric,
  exchange_ts timestamptz,
  received_at timestamptz not null
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.ticker_samples_symbol_time_idx;
create index if not exists ticker_samples_txid_idx on kapitaal.ticker_samples (txid);

comment on table kapitaal.ticker_samples is
  'Raw WS v2 ticker rows as Kraken sent them. Partitioned by run_id: one partition per ingest run.';
comment on column kapitaal.ticker_samples.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.ticker_samples.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.ticker_samples.volume is 'Base-currency volume over the last 24 h, as sent by Kraken.';
comment on column kapitaal.ticker_samples.vwap is 'Volume-weighted average price over the last 24 h.';
comment on column kapitaal.ticker_samples.change_pct is 'Price change over 24 h in percent.';
comment on column kapitaal.ticker_samples.exchange_ts is 'Kraken''s timestamp of the update, when the message carries one.';
comment on column kapitaal.ticker_samples.received_at is 'When the collector received the message (engine clock).';
--! EndIncluded schema/raw_ticker_samples.sql
--! Included schema/raw_trade_samples.sql
-- Raw Kraken WS v2 `trade` messages, one row per trade.
create sequence if not exists kapitaal.trade_samples_seq cache 1000;
create table if not exists kapitaal.trade_samples (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.trade_samples_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  price numeric not null check (price > 0),
  qty numeric not null check (qty > 0),
  ord_type text not null check (ord_type in ('market', 'limit')),
  trade_id bigint not null,
  exchange_ts timestamptz not null,
  received_at timestamptz not null
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.trade_samples_symbol_time_idx;
create index if not exists trade_samples_txid_idx on kapitaal.trade_samples (txid);

comment on table kapitaal.trade_samples is
  'Raw WS v2 trades as Kraken sent them. Partitioned by run_id: one partition per ingest run.';
comment on column kapitaal.trade_samples.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.trade_samples.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.trade_samples.side is 'Side of the taker (the aggressor).';
comment on column kapitaal.trade_samples.ord_type is 'Order type of the taker: market or limit.';
comment on column kapitaal.trade_samples.trade_id is 'Kraken''s per-book trade sequence; the collector drops repeats after a reconnect.';
comment on column kapitaal.trade_samples.exchange_ts is 'Kraken''s time of the trade.';
comment on column kapitaal.trade_samples.received_at is 'When the collector received the message (engine clock).';
--! EndIncluded schema/raw_trade_samples.sql
--! Included schema/raw_l3_queue_metrics.sql
-- Samples of the collector's verified L3 (order-level) book (WS v2 `level3` channel).
create sequence if not exists kapitaal.l3_queue_metrics_seq cache 1000;
create table if not exists kapitaal.l3_queue_metrics (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.l3_queue_metrics_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  bid_px numeric[] not null,
  bid_qty numeric[] not null,
  bid_orders integer[] not null,
  ask_px numeric[] not null,
  ask_qty numeric[] not null,
  ask_orders integer[] not null,
  adds integer not null default 0 check (adds >= 0),
  modifies integer not null default 0 check (modifies >= 0),
  deletes integer not null default 0 check (deletes >= 0),
  added_qty numeric not null default 0,
  removed_qty numeric not null default 0,
  touch_adds integer not null default 0,
  touch_deletes integer not null default 0,
  checksum bigint not null,
  checksum_ok boolean not null,
  exchange_ts timestamptz,
  received_at timestamptz not null,
  check (cardinality(bid_px) = cardinality(bid_qty) and cardinality(bid_px) = cardinality(bid_orders)),
  check (cardinality(ask_px) = cardinality(ask_qty) and cardinality(ask_px) = cardinality(ask_orders))
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.l3_queue_metrics_symbol_time_idx;
create index if not exists l3_queue_metrics_txid_idx on kapitaal.l3_queue_metrics (txid);

comment on table kapitaal.l3_queue_metrics is
  'Queue facts from the collector''s L3 book per symbol: per price level (best first) the total quantity and the '
  'number of resting orders, and the order flow since the previous sample. The queue ahead of a new order at '
  'price p is the quantity at p and better. Partitioned by run_id.';
comment on column kapitaal.l3_queue_metrics.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.l3_queue_metrics.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.l3_queue_metrics.bid_orders is 'Number of resting orders at each bid level of bid_px.';
comment on column kapitaal.l3_queue_metrics.ask_orders is 'Number of resting orders at each ask level of ask_px.';
comment on column kapitaal.l3_queue_metrics.adds is 'Orders added since the previous sample of this symbol.';
comment on column kapitaal.l3_queue_metrics.modifies is 'Orders whose quantity changed (partly filled) since the previous sample.';
comment on column kapitaal.l3_queue_metrics.deletes is 'Orders removed (filled or cancelled) since the previous sample.';
comment on column kapitaal.l3_queue_metrics.added_qty is 'Quantity added by new orders since the previous sample.';
comment on column kapitaal.l3_queue_metrics.removed_qty is 'Quantity removed by modifies and deletes since the previous sample.';
comment on column kapitaal.l3_queue_metrics.touch_adds is 'Adds at the best bid or ask (queue growth at the touch).';
comment on column kapitaal.l3_queue_metrics.touch_deletes is 'Deletes at the best bid or ask (queue consumption at the touch).';
comment on column kapitaal.l3_queue_metrics.checksum is 'CRC32 checksum Kraken sent with the last applied message.';
comment on column kapitaal.l3_queue_metrics.checksum_ok is 'Whether the local L3 book matched the checksum.';
comment on column kapitaal.l3_queue_metrics.exchange_ts is 'Kraken''s timestamp of the last applied event.';
comment on column kapitaal.l3_queue_metrics.received_at is 'When the collector received the last applied message (engine clock).';
--! EndIncluded schema/raw_l3_queue_metrics.sql

--! split: 3-refresh.sql
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

-- Every refresh rewrites the touched rows; free space on the page lets those updates be HOT
-- (no index entries), since no indexed column changes.
alter table kapitaal.state_buckets set (fillfactor = 70);
--! EndIncluded state/state_buckets.sql
--! Included state/state_symbol_latest.sql
-- Ingest-only working set: the newest row of each raw table per run and symbol, reduced
-- to what the state needs. Newer means a larger (received_at, seq) key.
create table if not exists kapitaal.state_symbol_latest (
  run_id bigint not null,
  symbol text not null,
  ticker_key numeric[],
  ticker_at timestamptz,
  ticker_bid numeric,
  ticker_ask numeric,
  trade_key numeric[],
  trade_at timestamptz,
  trade_price numeric,
  l2_key numeric[],
  l2_at timestamptz,
  l2_checksum_ok boolean,
  l2_best_bid numeric,
  l2_best_ask numeric,
  l2_bid_qty numeric,
  l2_ask_qty numeric,
  l2_bid_depth_10bps numeric,
  l2_ask_depth_10bps numeric,
  l2_bid_depth_50bps numeric,
  l2_ask_depth_50bps numeric,
  l3_key numeric[],
  l3_at timestamptz,
  l3_checksum_ok boolean,
  l3_bid_qty numeric,
  l3_bid_orders integer,
  l3_ask_qty numeric,
  l3_ask_orders integer,
  primary key (run_id, symbol)
);
comment on table kapitaal.state_symbol_latest is
  'Ingest-only: per run and symbol, the newest ticker, trade, L2 and L3 row seen so far, reduced to the fields the '
  'state needs. A refresh replaces a source''s fields only when its new row has a larger key, so late commits of older '
  'rows never overwrite newer data.';
comment on column kapitaal.state_symbol_latest.ticker_key is 'array[epoch(received_at), seq] of the newest ticker row.';
comment on column kapitaal.state_symbol_latest.l2_bid_qty is 'Quantity at the best bid of the newest L2 sample.';
comment on column kapitaal.state_symbol_latest.l2_bid_depth_10bps is 'Quote value of bids within 10 bps of the L2 mid.';
comment on column kapitaal.state_symbol_latest.l3_bid_qty is 'Quantity at the best bid of the newest L3 sample.';

-- The window cache: the per-symbol window aggregates of the last compose, valid for the
-- bucket_now in w_now (null = stale). While the windows do not move, a refresh whose new rows
-- only touch the symbol's newest bucket(s) updates them by deltas (state__merge); anything else
-- marks the symbol stale and state__window_cache recomputes it from its buckets.
alter table kapitaal.state_symbol_latest
  add column if not exists w_now timestamptz,
  add column if not exists w_first5_start timestamptz,
  add column if not exists w_first1_start timestamptz,
  add column if not exists w_fp5_start timestamptz,
  add column if not exists w_fp1_start timestamptz,
  add column if not exists w_last_start timestamptz,
  add column if not exists w_last_close numeric,
  add column if not exists w_prev_close numeric,
  add column if not exists w_last_r numeric,
  add column if not exists w_n5 integer,
  add column if not exists w_open5 numeric,
  add column if not exists w_open1 numeric,
  add column if not exists w_close_last numeric,
  add column if not exists w_ss5 numeric,
  add column if not exists w_sa5 numeric,
  add column if not exists w_ss1 numeric,
  add column if not exists w_trades_1m integer,
  add column if not exists w_trades_5m integer,
  add column if not exists w_qv_1m numeric,
  add column if not exists w_qv_5m numeric,
  add column if not exists w_buy_qv_5m numeric,
  add column if not exists w_min_id bigint,
  add column if not exists w_max_id bigint,
  add column if not exists w_l2_bad_1m integer,
  add column if not exists w_l2_bad_5m integer,
  add column if not exists w_l2_snap_5m integer,
  add column if not exists w_l3_bad_1m integer,
  add column if not exists w_touch_1m integer;
comment on column kapitaal.state_symbol_latest.w_now is
  'bucket_now (state__windows) the window cache (w_*) is valid for; null or another bucket: stale, recomputed from state_buckets.';
comment on column kapitaal.state_symbol_latest.w_first5_start is 'First bucket of the 5-minute window (its return is from its own open).';
comment on column kapitaal.state_symbol_latest.w_first1_start is 'First bucket of the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_fp5_start is 'First priced bucket of the 5-minute window (its open is ret_5m''s base).';
comment on column kapitaal.state_symbol_latest.w_fp1_start is 'First priced bucket of the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_last_start is 'Newest bucket of the symbol (also beyond bucket_now): the only one the delta path may touch.';
comment on column kapitaal.state_symbol_latest.w_last_close is 'Price-path close of the newest bucket (null: unpriced).';
comment on column kapitaal.state_symbol_latest.w_prev_close is 'Close of the bucket before the newest (null: none or unpriced): the base of the newest bucket''s return.';
comment on column kapitaal.state_symbol_latest.w_last_r is 'Bucket return of the newest bucket as counted in w_ss5/w_sa5/w_ss1 (null: unpriced).';
comment on column kapitaal.state_symbol_latest.w_ss5 is 'Sum of squared bucket returns over the 5-minute window (null: no priced bucket).';
comment on column kapitaal.state_symbol_latest.w_sa5 is 'Sum of absolute bucket returns over the 5-minute window.';
comment on column kapitaal.state_symbol_latest.w_ss1 is 'Sum of squared bucket returns over the 1-minute window (null: no priced bucket).';

-- Every refresh rewrites the touched rows; free space on the page lets those updates be HOT
-- (no index entries), since no indexed column changes.
alter table kapitaal.state_symbol_latest set (fillfactor = 50);
--! EndIncluded state/state_symbol_latest.sql
--! Included state/from_raw.sql
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
--! EndIncluded state/from_raw.sql
--! Included state/source_pass.sql
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
  with t as (
    select r.symbol, date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
           count(*)::integer as n,
           min(array[extract(epoch from r.received_at), r.seq, (r.bid + r.ask) * 0.5]) as open_key,
           -- [epoch, seq, mid, bid, ask]: [1:3] is the bucket's close, the rest the newest quote
           max(array[extract(epoch from r.received_at), r.seq, (r.bid + r.ask) * 0.5, r.bid, r.ask]) as last,
           max(r.received_at) as at
      from kapitaal.ticker_samples r
     where r.run_id = p_run_id and r.txid >= p_lo_ticker and r.txid < p_hi
     group by 1, 2
  ), d as (
    select r.symbol, date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
           count(*)::integer as n,
           sum(r.price * r.qty) as quote_volume,
           coalesce(sum(r.price * r.qty) filter (where r.side = 'buy'), 0) as buy_quote_volume,
           min(r.trade_id) as min_id, max(r.trade_id) as max_id,
           max(array[extract(epoch from r.received_at), r.seq, r.price]) as last,
           max(r.received_at) as at
      from kapitaal.trade_samples r
     where r.run_id = p_run_id and r.txid >= p_lo_trade and r.txid < p_hi
     group by 1, 2
  ), b2 as (
    select r.symbol, date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
           count(*)::integer as n,
           count(*) filter (where not r.checksum_ok)::integer as bad_n,
           count(*) filter (where r.is_snapshot)::integer as snapshot_n,
           min(array[extract(epoch from r.received_at), r.seq, (r.bid_px[1] + r.ask_px[1]) * 0.5])
             filter (where r.checksum_ok and r.bid_px[1] is not null and r.ask_px[1] is not null) as open_key,
           max(array[extract(epoch from r.received_at), r.seq, (r.bid_px[1] + r.ask_px[1]) * 0.5])
             filter (where r.checksum_ok and r.bid_px[1] is not null and r.ask_px[1] is not null) as close_key,
           -- newest sample, valid or not: [epoch, seq]; its book is fetched by seq afterwards
           max(array[extract(epoch from r.received_at), r.seq]) as last,
           max(r.received_at) as at
      from kapitaal.l2_snap_metrics r
     where r.run_id = p_run_id and r.txid >= p_lo_l2 and r.txid < p_hi
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
--! EndIncluded state/source_pass.sql
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
         coalesce(ag.n5, 0)::integer, ag.open5, ag.open1, ag.close_last, ag.ss5, ag.sa5, ag.ss1,
         coalesce(ag.trades_1m, 0)::integer, coalesce(ag.trades_5m, 0)::integer,
         coalesce(ag.qv_1m, 0), coalesce(ag.qv_5m, 0), coalesce(ag.buy_qv_5m, 0),
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
--! EndIncluded state/compose.sql
--! Included state/merge.sql
-- Folds a txid range of raw rows into the working set in one statement: one upsert per
-- touched bucket and one per touched symbol, whatever the number of raw tables involved.
-- The same upsert keeps the window cache (w_* columns of state_symbol_latest) current by
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
    select x.symbol,
           case when x.mid is not null then coalesce(sum(u.bp * u.bq) filter (where u.bp >= x.mid * 0.9990), 0) end as bid10,
           case when x.mid is not null then coalesce(sum(u.bp * u.bq) filter (where u.bp >= x.mid * 0.9950), 0) end as bid50,
           case when x.mid is not null then coalesce(sum(u.ap * u.aq) filter (where u.ap <= x.mid * 1.0010), 0) end as ask10,
           case when x.mid is not null then coalesce(sum(u.ap * u.aq) filter (where u.ap <= x.mid * 1.0050), 0) end as ask50
      from l2n x
     cross join lateral unnest(x.bid_px, x.bid_qty, x.ask_px, x.ask_qty) as u(bp, bq, ap, aq)
     group by x.symbol, x.mid
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
    insert into kapitaal.state_buckets as b
    select * from d
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
    returning b.symbol, b.bucket_start,
              nullif(case when b.l2_close is not null then b.l2_open[3] else b.ticker_open[3] end, 0) as p_open,
              nullif(case when b.l2_close is not null then b.l2_close[3] else b.ticker_close[3] end, 0) as p_close
  ), t as (
    -- touched buckets with their deltas and the symbol's cache before this refresh
    select ub.symbol, ub.bucket_start, ub.p_open, ub.p_close, ub.bucket_start >= v_from_1m as in_1m,
           d.trade_n, d.trade_quote_volume, d.trade_buy_quote_volume, d.trade_min_id, d.trade_max_id,
           d.l2_bad_n, d.l2_snapshot_n, d.l3_bad_n, d.l3_touch_adds + d.l3_touch_deletes as touch,
           o.w_now, o.w_first5_start, o.w_first1_start, o.w_fp5_start, o.w_fp1_start,
           o.w_last_start, o.w_last_close, o.w_prev_close, o.w_last_r,
           row_number() over s as i, count(*) over (partition by ub.symbol) as k, lag(ub.p_close) over s as lag_close
      from ub
      join d on d.symbol = ub.symbol and d.bucket_start = ub.bucket_start
      left join kapitaal.state_symbol_latest o on o.run_id = p_run_id and o.symbol = ub.symbol
    window s as (partition by ub.symbol order by ub.bucket_start)
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
      from t
     cross join lateral (
       select case when t.i > 1 then t.lag_close
                   when t.bucket_start = t.w_last_start then t.w_prev_close
                   else t.w_last_close end as pclose
     ) x
  ), g as (
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
     group by tr.symbol
  ), merged_latest as (
    insert into kapitaal.state_symbol_latest as l
      (run_id, symbol, ticker_key, ticker_at, ticker_bid, ticker_ask, trade_key, trade_at, trade_price,
       l2_key, l2_at, l2_checksum_ok, l2_best_bid, l2_best_ask, l2_bid_qty, l2_ask_qty,
       l2_bid_depth_10bps, l2_ask_depth_10bps, l2_bid_depth_50bps, l2_ask_depth_50bps,
       l3_key, l3_at, l3_checksum_ok, l3_bid_qty, l3_bid_orders, l3_ask_qty, l3_ask_orders,
       w_now, w_first5_start, w_first1_start, w_fp5_start, w_fp1_start, w_last_start, w_last_close, w_prev_close, w_last_r,
       w_n5, w_open5, w_open1, w_close_last, w_ss5, w_sa5, w_ss1, w_trades_1m, w_trades_5m, w_qv_1m, w_qv_5m, w_buy_qv_5m, w_min_id, w_max_id, w_l2_bad_1m, w_l2_bad_5m, w_l2_snap_5m, w_l3_bad_1m, w_touch_1m)
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
           o.w_ss5 + g.rr5 - g.old_rr5, o.w_sa5 + g.ra5 - g.old_ra5, o.w_ss1 + g.rr1 - g.old_rr1,
           o.w_trades_1m + g.trades_1m, o.w_trades_5m + g.trades_5m,
           o.w_qv_1m + g.qv_1m, o.w_qv_5m + g.qv_5m, o.w_buy_qv_5m + g.buy_qv_5m,
           least(o.w_min_id, g.min_id), greatest(o.w_max_id, g.max_id),
           o.w_l2_bad_1m + g.l2_bad_1m, o.w_l2_bad_5m + g.l2_bad_5m, o.w_l2_snap_5m + g.l2_snap_5m,
           o.w_l3_bad_1m + g.l3_bad_1m, o.w_touch_1m + g.touch_1m
      from lat
      left join g on g.symbol = lat.symbol
      left join kapitaal.state_symbol_latest o on o.run_id = p_run_id and o.symbol = lat.symbol
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
        l3_ask_orders  = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_ask_orders else l.l3_ask_orders end,

      w_now = case when excluded.w_now = '-infinity' then l.w_now else excluded.w_now end,
      w_first5_start = case when excluded.w_now = '-infinity' then l.w_first5_start else excluded.w_first5_start end,
      w_first1_start = case when excluded.w_now = '-infinity' then l.w_first1_start else excluded.w_first1_start end,
      w_fp5_start = case when excluded.w_now = '-infinity' then l.w_fp5_start else excluded.w_fp5_start end,
      w_fp1_start = case when excluded.w_now = '-infinity' then l.w_fp1_start else excluded.w_fp1_start end,
      w_last_start = case when excluded.w_now = '-infinity' then l.w_last_start else excluded.w_last_start end,
      w_last_close = case when excluded.w_now = '-infinity' then l.w_last_close else excluded.w_last_close end,
      w_prev_close = case when excluded.w_now = '-infinity' then l.w_prev_close else excluded.w_prev_close end,
      w_last_r = case when excluded.w_now = '-infinity' then l.w_last_r else excluded.w_last_r end,
      w_n5 = case when excluded.w_now = '-infinity' then l.w_n5 else excluded.w_n5 end,
      w_open5 = case when excluded.w_now = '-infinity' then l.w_open5 else excluded.w_open5 end,
      w_open1 = case when excluded.w_now = '-infinity' then l.w_open1 else excluded.w_open1 end,
      w_close_last = case when excluded.w_now = '-infinity' then l.w_close_last else excluded.w_close_last end,
      w_ss5 = case when excluded.w_now = '-infinity' then l.w_ss5 else excluded.w_ss5 end,
      w_sa5 = case when excluded.w_now = '-infinity' then l.w_sa5 else excluded.w_sa5 end,
      w_ss1 = case when excluded.w_now = '-infinity' then l.w_ss1 else excluded.w_ss1 end,
      w_trades_1m = case when excluded.w_now = '-infinity' then l.w_trades_1m else excluded.w_trades_1m end,
      w_trades_5m = case when excluded.w_now = '-infinity' then l.w_trades_5m else excluded.w_trades_5m end,
      w_qv_1m = case when excluded.w_now = '-infinity' then l.w_qv_1m else excluded.w_qv_1m end,
      w_qv_5m = case when excluded.w_now = '-infinity' then l.w_qv_5m else excluded.w_qv_5m end,
      w_buy_qv_5m = case when excluded.w_now = '-infinity' then l.w_buy_qv_5m else excluded.w_buy_qv_5m end,
      w_min_id = case when excluded.w_now = '-infinity' then l.w_min_id else excluded.w_min_id end,
      w_max_id = case when excluded.w_now = '-infinity' then l.w_max_id else excluded.w_max_id end,
      w_l2_bad_1m = case when excluded.w_now = '-infinity' then l.w_l2_bad_1m else excluded.w_l2_bad_1m end,
      w_l2_bad_5m = case when excluded.w_now = '-infinity' then l.w_l2_bad_5m else excluded.w_l2_bad_5m end,
      w_l2_snap_5m = case when excluded.w_now = '-infinity' then l.w_l2_snap_5m else excluded.w_l2_snap_5m end,
      w_l3_bad_1m = case when excluded.w_now = '-infinity' then l.w_l3_bad_1m else excluded.w_l3_bad_1m end,
      w_touch_1m = case when excluded.w_now = '-infinity' then l.w_touch_1m else excluded.w_touch_1m end
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
--! Included state/recompute.sql
create or replace function kapitaal.run_symbol_state__recompute(p_run_id bigint, p_now timestamptz default now())
returns setof kapitaal.run_symbol_state
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_scratch bigint := -p_run_id;
begin
  -- The working set is rebuilt from every committed raw row in one batch under a scratch
  -- key (the negated run id), with the per-purpose readers (not state__raw_pass) and every
  -- symbol's window aggregates from its buckets (never the delta path), composed like the
  -- refresh's rows, and removed.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.run_symbol_state__recompute', p_run_id));
  delete from state_buckets where run_id = v_scratch;
  delete from state_symbol_latest where run_id = v_scratch;
  insert into state_symbol_latest
    (run_id, symbol, ticker_key, ticker_at, ticker_bid, ticker_ask, trade_key, trade_at, trade_price,
     l2_key, l2_at, l2_checksum_ok, l2_best_bid, l2_best_ask, l2_bid_qty, l2_ask_qty,
     l2_bid_depth_10bps, l2_ask_depth_10bps, l2_bid_depth_50bps, l2_ask_depth_50bps,
     l3_key, l3_at, l3_checksum_ok, l3_bid_qty, l3_bid_orders, l3_ask_qty, l3_ask_orders)
  select v_scratch, x.symbol, x.ticker_key, x.ticker_at, x.ticker_bid, x.ticker_ask, x.trade_key, x.trade_at, x.trade_price,
         x.l2_key, x.l2_at, x.l2_checksum_ok, x.l2_best_bid, x.l2_best_ask, x.l2_bid_qty, x.l2_ask_qty,
         x.l2_bid_depth_10bps, x.l2_ask_depth_10bps, x.l2_bid_depth_50bps, x.l2_ask_depth_50bps,
         x.l3_key, x.l3_at, x.l3_checksum_ok, x.l3_bid_qty, x.l3_bid_orders, x.l3_ask_qty, x.l3_ask_orders
    from state__latest_between(p_run_id, '0', '0', '0', '0', state__max_xid8()) x;
  insert into state_buckets
  select v_scratch, b.symbol, b.bucket_start, b.ticker_n, b.ticker_open, b.ticker_close,
         b.trade_n, b.trade_quote_volume, b.trade_buy_quote_volume, b.trade_min_id, b.trade_max_id,
         b.l2_n, b.l2_bad_n, b.l2_snapshot_n, b.l2_open, b.l2_close,
         b.l3_n, b.l3_bad_n, b.l3_touch_adds, b.l3_touch_deletes
    from state__buckets_between(p_run_id, '0', '0', '0', '0', state__max_xid8(),
                                (select w.from_5m from state__windows(p_now) w)) b;
  perform state__window_cache_refresh(v_scratch, p_now, false);
  return query
    select (jsonb_populate_record(c, jsonb_build_object('run_id', p_run_id))).*
      from state__compose_cached(v_scratch) c;
  delete from state_buckets where run_id = v_scratch;
  delete from state_symbol_latest where run_id = v_scratch;
end
$$;
comment on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) is
  'Test oracle and audit tool: the run''s state recomputed from scratch at p_now from every committed raw row (full '
  'scan of the run''s partitions, no watermarks, one batch instead of many merges, window aggregates of every symbol '
  'from its buckets instead of the delta path), composed under a scratch key and '
  'removed again. Metric columns must equal those the incremental refresh left at the same p_now; generation and '
  'regime columns are null (the regime depends on the history of refreshes). O(run size): never on the hot path.';

create or replace function kapitaal.run_symbol_state__metrics(p_state kapitaal.run_symbol_state)
returns jsonb
language sql
immutable
as $$
  select to_jsonb(p_state) - array['run_id', 'generation_id', 'refreshed_at', 'regime', 'regime_since', 'regime_indicated',
                                   'regime_reason', 'regime_candidate', 'regime_streak']
$$;
comment on function kapitaal.run_symbol_state__metrics(kapitaal.run_symbol_state) is
  'The market-data columns of a state row as jsonb (without run, generation and regime): what the recomputation oracle compares.';
--! EndIncluded state/recompute.sql
--! Included state/digest.sql
-- The state digest: md5 over the run's rows as record text, every column but generation_id and
-- refreshed_at, in symbol order. Record text costs a fifth of to_jsonb per row; TimeZone and
-- DateStyle are pinned so both clusters render timestamps alike whatever the session says.
-- A column added to run_symbol_state must be added here (test/sql/state/digest.test.ts fails otherwise).
create or replace function kapitaal.run_symbol_state__digest(p_run_id bigint)
returns text
language sql
stable
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
as $$
  select md5(coalesce(string_agg(row(
           s.run_id, s.symbol, s.last_ticker_at, s.last_trade_at, s.last_l2_at, s.last_l3_at, s.book_source, s.best_bid,
           s.best_ask, s.mid, s.spread_bps, s.microprice, s.bid_depth_10bps_quote, s.ask_depth_10bps_quote,
           s.bid_depth_50bps_quote, s.ask_depth_50bps_quote, s.book_imbalance, s.book_valid, s.last_trade_price,
           s.l3_bid_touch_qty, s.l3_bid_touch_orders, s.l3_ask_touch_qty, s.l3_ask_touch_orders, s.l3_valid,
           s.l3_touch_churn_1m, s.ret_1m_bps, s.ret_5m_bps, s.vol_1m_bps, s.vol_5m_bps, s.trend_strength_5m,
           s.price_buckets_5m, s.trades_1m, s.trades_5m, s.quote_volume_1m, s.quote_volume_5m, s.buy_quote_volume_5m,
           s.l2_checksum_failures_1m, s.l2_checksum_failures_5m, s.l3_checksum_failures_1m, s.l2_resyncs_5m,
           s.trade_id_gaps_5m, s.regime, s.regime_since, s.regime_indicated, s.regime_reason, s.regime_candidate,
           s.regime_streak)::text, E'\n' order by s.symbol), ''))
    from kapitaal.run_symbol_state s
   where s.run_id = p_run_id
$$;
comment on function kapitaal.run_symbol_state__digest(bigint) is
  'md5 over the run''s run_symbol_state rows in symbol order, each as the record text of every column except '
  'generation_id and refreshed_at (timestamps in UTC, ISO). Equal digests mean equal state (numerics with their scale); '
  'state_generations records it per refresh so the decision cluster can verify a sync. Same function on both clusters.';
--! EndIncluded state/digest.sql
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
  symbols_recomputed integer
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

  -- Every transaction below the snapshot xmin has finished: its rows are final and visible
  -- to every later statement. Rows of transactions still running stay for the next refresh.
  v_hi := kapitaal.raw_txid_horizon();
  v_now := greatest(p_now, v_prev_now);
  v_from := (select w.from_5m from kapitaal.state__windows(v_now) w);
  v_gen := nextval('kapitaal.state_generation_seq');
  select * into v_policy from kapitaal.regime_policy where policy = 'default';

  select m.ticker_rows, m.trade_rows, m.l2_rows, m.l3_rows, m.symbols_changed
    into ticker_rows, trade_rows, l2_rows, l3_rows, symbols_changed
    from kapitaal.state__merge(p_run_id, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3,
                               greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3), v_now) m;

  -- Buckets that left the longest window are never read again.
  delete from kapitaal.state_buckets b where b.run_id = p_run_id and b.bucket_start < v_from;
  get diagnostics buckets_deleted = row_count;

  -- Window caches the merge could not update by deltas (windows moved, late rows, new symbols).
  symbols_recomputed := kapitaal.state__window_cache_refresh(p_run_id, v_now, true);

  insert into kapitaal.run_symbol_state as s
  select c.run_id, c.symbol, v_gen, v_now,
         c.last_ticker_at, c.last_trade_at, c.last_l2_at, c.last_l3_at,
         c.book_source, c.best_bid, c.best_ask, c.mid, c.spread_bps, c.microprice,
         c.bid_depth_10bps_quote, c.ask_depth_10bps_quote, c.bid_depth_50bps_quote, c.ask_depth_50bps_quote,
         c.book_imbalance, c.book_valid, c.last_trade_price,
         c.l3_bid_touch_qty, c.l3_bid_touch_orders, c.l3_ask_touch_qty, c.l3_ask_touch_orders, c.l3_valid,
         c.l3_touch_churn_1m,
         c.ret_1m_bps, c.ret_5m_bps, c.vol_1m_bps, c.vol_5m_bps, c.trend_strength_5m, c.price_buckets_5m,
         c.trades_1m, c.trades_5m, c.quote_volume_1m, c.quote_volume_5m, c.buy_quote_volume_5m,
         c.l2_checksum_failures_1m, c.l2_checksum_failures_5m, c.l3_checksum_failures_1m, c.l2_resyncs_5m,
         c.trade_id_gaps_5m,
         st.regime, st.since, ind.regime, ind.reason, st.candidate, st.streak
    from kapitaal.state__compose_cached(p_run_id) c
    -- previous regime columns (hash join: see enable_nestloop above)
    left join kapitaal.run_symbol_state p on p.run_id = p_run_id and p.symbol = c.symbol
    cross join lateral kapitaal.regime__indicate(c, p.regime, v_policy, v_now) ind
    cross join lateral kapitaal.regime__step(p.regime, p.regime_since, p.regime_candidate, p.regime_streak,
                                             ind.regime, v_policy, v_now) st
  on conflict (run_id, symbol) do update set
    generation_id = excluded.generation_id, refreshed_at = excluded.refreshed_at,
    last_ticker_at = excluded.last_ticker_at, last_trade_at = excluded.last_trade_at,
    last_l2_at = excluded.last_l2_at, last_l3_at = excluded.last_l3_at,
    book_source = excluded.book_source, best_bid = excluded.best_bid, best_ask = excluded.best_ask,
    mid = excluded.mid, spread_bps = excluded.spread_bps, microprice = excluded.microprice,
    bid_depth_10bps_quote = excluded.bid_depth_10bps_quote, ask_depth_10bps_quote = excluded.ask_depth_10bps_quote,
    bid_depth_50bps_quote = excluded.bid_depth_50bps_quote, ask_depth_50bps_quote = excluded.ask_depth_50bps_quote,
    book_imbalance = excluded.book_imbalance, book_valid = excluded.book_valid,
    last_trade_price = excluded.last_trade_price,
    l3_bid_touch_qty = excluded.l3_bid_touch_qty, l3_bid_touch_orders = excluded.l3_bid_touch_orders,
    l3_ask_touch_qty = excluded.l3_ask_touch_qty, l3_ask_touch_orders = excluded.l3_ask_touch_orders,
    l3_valid = excluded.l3_valid, l3_touch_churn_1m = excluded.l3_touch_churn_1m,
    ret_1m_bps = excluded.ret_1m_bps, ret_5m_bps = excluded.ret_5m_bps,
    vol_1m_bps = excluded.vol_1m_bps, vol_5m_bps = excluded.vol_5m_bps,
    trend_strength_5m = excluded.trend_strength_5m, price_buckets_5m = excluded.price_buckets_5m,
    trades_1m = excluded.trades_1m, trades_5m = excluded.trades_5m,
    quote_volume_1m = excluded.quote_volume_1m, quote_volume_5m = excluded.quote_volume_5m,
    buy_quote_volume_5m = excluded.buy_quote_volume_5m,
    l2_checksum_failures_1m = excluded.l2_checksum_failures_1m, l2_checksum_failures_5m = excluded.l2_checksum_failures_5m,
    l3_checksum_failures_1m = excluded.l3_checksum_failures_1m, l2_resyncs_5m = excluded.l2_resyncs_5m,
    trade_id_gaps_5m = excluded.trade_id_gaps_5m,
    regime = excluded.regime, regime_since = excluded.regime_since, regime_indicated = excluded.regime_indicated,
    regime_reason = excluded.regime_reason, regime_candidate = excluded.regime_candidate,
    regime_streak = excluded.regime_streak;
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
  'with txid in [watermark, snapshot xmin) per table, so a row is folded in once, after its transaction finished, '
  'however late it commits. Cost: O(new rows + buckets in the 5-minute window + symbols). Rewrites all rows of the run '
  'with a new generation_id, records the generation in state_generations and returns the outcome (symbols_recomputed: '
  'symbols whose window aggregates were recomputed from their buckets instead of updated by deltas). Effective time is '
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

--! split: 4-cycle.sql
--! Included decision/job_chain__wanted.sql
create or replace function kapitaal.job_chain__wanted(p_task text, p_payload jsonb)
returns boolean
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select case p_task
    when 'evaluation__run' then
      exists (select 1 from kapitaal.decision_settings d where d.evaluation_enabled and d.cluster_role <> 'ingest')
    when 'state__sync' then
      exists (select 1 from kapitaal.decision_settings d where d.cluster_role = 'ingest' and d.feed = 'sync')
      and exists (select 1 from kapitaal.ingest_runs r
                   where r.run_id = (p_payload->>'run_id')::bigint and r.status = 'running')
    when 'run_symbol_state__refresh' then
      -- As the refresh job's own re-queue: while the run is running.
      exists (select 1 from kapitaal.ingest_runs r
                   where r.run_id = (p_payload->>'run_id')::bigint and r.status = 'running')
    else false
  end
$$;
comment on function kapitaal.job_chain__wanted(text, jsonb) is
  'Whether a chain step should keep cycling on this database: evaluation__run while an execution runtime evaluates '
  'here; state__sync for a running ingest run while this is an ingest cluster in sync mode; run_symbol_state__refresh '
  'while its ingest run is running.';
--! EndIncluded decision/job_chain__wanted.sql
--! Included decision/job_chain__failed.sql
create or replace function kapitaal.job_chain__failed(
  p_task text,
  p_job_key text,
  p_payload jsonb,
  p_job_id bigint,
  p_error text,
  p_delay interval default null,
  p_now timestamptz default now()
)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_failures integer := coalesce((p_payload->>'failures')::integer, 0) + 1;
  v_delay interval;
  v_next timestamptz;
begin
  if kapitaal.job_chain__wanted(p_task, p_payload) then
    v_delay := coalesce(p_delay, case p_task
      when 'evaluation__run' then (select p.evaluation_cadence from kapitaal.decision_policy p where p.policy = 'default')
      when 'run_symbol_state__refresh' then (select p.cadence from kapitaal.state_refresh_policy p where p.policy = 'default')
      else (select p.sync_cadence from kapitaal.decision_policy p where p.policy = 'default') end);
    v_next := kapitaal.job_chain__next(p_task, p_job_key, p_payload, 'backoff', v_delay, v_failures, p_now);
  end if;
  insert into kapitaal.job_chain_incidents (at, task_identifier, job_key, job_id, action, failures, next_run_at, detail)
  values (p_now, p_task, p_job_key, p_job_id, 'step_failed', v_failures, v_next, left(p_error, 2000));
  return v_next;
end
$$;
comment on function kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz) is
  'Called (in its own transaction) when a chain step throws, before the job is failed: records a step_failed '
  'incident and queues the next cycle with backoff, so the failing job becomes final (visible as failed in '
  'job_queue_status with its error) and the chain goes on. Returns the next run_at (null: the chain is not wanted '
  'any more, e.g. the ingest run ended).';
--! EndIncluded decision/job_chain__failed.sql
--! Included decision/job_chain__next.sql
create or replace function kapitaal.job_chain__next(
  p_task text,
  p_job_key text,
  p_payload jsonb,
  p_mode text,
  p_delay interval default interval '0',
  p_failures integer default 0,
  p_now timestamptz default now()
)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_pol kapitaal.decision_policy;
  v_run_at timestamptz;
  v_payload jsonb := coalesce(p_payload, '{}'::jsonb) - 'failures';
  v_pending graphile_worker.jobs;
  -- Refreshes of one run run one at a time: a follow-up queued while one runs waits in the
  -- run's Graphile queue instead of holding a worker on the refresh lock.
  v_queue text := case when p_task = 'run_symbol_state__refresh' then p_job_key end;
begin
  if p_mode not in ('immediate', 'cadence', 'backoff') then
    raise exception 'job_chain__next: mode must be immediate, cadence or backoff, got %', p_mode using errcode = '22023';
  end if;
  select * into v_pol from kapitaal.decision_policy where policy = 'default';
  if p_mode = 'immediate' then
    -- A step waiting out a backoff is not pulled forward by new work (that would turn an outage
    -- into a failure per refresh); everything else runs now.
    select * into v_pending from graphile_worker.jobs j
     where j.key = p_job_key and j.locked_at is null and j.attempts < j.max_attempts and j.flags ? 'chain_backoff';
    if found then
      return v_pending.run_at;
    end if;
    v_run_at := p_now;
    perform graphile_worker.add_job(p_task, v_payload::json, queue_name => v_queue, run_at => v_run_at, job_key => p_job_key,
                                    job_key_mode => 'replace', max_attempts => v_pol.chain_max_attempts);
  elsif p_mode = 'cadence' then
    -- preserve_run_at: a pending job that was already queued for sooner (new work) keeps its time.
    v_run_at := p_now + p_delay;
    perform graphile_worker.add_job(p_task, v_payload::json, queue_name => v_queue, run_at => v_run_at, job_key => p_job_key,
                                    job_key_mode => 'preserve_run_at', max_attempts => v_pol.chain_max_attempts);
  else
    v_run_at := p_now + least(greatest(p_delay, interval '1 second') * power(2, least(greatest(p_failures, 1), 20) - 1),
                              v_pol.chain_max_backoff);
    perform graphile_worker.add_job(p_task, (v_payload || jsonb_build_object('failures', p_failures))::json,
                                    queue_name => v_queue, run_at => v_run_at, job_key => p_job_key, job_key_mode => 'replace',
                                    max_attempts => v_pol.chain_max_attempts, flags => array['chain_backoff']);
  end if;
  return v_run_at;
end
$$;
comment on function kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz) is
  'Queues the next cycle of a chain step (at most one pending per job_key). immediate: run now (new work; a pending '
  'backoff job is left alone); cadence: run at p_now + p_delay unless already queued for sooner; backoff: after '
  'p_failures consecutive failures, run at p_now + min(max(p_delay, 1 s) * 2^(failures-1), chain_max_backoff), '
  'flagged chain_backoff, payload.failures = p_failures. Called inside the transaction that finishes the step, so the '
  'chain advances exactly when the step commits. When the key is held by the running job, Graphile Worker moves the '
  'key to the new job and marks the running one final: if it then fails it stays visible as failed, never retried. '
  'run_symbol_state__refresh jobs go to the Graphile queue named after their key (one refresh of a run at a time).';
--! EndIncluded decision/job_chain__next.sql
--! Included worker/run_symbol_state__refresh_cycle.sql
-- The refresh job's body without a cadence wait while data streams (supersedes
-- run_symbol_state__refresh_job of sql/state/refresh_job.sql, which always waited the cadence).
create or replace function kapitaal.run_symbol_state__refresh_cycle(
  p_run_id bigint,
  p_cadence_seconds numeric default null,
  p_now timestamptz default now()
)
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
  run_status text,
  requeued boolean,
  next_run_at timestamptz,
  next_mode text
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_key text := 'run_symbol_state__refresh:' || p_run_id;
  v_payload jsonb;
  v_pending record;
begin
  if p_cadence_seconds is not null and (p_cadence_seconds <= 0 or p_cadence_seconds > 3600) then
    raise exception 'run_symbol_state__refresh_cycle: cadence must be in (0, 3600] seconds, got %', p_cadence_seconds
      using errcode = '22023';
  end if;
  select o.generation_id, o.run_id, o.refreshed_at, o.ticker_rows, o.trade_rows, o.l2_rows, o.l3_rows, o.rows_read,
         o.symbols, o.symbols_changed, o.buckets_deleted, o.watermark_from, o.watermark_to, o.state_digest, o.duration_ms
    into generation_id, run_id, refreshed_at, ticker_rows, trade_rows, l2_rows, l3_rows, rows_read,
         symbols, symbols_changed, buckets_deleted, watermark_from, watermark_to, state_digest, duration_ms
    from kapitaal.refresh_run_symbol_state(p_run_id, p_now) o;

  select r.status into run_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  requeued := run_status = 'running';
  if not requeued then
    return next;
    return;
  end if;
  -- Rows committed meanwhile but above this refresh's horizon (their writer was still running,
  -- or an older transaction was): the next refresh has work now. New statement, so it sees them.
  if exists (select 1 from kapitaal.ticker_samples t where t.run_id = p_run_id and t.txid >= watermark_to)
     or exists (select 1 from kapitaal.trade_samples t where t.run_id = p_run_id and t.txid >= watermark_to)
     or exists (select 1 from kapitaal.l2_snap_metrics t where t.run_id = p_run_id and t.txid >= watermark_to)
     or exists (select 1 from kapitaal.l3_queue_metrics t where t.run_id = p_run_id and t.txid >= watermark_to) then
    next_mode := 'immediate';
    next_run_at := p_now;
  else
    -- Idle: nothing left to fold in. A writer's batch record pulls this forward
    -- (run_symbol_state__refresh_wake), so the cadence only paces an idle run.
    next_mode := 'cadence';
    next_run_at := p_now + coalesce(make_interval(secs => p_cadence_seconds::double precision),
                                    (select p.cadence from kapitaal.state_refresh_policy p where p.policy = 'default'),
                                    interval '2 seconds');
  end if;
  v_payload := jsonb_build_object('run_id', p_run_id);
  if p_cadence_seconds is not null then
    v_payload := v_payload || jsonb_build_object('cadence_seconds', p_cadence_seconds);
  end if;
  -- A wake (or the watchdog) may already have queued the next refresh while this one ran.
  select j.run_at into v_pending from graphile_worker._private_jobs j where j.key = v_key and j.locked_at is null;
  if found and v_pending.run_at <= next_run_at then
    next_run_at := v_pending.run_at;
    return next;
    return;
  end if;
  -- Same transaction as the refresh. preserve_run_at: a wake committed while this waited on the
  -- key keeps its (sooner) time; at most one pending refresh per run (job key).
  perform graphile_worker.add_job(
    'run_symbol_state__refresh',
    v_payload::json,
    queue_name => v_key, -- one refresh of a run at a time (as job_chain__next)
    run_at => next_run_at,
    job_key => v_key,
    job_key_mode => case when found then 'replace' else 'preserve_run_at' end,
    max_attempts => (select p.chain_max_attempts from kapitaal.decision_policy p where p.policy = 'default'));
  return next;
end
$$;
comment on function kapitaal.run_symbol_state__refresh_cycle(bigint, numeric, timestamptz) is
  'Body of the Graphile Worker task run_symbol_state__refresh (supersedes run_symbol_state__refresh_job): '
  'refresh_run_symbol_state, then, while the ingest run is running, queue the next refresh in the same transaction '
  '(job_key run_symbol_state__refresh:<run_id>): at once (next_mode immediate) when committed raw rows above this '
  'refresh''s horizon exist, else at p_now + cadence (next_mode cadence: p_cadence_seconds, else '
  'state_refresh_policy.cadence). A pending refresh queued sooner (by run_symbol_state__refresh_wake) is kept.';

revoke all on function kapitaal.run_symbol_state__refresh_cycle(bigint, numeric, timestamptz) from public;
grant execute on function kapitaal.run_symbol_state__refresh_cycle(bigint, numeric, timestamptz) to kapitaal_ingest_writer;
--! EndIncluded worker/run_symbol_state__refresh_cycle.sql
--! Included worker/run_symbol_state__refresh_wake.sql
-- New raw rows start the refresh at once: the writer's batch record pulls the run's pending
-- refresh forward, so no refresh waits out its cadence while data streams.
create or replace function kapitaal.run_symbol_state__refresh_wake(p_run_id bigint, p_now timestamptz default now())
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_key text := 'run_symbol_state__refresh:' || p_run_id;
  v_job record;
begin
  if to_regclass('graphile_worker._private_jobs') is null then
    return null;
  end if;
  -- Plain read first: on a busy run the next refresh is usually already due, and then the
  -- writer takes no lock at all.
  select j.run_at, j.locked_at, j.attempts, j.flags, j.payload into v_job
    from graphile_worker._private_jobs j where j.key = v_key;
  if not found then
    return null; -- no refresh chain for this run here (the watchdog seeds a missing one)
  end if;
  if v_job.locked_at is null and (v_job.run_at <= p_now or v_job.attempts > 0 or coalesce(v_job.flags ? 'chain_backoff', false)) then
    -- Already due, or a retry after a failure: new rows never pull a backoff forward.
    return v_job.run_at;
  end if;
  -- Pending for later (idle cadence): run now. Running: the running refresh may have taken its
  -- horizon before these rows, so queue a follow-up now (the running job's key moves to it).
  return kapitaal.job_chain__next('run_symbol_state__refresh', v_key, v_job.payload::jsonb, 'immediate',
                                  interval '0', 0, p_now);
end
$$;
comment on function kapitaal.run_symbol_state__refresh_wake(bigint, timestamptz) is
  'Pulls the next refresh of an ingest run forward to now because new raw rows were committed (called by the '
  'trigger on ingest_write_batches, in the writer''s transaction, so the job becomes visible with the rows): a refresh '
  'pending for later runs now; a running one gets a follow-up queued now; a due one or a retry after a failure '
  '(attempts > 0, chain_backoff) is left alone; no refresh job: nothing (job_chain__watchdog seeds it). Returns the '
  'pending refresh''s run_at (null: none).';

create or replace function kapitaal.tg_ingest_write_batches__wake_refresh()
returns trigger
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
begin
  perform kapitaal.run_symbol_state__refresh_wake(b.run_id)
     from (select distinct n.run_id from new_batches n) b;
  return null;
end
$$;
comment on function kapitaal.tg_ingest_write_batches__wake_refresh() is
  'After a statement inserting ingest_write_batches rows (one per collector batch): wake the refresh of each run '
  'written (run_symbol_state__refresh_wake).';

drop trigger if exists _500_wake_refresh on kapitaal.ingest_write_batches;
create trigger _500_wake_refresh
  after insert on kapitaal.ingest_write_batches
  referencing new table as new_batches
  for each statement execute function kapitaal.tg_ingest_write_batches__wake_refresh();
comment on trigger _500_wake_refresh on kapitaal.ingest_write_batches is
  'New raw rows of a run were committed with this batch: start its refresh now instead of after the cadence.';

revoke all on function kapitaal.run_symbol_state__refresh_wake(bigint, timestamptz) from public;
--! EndIncluded worker/run_symbol_state__refresh_wake.sql
--! Included decision/state__sync_payload.sql
-- json, not jsonb: the document is only ever sent as text, and json_agg of the wide state rows
-- costs a third of jsonb_agg(to_jsonb(...)) (numerics are copied as text, no key sorting).
drop function if exists kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer);
create function kapitaal.state__sync_payload(
  p_run_id bigint,
  p_after_generation bigint default null,
  p_after_epoch bigint default null,
  p_pairs_after timestamptz default null,
  p_max_epochs integer default 100
)
returns json
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  -- One statement, one snapshot: the newest generation and the state rows it stamped are
  -- read together (a refresh commits both in one transaction).
  with recursive lineage as (
    select r.run_id, r.parent_run_id from kapitaal.ingest_runs r where r.run_id = p_run_id
    union
    select r.run_id, r.parent_run_id from kapitaal.ingest_runs r join lineage l on r.run_id = l.parent_run_id
  ),
  g as (
    select * from kapitaal.state_generations sg where sg.run_id = p_run_id order by sg.generation_id desc limit 1
  ),
  gn as (
    select * from g where g.generation_id > coalesce(p_after_generation, 0)
  ),
  e as (
    select * from kapitaal.ingest_epochs ie
     where ie.run_id = p_run_id and ie.epoch > coalesce(p_after_epoch, 0)
     order by ie.epoch
     limit greatest(p_max_epochs, 1)
  )
  select json_build_object(
    'run_id', p_run_id,
    'read_at', clock_timestamp(),
    'newest_generation_id', (select g.generation_id from g),
    'runs', (select json_agg(r order by r.run_id)
               from kapitaal.ingest_runs r where r.run_id in (select l.run_id from lineage l)),
    'pairs', (select json_agg(p order by p.symbol)
                from kapitaal.run_pairs p
               where p.run_id = p_run_id and (p_pairs_after is null or p.updated_at >= p_pairs_after)),
    'epochs', (select json_agg(e order by e.epoch) from e),
    'snapshots', (select json_agg(s order by s.epoch, s.symbol)
                    from kapitaal.ingest_snapshots s join e on s.run_id = e.run_id and s.epoch = e.epoch),
    'more_epochs', exists (select 1 from kapitaal.ingest_epochs ie
                            where ie.run_id = p_run_id and ie.epoch > coalesce((select max(e.epoch) from e), p_after_epoch, 0)),
    'generation', (select row_to_json(gn) from gn),
    'state', case when exists (select 1 from gn) then
               coalesce((select json_agg(s order by s.symbol)
                           from kapitaal.run_symbol_state s where s.run_id = p_run_id), '[]'::json)
             end
  )
$$;
comment on function kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer) is
  'Ingest side of the sync: one json document with what the decision cluster lacks of a run (its cursor from '
  'state__sync_cursor): the run and its lineage (ingest_runs), changed run_pairs, up to p_max_epochs new epochs with '
  'their snapshots, and the newest generation with all its run_symbol_state rows when it is newer than '
  'p_after_generation (older generations are skipped: each generation is the complete state). Read in one snapshot, '
  'so the state rows are exactly those of the generation. Columns are generic (row_to_json of the row). json, not jsonb: it is '
  'sent as text and read by sync_run_symbol_state_to_decision(jsonb).';
--! EndIncluded decision/state__sync_payload.sql
--! Included decision/grants.sql
-- Least privilege for the decision layer. Roles come from migrations/roles.sql.
revoke all on function kapitaal.decision_settings__configure(text, text, boolean) from public;
revoke all on function kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz) from public;
revoke all on function kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz) from public;
revoke all on function kapitaal.job_chain__watchdog(timestamptz) from public;
revoke all on function kapitaal.decision__upsert_rows(regclass, jsonb) from public;
revoke all on function kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz) from public;
revoke all on function kapitaal.evaluation__run(bigint, timestamptz) from public;
revoke all on function kapitaal.evaluation__run_job(bigint, numeric, timestamptz) from public;
revoke all on function kapitaal.evaluation__gate(bigint, timestamptz) from public;
revoke all on function kapitaal.evaluations__prune(timestamptz) from public;
revoke all on function kapitaal.decision_publication__ensure(text) from public;

-- The feed: the ingest side reads its payload; on the decision cluster the same role applies it.
grant execute on function kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer),
  kapitaal.state__sync_cursor(bigint), kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz),
  kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz),
  kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz),
  kapitaal.job_chain__watchdog(timestamptz)
  to kapitaal_ingest_writer;

-- Execution: evaluates, checks the gate, reads what it decided.
grant execute on function kapitaal.evaluation__run(bigint, timestamptz), kapitaal.evaluation__run_job(bigint, numeric, timestamptz),
  kapitaal.evaluation__gate(bigint, timestamptz), kapitaal.generation_gate__check(bigint, bigint, timestamptz),
  kapitaal.execution_attach__resolve(timestamptz, bigint), kapitaal.decision_generation__current(bigint),
  kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz),
  kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz),
  kapitaal.job_chain__watchdog(timestamptz), kapitaal.evaluations__prune(timestamptz)
  to kapitaal_execution;
grant select on kapitaal.evaluations, kapitaal.evaluation_symbols, kapitaal.evaluation_gate_checks, kapitaal.decision_policy,
  kapitaal.decision_settings, kapitaal.state_generation_visibility, kapitaal.job_chain_incidents,
  kapitaal.decision_status, kapitaal.evaluation_outcomes, kapitaal.ingest_runs, kapitaal.ingest_epochs,
  kapitaal.ingest_snapshots, kapitaal.run_pairs
  to kapitaal_execution;

grant execute on function kapitaal.generation_gate__check(bigint, bigint, timestamptz),
  kapitaal.execution_attach__resolve(timestamptz, bigint), kapitaal.decision_generation__current(bigint),
  kapitaal.state__sync_cursor(bigint), kapitaal.job_chain__wanted(text, jsonb), kapitaal.decision_publication__tables()
  to kapitaal_readonly;
grant select on kapitaal.evaluations, kapitaal.evaluation_symbols, kapitaal.evaluation_gate_checks, kapitaal.decision_policy,
  kapitaal.decision_settings, kapitaal.state_generation_visibility, kapitaal.job_chain_incidents,
  kapitaal.decision_status, kapitaal.evaluation_outcomes
  to kapitaal_readonly;
--! EndIncluded decision/grants.sql
--! Included decision/evaluation__run.sql
create or replace function kapitaal.evaluation__run(p_run_id bigint default null, p_now timestamptz default now())
returns kapitaal.evaluations
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_t0 timestamptz := clock_timestamp();
  v_pol kapitaal.decision_policy;
  v_att record;
  v_gen jsonb;
  v_rows kapitaal.evaluation_symbols[];
  v_n int; v_eligible int; v_not_ready int; v_regime int; v_stale int; v_integrity int; v_cands int;
  v_mixed boolean;
  v_eval kapitaal.evaluations;
  v_outcome text;
  v_reason text;
  v_marker text;
  v_counts record;
  v_age interval;
  v_ranked record;
  v_strategy_layer boolean := to_regprocedure('kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text)') is not null;
begin
  select * into v_pol from kapitaal.decision_policy p where p.policy = 'default';
  select * into v_att from kapitaal.execution_attach__resolve(p_now, p_run_id);
  if not v_att.attached then
    insert into kapitaal.evaluations (run_id, epoch, outcome, reason, marker, evaluated_at, duration_ms)
    values (v_att.run_id, v_att.epoch, 'attach_blocked', v_att.reason, 'EXECUTION_ATTACH_BLOCKED', p_now,
            round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3))
    returning * into v_eval;
    return v_eval;
  end if;

  -- ONE statement, so one snapshot whatever the isolation level: the generation, the state rows,
  -- route freshness and readiness are all read from the same committed state (the stable functions
  -- run with the snapshot of this query). A generation synced meanwhile is seen completely or not.
  with st as (
    select s.* from kapitaal.run_symbol_state s where s.run_id = v_att.run_id
  ),
  pol as (
    -- Strategy fan-out of the strategy layer: entry route per strategy, regimes it may enter in.
    select sp.strategy, sp.route_type,
           coalesce(array_agg(e.regime) filter (where e.eligible), '{}') as regimes
      from kapitaal.strategy_policy sp
      left join kapitaal.strategy_regime_eligibility e on e.strategy = sp.strategy
     where sp.enabled
     group by sp.strategy, sp.route_type
  ),
  fr as (
    select f.symbol,
           jsonb_agg(jsonb_build_object('route_type', f.route_type, 'exec_allowed', f.exec_allowed,
                                        'marker', f.marker, 'reason', f.reason) order by f.route_type) as routes,
           coalesce(array_agg(f.route_type) filter (where f.exec_allowed), '{}') as allowed,
           coalesce(array_agg(f.route_type) filter (where f.exec_allowed and f.route_type in (select route_type from pol)), '{}')
             as allowed_entry,
           coalesce(array_agg(distinct f.marker || ': ' || f.reason)
                      filter (where not f.exec_allowed and f.route_type in (select route_type from pol)), '{}') as blocked,
           count(distinct f.generation_id) filter (where f.generation_id is distinct from (select max(x.generation_id) from st x)) as foreign_gens
      from kapitaal.apply_route_freshness_filter(v_att.run_id, p_now) f
     group by f.symbol
  ),
  rd as (
    select r.symbol,
           jsonb_agg(jsonb_build_object('strategy', r.strategy, 'ready', r.ready, 'reasons', r.reasons, 'detail', r.detail)
                     order by r.strategy) as readiness,
           coalesce(array_agg(r.strategy) filter (where r.ready), '{}') as ready,
           jsonb_object_agg(r.strategy, r.detail) as details,
           count(distinct r.generation_id) filter (where r.generation_id is distinct from (select max(x.generation_id) from st x)) as foreign_gens
      from kapitaal.strategy_readiness(v_att.run_id, p_now) r
     group by r.symbol
  ),
  fan as (
    select st.symbol, p.strategy, p.route_type,
           p.strategy = any (coalesce(rd.ready, '{}')) as ready,
           p.route_type = any (coalesce(fr.allowed, '{}')) as route_ok,
           rd.details->>p.strategy as detail
      from st
      join pol p on st.regime = any (p.regimes)
      left join rd on rd.symbol = st.symbol
      left join fr on fr.symbol = st.symbol
  ),
  fan_agg as (
    select f.symbol,
           jsonb_agg(jsonb_build_object('strategy', f.strategy, 'route_type', f.route_type) order by f.strategy)
             filter (where f.ready and f.route_ok) as cands,
           coalesce(array_agg(f.strategy || ': ' || case when not f.ready then coalesce(f.detail, 'not ready')
                                                      else 'route ' || f.route_type || ' not fresh' end
                              order by f.strategy) filter (where not (f.ready and f.route_ok)), '{}') as why
      from fan f
     group by f.symbol
  ),
  cls as (
    select st.symbol, st.regime, st.generation_id, st.mid, st.spread_bps,
           coalesce(fr.routes, '[]'::jsonb) as routes, coalesce(rd.readiness, '[]'::jsonb) as readiness,
           coalesce(fa.cands, '[]'::jsonb) as cands,
           coalesce(fr.foreign_gens, 0) + coalesce(rd.foreign_gens, 0) as foreign_gens,
           case
             when cardinality(coalesce(fr.allowed_entry, '{}')) = 0 then 'stale'
             when st.book_valid is false then 'integrity'
             when st.regime is null or fa.symbol is null then 'regime_blocked'
             when fa.cands is null then 'not_ready'
             else 'eligible'
           end as status,
           case
             when cardinality(coalesce(fr.allowed_entry, '{}')) = 0 then
               case when fr.symbol is null then array['NO_ROUTES: no enabled route type for this symbol'] else fr.blocked end
             when st.book_valid is false then array['BOOK_INVALID: newest L2 sample failed its checksum']
             when st.regime is null then array['REGIME_NOT_ESTABLISHED: ' || coalesce(st.regime_reason, 'regime not confirmed yet')]
             when fa.symbol is null then array[format('REGIME_%s: no strategy enters in this regime (%s)', st.regime, coalesce(st.regime_reason, ''))]
             when fa.cands is null then fa.why
             else array(select format('%s via %s', c->>'strategy', c->>'route_type') from jsonb_array_elements(fa.cands) c)
           end as reasons
      from st
      left join fr on fr.symbol = st.symbol
      left join rd on rd.symbol = st.symbol
      left join fan_agg fa on fa.symbol = st.symbol
  )
  ,
  gen as (
    select g.* from kapitaal.decision_generation__current(v_att.run_id) g
  )
  -- The per-symbol rows stay a row array (no jsonb round trip) and are counted in the same pass.
  select (select to_jsonb(g) from gen g),
         array_agg(row(null, c.symbol, c.status, c.regime, c.reasons, c.routes, c.readiness)::kapitaal.evaluation_symbols
                   order by c.symbol),
         count(*)::int,
         (count(*) filter (where c.status = 'eligible'))::int,
         (count(*) filter (where c.status = 'not_ready'))::int,
         (count(*) filter (where c.status = 'regime_blocked'))::int,
         (count(*) filter (where c.status = 'stale'))::int,
         (count(*) filter (where c.status = 'integrity'))::int,
         coalesce(sum(jsonb_array_length(c.cands)), 0)::int,
         coalesce(bool_or(c.foreign_gens > 0 or c.generation_id is distinct from (select g.generation_id from gen g)), false)
    into v_gen, v_rows, v_n, v_eligible, v_not_ready, v_regime, v_stale, v_integrity, v_cands, v_mixed
    from cls c;

  select v_n as n, v_eligible as eligible, v_not_ready as not_ready, v_regime as regime, v_stale as stale,
         v_integrity as integrity, v_cands as cands, v_mixed as mixed
    into v_counts;
  v_age := greatest(p_now - (v_gen->>'refreshed_at')::timestamptz, interval '0');

  if v_gen is null or jsonb_typeof(v_gen) = 'null' then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('NO_GENERATION: no state generation of run %s is visible on this cluster', v_att.run_id);
  elsif not (v_gen->>'complete')::boolean or v_counts.mixed then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('GENERATION_INCOMPLETE: generation %s shows %s of %s rows, %s of other generations',
                       v_gen->>'generation_id', v_gen->>'rows_of_generation', v_gen->>'symbols', v_gen->>'rows_of_other_generations');
  elsif v_age > v_pol.max_generation_age then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('GENERATION_STALE: newest visible generation %s is %s old > %s (refresh or feed fell behind)',
                       v_gen->>'generation_id', v_age, v_pol.max_generation_age);
  elsif v_counts.n = 0 then
    v_outcome := 'data_blocked';
    v_marker := 'ROUTE_EXECUTION_BLOCKED_STALE_DATA';
    v_reason := format('NO_SYMBOLS: generation %s holds no symbol state', v_gen->>'generation_id');
  elsif v_counts.stale + v_counts.integrity = v_counts.n then
    v_outcome := 'data_blocked';
    v_marker := case when v_counts.stale > 0 then 'ROUTE_EXECUTION_BLOCKED_STALE_DATA' else 'DATA_INTEGRITY_CHECKSUM_MISMATCH' end;
    v_reason := format('DATA_BLOCKED: no symbol has fresh, valid data (%s stale, %s failed integrity, of %s)',
                       v_counts.stale, v_counts.integrity, v_counts.n);
  else
    -- Data fine on some symbols: worth trading is decided after the ranking below.
    v_outcome := 'economically_empty';
  end if;

  insert into kapitaal.evaluations (
    run_id, epoch, generation_id, outcome, reason, marker, symbols, symbols_eligible, symbols_not_ready,
    symbols_regime_blocked, symbols_stale, symbols_integrity, candidates, generation_refreshed_at, generation_age,
    evaluated_at)
  values (
    v_att.run_id, v_att.epoch, (v_gen->>'generation_id')::bigint, v_outcome, coalesce(v_reason, 'RANKING'), v_marker,
    v_counts.n, v_counts.eligible, v_counts.not_ready, v_counts.regime, v_counts.stale, v_counts.integrity, 0,
    (v_gen->>'refreshed_at')::timestamptz, v_age, p_now)
  returning * into v_eval;

  insert into kapitaal.evaluation_symbols (evaluation_id, symbol, status, regime, reasons, routes, readiness)
  select v_eval.evaluation_id, x.symbol, x.status, x.regime, x.reasons, x.routes, x.readiness
    from unnest(v_rows) x;

  if v_outcome = 'economically_empty' then
    -- Competitive scoring (strategy layer): every proposal ranked on net edge after fees, stored
    -- in evaluation_rankings under this evaluation id. Only when some symbol is eligible (regime,
    -- readiness and a fresh entry route all pass): otherwise nothing can be selectable and
    -- evaluation_symbols already says why. Without that layer, eligible = candidate.
    if v_strategy_layer and v_counts.eligible > 0 then
      execute 'select count(*) filter (where c.selectable)::int as selectable,
                      count(*) filter (where c.generation_id is distinct from $3)::int as foreign_gens,
                      max(c.symbol) filter (where c.selected) as symbol, max(c.strategy) filter (where c.selected) as strategy
                 from kapitaal.evaluation_rankings__record($1, $2, $4) c'
        into v_ranked
        using v_eval.evaluation_id, v_att.run_id, (v_gen->>'generation_id')::bigint, p_now;
    elsif v_strategy_layer then
      select 0 as selectable, 0 as foreign_gens, null::text as symbol, null::text as strategy into v_ranked;
    else
      select v_counts.cands as selectable, 0 as foreign_gens, null::text as symbol, null::text as strategy into v_ranked;
    end if;
    if v_ranked.foreign_gens > 0 then
      -- Read committed and a sync committed between the two reads: never mix generations.
      v_outcome := 'generation_blocked';
      v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
      v_reason := format('GENERATION_CHANGED: the ranking read another generation than %s; the next evaluation is queued',
                         v_gen->>'generation_id');
    elsif v_ranked.selectable > 0 then
      v_outcome := 'candidates';
      v_reason := format('CANDIDATES: %s selectable proposals on %s eligible of %s symbols%s', v_ranked.selectable,
                         v_counts.eligible, v_counts.n,
                         coalesce(format('; top-1 %s %s', v_ranked.strategy, v_ranked.symbol), ''));
    else
      v_reason := format('ECONOMICALLY_EMPTY: data fine on %s of %s symbols, nothing worth trading (%s eligible, %s regime blocked, %s not ready)',
                         v_counts.n - v_counts.stale - v_counts.integrity, v_counts.n, v_counts.eligible, v_counts.regime,
                         v_counts.not_ready);
    end if;
    update kapitaal.evaluations e
       set outcome = v_outcome, reason = v_reason, marker = v_marker,
           candidates = case when v_outcome = 'candidates' then v_ranked.selectable else 0 end,
           selected_symbol = v_ranked.symbol, selected_strategy = v_ranked.strategy
     where e.evaluation_id = v_eval.evaluation_id;
    if v_outcome = 'candidates' and to_regprocedure('kapitaal.evaluation__place_orders(bigint)') is not null then
      -- Hook for execution: the order intent of the top-1 (and its submit job) in this same transaction.
      execute 'select kapitaal.evaluation__place_orders($1)' using v_eval.evaluation_id;
    end if;
  end if;

  update kapitaal.evaluations e set duration_ms = round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3)
   where e.evaluation_id = v_eval.evaluation_id
  returning * into v_eval;
  return v_eval;
end
$$;
comment on function kapitaal.evaluation__run(bigint, timestamptz) is
  'One evaluation on the decision cluster, reading only decision-cluster state: attach (execution_attach__resolve; '
  'p_run_id pins the run), then in ONE statement the current generation (decision_generation__current), route freshness '
  '(apply_route_freshness_filter), readiness (strategy_readiness) and regime per symbol, fanned out over '
  'strategy_policy/strategy_regime_eligibility. Stores the evaluations row with the outcome (attach_blocked, '
  'generation_blocked, data_blocked, candidates, economically_empty) and evaluation_symbols with the reasons per symbol; '
  'when some symbol is eligible it records the strategy layer''s ranking (evaluation_rankings__record) under the '
  'evaluation id: candidates = at least one selectable proposal. With candidates and an existing '
  'kapitaal.evaluation__place_orders(bigint) it calls that in the same transaction. Time is p_now. Run it in a REPEATABLE '
  'READ transaction (the task does) so the ranking reads the same snapshot; under READ COMMITTED a generation change '
  'between the reads gives generation_blocked (GENERATION_CHANGED), never a mixed decision.';
--! EndIncluded decision/evaluation__run.sql
--! Included decision/sync_run_symbol_state_to_decision.sql
create or replace function kapitaal.sync_run_symbol_state_to_decision(p_payload jsonb, p_now timestamptz default now())
returns table (
  run_id bigint,
  generation_id bigint,
  applied boolean,
  reason text,
  symbols integer,
  state_digest text,
  refreshed_at timestamptz,
  visible_generation_id bigint,
  runs_upserted integer,
  pairs_upserted integer,
  epochs_inserted integer,
  snapshots_inserted integer,
  more_epochs boolean
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_run bigint := (p_payload->>'run_id')::bigint;
  v_gen jsonb := nullif(p_payload->'generation', 'null'::jsonb);
  v_current bigint;
  v_digest text;
  v_rows integer;
  v_other integer;
begin
  if v_run is null then
    raise exception 'sync_run_symbol_state_to_decision: payload without run_id' using errcode = '22023';
  end if;
  if exists (select 1 from kapitaal.decision_settings d where d.feed = 'replication')
     or exists (select 1 from pg_subscription s join pg_database db on db.oid = s.subdbid
                 where db.datname = current_database()) then
    raise exception 'sync_run_symbol_state_to_decision: this database is fed by logical replication; the sync must not write it'
      using errcode = '55000';
  end if;
  -- Syncs of one run are serialised; an older payload arriving late is skipped below.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.sync_run_symbol_state_to_decision', v_run));

  run_id := v_run;
  runs_upserted := kapitaal.decision__upsert_rows('kapitaal.ingest_runs', p_payload->'runs');
  pairs_upserted := kapitaal.decision__upsert_rows('kapitaal.run_pairs', p_payload->'pairs');
  insert into kapitaal.ingest_epochs
  select * from jsonb_populate_recordset(null::kapitaal.ingest_epochs, coalesce(nullif(p_payload->'epochs', 'null'::jsonb), '[]'::jsonb))
  on conflict do nothing;
  get diagnostics epochs_inserted = row_count;
  insert into kapitaal.ingest_snapshots
  select * from jsonb_populate_recordset(null::kapitaal.ingest_snapshots, coalesce(nullif(p_payload->'snapshots', 'null'::jsonb), '[]'::jsonb))
  on conflict do nothing;
  get diagnostics snapshots_inserted = row_count;
  more_epochs := coalesce((p_payload->>'more_epochs')::boolean, false);

  select max(g.generation_id) into v_current from kapitaal.state_generations g where g.run_id = v_run;
  visible_generation_id := v_current;
  applied := false;
  if v_gen is null then
    generation_id := (p_payload->>'newest_generation_id')::bigint;
    reason := case when generation_id is null then 'NO_GENERATION: the run has not been refreshed yet'
                   else format('ALREADY_VISIBLE: generation %s is visible here', v_current) end;
    return next;
    return;
  end if;
  generation_id := (v_gen->>'generation_id')::bigint;
  symbols := (v_gen->>'symbols')::integer;
  state_digest := v_gen->>'state_digest';
  refreshed_at := (v_gen->>'refreshed_at')::timestamptz;
  if v_current >= generation_id then
    reason := format('ALREADY_VISIBLE: generation %s is visible here (this payload carries %s)', v_current, generation_id);
    return next;
    return;
  end if;

  -- The whole generation in this transaction: the run's rows are replaced by the generation's
  -- (every refresh rewrites all rows of a run anyway), verified, then the generation row is added
  -- last (its trigger records visibility and enqueues the evaluation, both as of the commit).
  -- Generic: the table's own row type, no column list.
  delete from kapitaal.run_symbol_state s where s.run_id = v_run;
  insert into kapitaal.run_symbol_state
  select * from jsonb_populate_recordset(null::kapitaal.run_symbol_state,
                                         coalesce(nullif(p_payload->'state', 'null'::jsonb), '[]'::jsonb));

  select count(*) filter (where s.generation_id = (v_gen->>'generation_id')::bigint),
         count(*) filter (where s.generation_id <> (v_gen->>'generation_id')::bigint)
    into v_rows, v_other
    from kapitaal.run_symbol_state s where s.run_id = v_run;
  v_digest := kapitaal.run_symbol_state__digest(v_run);
  if v_rows <> symbols or v_other <> 0 or v_digest is distinct from state_digest then
    raise exception 'sync_run_symbol_state_to_decision: generation % of run % does not verify here (rows %/% of it, % of others, digest % <> %)',
      generation_id, v_run, v_rows, symbols, v_other, v_digest, state_digest
      using errcode = 'XX001';
  end if;
  insert into kapitaal.state_generations
  select * from jsonb_populate_record(null::kapitaal.state_generations, v_gen);
  applied := true;
  visible_generation_id := generation_id;
  reason := 'APPLIED: digest verified';
  return next;
end
$$;
comment on function kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz) is
  'Decision side of the sync, in one transaction: upserts the run (and lineage) rows and changed run_pairs, adds new '
  'epochs and snapshots, and, when the payload''s generation is newer than the newest one here, replaces all '
  'run_symbol_state rows of the run by the generation''s and adds its state_generations row, then verifies row count and '
  'run_symbol_state__digest against state_digest (a mismatch raises: nothing of the generation becomes visible). '
  'Older or equal generations are skipped. Refuses to run on a database fed by logical replication.';
--! EndIncluded decision/sync_run_symbol_state_to_decision.sql
--! Included state/strategy_readiness.sql
create or replace function kapitaal.strategy_readiness(p_run_id bigint, p_now timestamptz default now())
returns table (
  run_id bigint,
  symbol text,
  strategy text,
  ready boolean,
  reasons text[],
  detail text,
  generation_id bigint
)
language sql
stable
as $$
  select s.run_id, s.symbol, p.strategy, cardinality(r.reasons) = 0, r.reasons,
         coalesce(nullif(array_to_string(d.details, '; '), ''), 'ready'), s.generation_id
    from kapitaal.run_symbol_state s
   cross join kapitaal.strategy_readiness_policy p
   -- One CASE per check, in a fixed order; a check that passes yields null and is removed.
   -- (A VALUES list per symbol and strategy, sorted and aggregated, cost 15x more.)
   cross join lateral (
     select array_remove(array[
       case when p.requires_book and s.last_l2_at is null then 'BOOK_MISSING: no L2 book' end,
       case when p.requires_book and s.last_l2_at is not null and s.book_valid is not true
            then 'BOOK_INVALID: newest L2 sample failed its checksum' end,
       case when p.requires_book and p_now - s.last_l2_at > p.max_book_age
            then format('BOOK_STALE: book %s old > %s', p_now - s.last_l2_at, p.max_book_age) end,
       case when p.requires_l3 and (s.last_l3_at is null or s.l3_bid_touch_qty is null or s.l3_ask_touch_qty is null)
            then 'L3_MISSING: no L3 queue at the touch' end,
       case when p.requires_l3 and s.last_l3_at is not null and s.l3_valid is not true
            then 'L3_INVALID: newest L3 sample failed its checksum' end,
       case when p.requires_l3 and p_now - s.last_l3_at > p.max_l3_age
            then format('L3_STALE: L3 %s old > %s', p_now - s.last_l3_at, p.max_l3_age) end,
       case when p.requires_ticker and s.last_ticker_at is null then 'TICKER_MISSING: no ticker' end,
       case when p.requires_ticker and p_now - s.last_ticker_at > p.max_ticker_age
            then format('TICKER_STALE: ticker %s old > %s', p_now - s.last_ticker_at, p.max_ticker_age) end,
       case when p.requires_trades and s.last_trade_at is null then 'TRADES_MISSING: no trade' end,
       case when p.requires_trades and p_now - s.last_trade_at > p.max_trade_age
            then format('TRADES_STALE: last trade %s ago > %s', p_now - s.last_trade_at, p.max_trade_age) end,
       case when s.trades_1m < p.min_trades_1m
            then format('TRADES_TOO_FEW_1M: %s trades in 1 m < %s', s.trades_1m, p.min_trades_1m) end,
       case when s.trades_5m < p.min_trades_5m
            then format('TRADES_TOO_FEW_5M: %s trades in 5 m < %s', s.trades_5m, p.min_trades_5m) end,
       case when s.quote_volume_5m < p.min_quote_volume_5m
            then format('TRADE_VOLUME_TOO_LOW: %s quote traded in 5 m < %s', s.quote_volume_5m, p.min_quote_volume_5m) end,
       case when s.price_buckets_5m < p.min_price_buckets_5m
            then format('PRICE_HISTORY_SHORT: %s price buckets in 5 m < %s', s.price_buckets_5m, p.min_price_buckets_5m) end
     ]::text[], null) as details
   ) d
   -- the reason code is the part of each detail before its colon
   cross join lateral (
     select array(select split_part(x.t, ':', 1) from unnest(d.details) with ordinality x(t, i) order by x.i) as reasons
   ) r
   where s.run_id = p_run_id
   order by s.symbol, p.strategy
$$;
comment on function kapitaal.strategy_readiness(bigint, timestamptz) is
  'Per symbol and strategy (liquidity, momentum, volume) of a run: ready or not, with the reason codes and a readable '
  'detail. Rules and ages come from strategy_readiness_policy (age = max is still ready). Reads run_symbol_state only.';
--! EndIncluded state/strategy_readiness.sql
