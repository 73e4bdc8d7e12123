create or replace function kapitaal.ingest_run__heartbeat(p_run_id bigint, p_now timestamptz default now())
returns boolean
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  update ingest_runs set heartbeat_at = greatest(heartbeat_at, p_now)
  where run_id = p_run_id and status = 'running'
  returning true
$$;
comment on function kapitaal.ingest_run__heartbeat(bigint, timestamptz) is
  'Records that a running ingest run is alive. Returns null when the run is not running any more '
  '(it was ended or abandoned), which tells the process to stop.';
