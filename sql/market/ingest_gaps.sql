-- Data the collector could not store, stated plainly: per raw table the received_at range and row count dropped.
create table if not exists kapitaal.ingest_gaps (
  gap_id bigint generated always as identity primary key,
  run_id bigint not null,
  table_name text not null check (table_name in ('ticker_samples', 'trade_samples', 'l2_snap_metrics', 'l3_queue_metrics')),
  first_received_at timestamptz not null,
  last_received_at timestamptz not null,
  rows_dropped bigint not null check (rows_dropped > 0),
  reason text not null,
  recorded_at timestamptz not null,
  check (first_received_at <= last_received_at)
);
create index if not exists ingest_gaps_run_idx on kapitaal.ingest_gaps (run_id, table_name, first_received_at);

comment on table kapitaal.ingest_gaps is
  'Raw rows an ingest run received but did not store (the buffer was full while the database was unreachable, '
  'or PostgreSQL rejected a row): which table, the received_at range and how many rows. Refresh and validation '
  'treat these ranges as missing data, never as a quiet market. Also logged as DATA_INTEGRITY_GAP.';
comment on column kapitaal.ingest_gaps.first_received_at is 'received_at of the first dropped row.';
comment on column kapitaal.ingest_gaps.last_received_at is 'received_at of the last dropped row.';
comment on column kapitaal.ingest_gaps.reason is 'Why the rows were dropped, in plain words.';
comment on column kapitaal.ingest_gaps.recorded_at is 'When the gap was written (once the database was reachable again).';
comment on column kapitaal.ingest_gaps.gap_id is 'Identity, in recording order.';
comment on column kapitaal.ingest_gaps.run_id is 'The ingest run (ingest_runs.run_id) that dropped the rows.';
comment on column kapitaal.ingest_gaps.table_name is 'The raw table the dropped rows were meant for.';
comment on column kapitaal.ingest_gaps.rows_dropped is
  'Number of rows received but not stored between first_received_at and last_received_at.';
