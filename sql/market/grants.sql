-- Least privilege for the market-ingest objects (universe, epochs, snapshots, write batches, gaps).
-- Tables are written only through the security-definer functions below.
revoke all on function kapitaal.run_pairs__sync(bigint, jsonb, timestamptz) from public;
revoke all on function kapitaal.ingest_epoch__publish(bigint, timestamptz, interval) from public;
revoke all on function kapitaal.ingest_runs__abandon_stale(jsonb, interval, timestamptz) from public;
revoke all on function kapitaal.ingest_write_batch__record(bigint, bigint, integer, integer, integer, integer, integer, timestamptz) from public;
revoke all on function kapitaal.ingest_gap__record(bigint, text, timestamptz, timestamptz, bigint, text, timestamptz) from public;

grant execute on function kapitaal.run_pairs__sync(bigint, jsonb, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_epoch__publish(bigint, timestamptz, interval) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_runs__abandon_stale(jsonb, interval, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_write_batch__record(bigint, bigint, integer, integer, integer, integer, integer, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_gap__record(bigint, text, timestamptz, timestamptz, bigint, text, timestamptz) to kapitaal_ingest_writer;

-- The writer reads back what it wrote (universe after restart, its own epochs).
grant select on kapitaal.run_pairs, kapitaal.ingest_epochs, kapitaal.ingest_snapshots,
  kapitaal.ingest_write_batches, kapitaal.ingest_gaps to kapitaal_ingest_writer;

-- Execution needs pair limits and attaches to epochs/snapshots; it never reads raw tables.
grant select on kapitaal.run_pairs, kapitaal.ingest_epochs, kapitaal.ingest_snapshots to kapitaal_execution;

grant select on kapitaal.run_pairs, kapitaal.ingest_epochs, kapitaal.ingest_snapshots,
  kapitaal.ingest_write_batches, kapitaal.ingest_gaps to kapitaal_readonly;
