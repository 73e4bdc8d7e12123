-- Samples of the collector's verified L3 (order-level) book (WS v2 `level3` channel).
create sequence if not exists kapitaal.l3_queue_metrics_seq cache 1000;
comment on sequence kapitaal.l3_queue_metrics_seq is
  'Default of l3_queue_metrics.seq (raw L3 rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
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
comment on column kapitaal.l3_queue_metrics.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.l3_queue_metrics.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.l3_queue_metrics.bid_px is
  'Bid price levels of the L3 book, best (highest) first (quote currency).';
comment on column kapitaal.l3_queue_metrics.bid_qty is
  'Total resting quantity (base currency) at each level of bid_px.';
comment on column kapitaal.l3_queue_metrics.ask_px is
  'Ask price levels of the L3 book, best (lowest) first (quote currency).';
comment on column kapitaal.l3_queue_metrics.ask_qty is
  'Total resting quantity (base currency) at each level of ask_px.';
