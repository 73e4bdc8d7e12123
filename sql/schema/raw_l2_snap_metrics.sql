-- Samples of the collector's verified L2 book (WS v2 `book` channel).
create sequence if not exists kapitaal.l2_snap_metrics_seq cache 1000;
comment on sequence kapitaal.l2_snap_metrics_seq is
  'Default of l2_snap_metrics.seq (raw L2 rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
create table if not exists kapitaal.l2_snap_metrics (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.l2_snap_metrics_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  depth smallint not null check (depth in (10, 25, 100, 500, 1000)),
  is_snapshot boolean not null,
  bid_px numeric[] not null,
  bid_qty numeric[] not null,
  ask_px numeric[] not null,
  ask_qty numeric[] not null,
  checksum bigint not null,
  checksum_ok boolean not null,
  updates_applied integer not null default 1 check (updates_applied >= 0),
  exchange_ts timestamptz,
  received_at timestamptz not null,
  check (cardinality(bid_px) = cardinality(bid_qty) and cardinality(ask_px) = cardinality(ask_qty))
) partition by range (run_id);
create index if not exists l2_snap_metrics_symbol_time_idx on kapitaal.l2_snap_metrics (symbol, received_at);
create index if not exists l2_snap_metrics_txid_idx on kapitaal.l2_snap_metrics (txid);

comment on table kapitaal.l2_snap_metrics is
  'The collector''s L2 book per symbol after applying a message and verifying its checksum: the top levels as '
  'arrays (best first), from which SQL derives spread, depth in price bands, imbalance and microprice. '
  'Partitioned by run_id.';
comment on column kapitaal.l2_snap_metrics.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.l2_snap_metrics.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.l2_snap_metrics.depth is 'Subscribed book depth.';
comment on column kapitaal.l2_snap_metrics.is_snapshot is 'True for a book snapshot (after subscribe or resubscribe), false for updates.';
comment on column kapitaal.l2_snap_metrics.bid_px is 'Bid prices, best (highest) first, up to the stored level count.';
comment on column kapitaal.l2_snap_metrics.bid_qty is 'Bid quantities (base currency) matching bid_px.';
comment on column kapitaal.l2_snap_metrics.ask_px is 'Ask prices, best (lowest) first.';
comment on column kapitaal.l2_snap_metrics.ask_qty is 'Ask quantities (base currency) matching ask_px.';
comment on column kapitaal.l2_snap_metrics.checksum is 'CRC32 checksum Kraken sent with the message.';
comment on column kapitaal.l2_snap_metrics.checksum_ok is
  'Whether the local book matched Kraken''s checksum. False marks the symbol''s book invalid until the next snapshot.';
comment on column kapitaal.l2_snap_metrics.updates_applied is 'Book messages folded into this sample since the previous one (the collector may sample).';
comment on column kapitaal.l2_snap_metrics.exchange_ts is 'Kraken''s timestamp of the last applied message.';
comment on column kapitaal.l2_snap_metrics.received_at is 'When the collector received the last applied message (engine clock).';
comment on column kapitaal.l2_snap_metrics.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.l2_snap_metrics.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
