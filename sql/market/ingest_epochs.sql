-- Epochs: what an ingest run had durably stored at a moment, published every few seconds. Self-contained
-- (no foreign keys) because the same table lives on the decision cluster, where a sync job copies it.
create table if not exists kapitaal.ingest_epochs (
  run_id bigint not null,
  epoch bigint not null check (epoch > 0),
  published_at timestamptz not null,
  txid_horizon xid8 not null,
  ticker_rows bigint not null default 0,
  trade_rows bigint not null default 0,
  l2_rows bigint not null default 0,
  l3_rows bigint not null default 0,
  ticker_max_seq bigint,
  trade_max_seq bigint,
  l2_max_seq bigint,
  l3_max_seq bigint,
  symbols integer not null default 0,
  symbols_book_valid integer not null default 0,
  symbols_fresh integer not null default 0,
  primary key (run_id, epoch)
);

comment on table kapitaal.ingest_epochs is
  'One row per published epoch of an ingest run: per raw table how many rows of the run are committed and counted, '
  'the highest sequence number among them, and a summary of the per-symbol snapshots (ingest_snapshots) of the '
  'same epoch. Written only by ingest_epoch__publish; also synced to the decision cluster.';
comment on column kapitaal.ingest_epochs.epoch is 'Epoch number within the run: 1, 2, 3, … without gaps.';
comment on column kapitaal.ingest_epochs.txid_horizon is
  'Visibility horizon: every raw row of the run whose inserting transaction id (txid) is below it is counted in '
  'this epoch or an earlier one; rows at or above it are counted by later epochs. Below the horizon no '
  'transaction is still running, so a late commit is never skipped.';
comment on column kapitaal.ingest_epochs.ticker_rows is 'ticker_samples rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.trade_rows is 'trade_samples rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.l2_rows is 'l2_snap_metrics rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.l3_rows is 'l3_queue_metrics rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.ticker_max_seq is 'Highest ticker_samples.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.trade_max_seq is 'Highest trade_samples.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.l2_max_seq is 'Highest l2_snap_metrics.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.l3_max_seq is 'Highest l3_queue_metrics.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.symbols is 'Symbols with a snapshot row in this epoch.';
comment on column kapitaal.ingest_epochs.symbols_book_valid is 'Symbols whose latest stored L2 sample had a matching checksum.';
comment on column kapitaal.ingest_epochs.symbols_fresh is 'Symbols whose newest counted row is younger than the freshness limit of the publish call.';
comment on column kapitaal.ingest_epochs.run_id is
  'The ingest run (ingest_runs.run_id) the epoch belongs to; no foreign key (also synced to the decision cluster).';
comment on column kapitaal.ingest_epochs.published_at is
  'When ingest_epoch__publish ran (its p_now, database clock by default).';
