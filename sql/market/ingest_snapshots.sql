-- Per epoch and symbol: which data the run holds and how fresh it is. Self-contained like ingest_epochs.
create table if not exists kapitaal.ingest_snapshots (
  run_id bigint not null,
  epoch bigint not null,
  symbol text not null,
  published_at timestamptz not null,
  in_universe boolean not null,
  pair_status text,
  ticker_rows bigint not null default 0,
  trade_rows bigint not null default 0,
  l2_rows bigint not null default 0,
  l2_updates bigint not null default 0,
  l3_rows bigint not null default 0,
  last_ticker_at timestamptz,
  last_trade_at timestamptz,
  last_l2_at timestamptz,
  last_l3_at timestamptz,
  book_valid boolean,
  l3_valid boolean,
  data_age interval,
  fresh boolean not null,
  primary key (run_id, epoch, symbol)
);
create index if not exists ingest_snapshots_symbol_idx on kapitaal.ingest_snapshots (run_id, symbol, epoch desc);

comment on table kapitaal.ingest_snapshots is
  'What one epoch of an ingest run covers per symbol: cumulative row counts per raw table, the newest received_at '
  'per channel, whether the book is valid and how old the newest data is. Written only by ingest_epoch__publish; '
  'also synced to the decision cluster, where execution reads it instead of raw tables.';
comment on column kapitaal.ingest_snapshots.in_universe is 'Whether the pair was in the run''s universe (run_pairs.in_universe) at publish time.';
comment on column kapitaal.ingest_snapshots.pair_status is 'Kraken pair status from run_pairs at publish time (null: pair unknown).';
comment on column kapitaal.ingest_snapshots.ticker_rows is 'ticker_samples rows of this symbol counted up to the epoch''s horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.trade_rows is 'trade_samples rows counted up to the horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.l2_rows is 'l2_snap_metrics rows (samples) counted up to the horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.l2_updates is 'Sum of l2_snap_metrics.updates_applied: book messages received, including those folded into samples.';
comment on column kapitaal.ingest_snapshots.l3_rows is 'l3_queue_metrics rows counted up to the horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.last_ticker_at is 'Newest received_at among counted ticker rows.';
comment on column kapitaal.ingest_snapshots.last_trade_at is 'Newest received_at among counted trades.';
comment on column kapitaal.ingest_snapshots.last_l2_at is 'Newest received_at among counted L2 samples.';
comment on column kapitaal.ingest_snapshots.last_l3_at is 'Newest received_at among counted L3 samples.';
comment on column kapitaal.ingest_snapshots.book_valid is
  'checksum_ok of the newest counted L2 sample: false from a checksum mismatch until the next good snapshot; null before any book data.';
comment on column kapitaal.ingest_snapshots.l3_valid is 'checksum_ok of the newest counted L3 sample; null without level3 data.';
comment on column kapitaal.ingest_snapshots.data_age is 'published_at minus the newest received_at over all channels (null: no data yet).';
comment on column kapitaal.ingest_snapshots.fresh is 'data_age is within the freshness limit given to ingest_epoch__publish.';
comment on column kapitaal.ingest_snapshots.run_id is
  'The ingest run (ingest_runs.run_id); no foreign key (also synced to the decision cluster).';
comment on column kapitaal.ingest_snapshots.epoch is
  'The epoch (ingest_epochs.epoch of the same run) this row belongs to.';
comment on column kapitaal.ingest_snapshots.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.ingest_snapshots.published_at is
  'When ingest_epoch__publish ran (its p_now); equals ingest_epochs.published_at of the epoch.';
