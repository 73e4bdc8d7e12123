-- Ingest-only bookkeeping: which raw rows the refresh of a run has already folded in.
create table if not exists kapitaal.state_refresh_watermarks (
  run_id bigint not null,
  table_name text not null check (table_name in ('ticker_samples', 'trade_samples', 'l2_snap_metrics', 'l3_queue_metrics')),
  watermark xid8 not null default '0',
  refreshed_at timestamptz,
  generation_id bigint,
  rows_read bigint not null default 0,
  primary key (run_id, table_name)
);
comment on table kapitaal.state_refresh_watermarks is
  'Per run and raw table: every row with txid below watermark has been folded into the state exactly once. A refresh reads '
  'rows with txid in [watermark, raw_txid_horizon()) and then moves the watermark up. Ingest cluster only.';
comment on column kapitaal.state_refresh_watermarks.watermark is
  'kapitaal.raw_txid_horizon() as taken by the last refresh: every transaction of this database below it had finished, so '
  'their rows were final.';
comment on column kapitaal.state_refresh_watermarks.refreshed_at is 'Effective time of the last refresh (refreshes never move it back).';
comment on column kapitaal.state_refresh_watermarks.generation_id is 'Generation of the last refresh.';
comment on column kapitaal.state_refresh_watermarks.rows_read is 'Raw rows of this table read by all refreshes of the run (each row once).';
comment on column kapitaal.state_refresh_watermarks.run_id is 'The ingest run (ingest_runs.run_id).';
comment on column kapitaal.state_refresh_watermarks.table_name is 'The raw table this watermark is for.';
