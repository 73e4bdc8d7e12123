create or replace function kapitaal.raw_tables()
returns text[]
language sql
immutable
parallel safe
as $$
  select array['ticker_samples', 'trade_samples', 'l2_snap_metrics', 'l3_queue_metrics']
$$;
comment on function kapitaal.raw_tables() is
  'The raw market-data tables, each partitioned by run_id with one partition per ingest run.';
