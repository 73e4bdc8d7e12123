-- Least privilege for the foundation's objects. Group roles come from migrations/roles.sql.
-- The ingest writer appends raw rows and manages its runs through the functions.
grant usage on schema kapitaal to kapitaal_ingest_writer, kapitaal_execution, kapitaal_readonly;

revoke all on function kapitaal.ingest_run__create_partitions(bigint) from public;
revoke all on function kapitaal.ingest_run__start(jsonb, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.ingest_run__heartbeat(bigint, timestamptz) from public;
revoke all on function kapitaal.ingest_run__end(bigint, text, text, timestamptz) from public;
revoke all on function kapitaal.ingest_runs__drop_expired_partitions(interval, timestamptz) from public;
grant execute on function kapitaal.ingest_run__create_partitions(bigint) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_run__start(jsonb, text, text, integer, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_run__heartbeat(bigint, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_run__end(bigint, text, text, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_runs__drop_expired_partitions(interval, timestamptz) to kapitaal_ingest_writer;

grant select, insert on kapitaal.ticker_samples, kapitaal.trade_samples, kapitaal.l2_snap_metrics,
  kapitaal.l3_queue_metrics to kapitaal_ingest_writer;
grant usage on sequence kapitaal.ticker_samples_seq, kapitaal.trade_samples_seq, kapitaal.l2_snap_metrics_seq,
  kapitaal.l3_queue_metrics_seq to kapitaal_ingest_writer;
grant select on kapitaal.ingest_runs to kapitaal_ingest_writer;

-- Execution attaches to live runs; it never reads raw tables (state-first contract).
grant select on kapitaal.ingest_runs to kapitaal_execution;

-- Read-only: everything in the schema, now and later.
grant select on all tables in schema kapitaal to kapitaal_readonly;
alter default privileges in schema kapitaal grant select on tables to kapitaal_readonly;
