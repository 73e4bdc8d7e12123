-- One row per batch the collector committed: makes a retried batch idempotent (a commit whose answer was lost
-- is not written twice) and lets a DBA see write cadence and batch sizes.
create table if not exists kapitaal.ingest_write_batches (
  run_id bigint not null,
  batch_no bigint not null check (batch_no > 0),
  committed_at timestamptz not null,
  ticker_rows integer not null default 0,
  trade_rows integer not null default 0,
  l2_rows integer not null default 0,
  l3_rows integer not null default 0,
  attempts integer not null default 1,
  primary key (run_id, batch_no)
);

comment on table kapitaal.ingest_write_batches is
  'Batches of raw rows the collector wrote with COPY, one row per batch, inserted in the same transaction as the '
  'rows. A batch retried after a lost commit acknowledgement finds its row and is skipped, so no raw row is '
  'stored twice.';
comment on column kapitaal.ingest_write_batches.batch_no is 'Batch number within the run, assigned by the collector (1, 2, 3, …).';
comment on column kapitaal.ingest_write_batches.committed_at is 'Transaction time of the batch (engine clock).';
comment on column kapitaal.ingest_write_batches.attempts is 'Which attempt committed the batch (1 = first try; more after database errors).';
comment on column kapitaal.ingest_write_batches.run_id is 'The ingest run (ingest_runs.run_id) that wrote the batch.';
comment on column kapitaal.ingest_write_batches.ticker_rows is 'ticker_samples rows the batch stored.';
comment on column kapitaal.ingest_write_batches.trade_rows is 'trade_samples rows the batch stored.';
comment on column kapitaal.ingest_write_batches.l2_rows is 'l2_snap_metrics rows the batch stored.';
comment on column kapitaal.ingest_write_batches.l3_rows is 'l3_queue_metrics rows the batch stored.';
