create or replace function kapitaal.ingest_run__end(
  p_run_id bigint,
  p_status text default 'ended',
  p_reason text default null,
  p_now timestamptz default now()
)
returns kapitaal.ingest_runs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_run kapitaal.ingest_runs;
begin
  if p_status not in ('ended', 'failed', 'abandoned') then
    raise exception 'ingest_run__end: status must be ended, failed or abandoned, got %', p_status
      using errcode = '22023';
  end if;
  update ingest_runs
     set status = p_status, ended_at = p_now, end_reason = p_reason, heartbeat_at = greatest(heartbeat_at, p_now)
   where run_id = p_run_id and status = 'running'
  returning * into v_run;
  if not found then
    select * into v_run from ingest_runs where run_id = p_run_id;
    if not found then
      raise exception 'ingest_run__end: no ingest run %', p_run_id using errcode = 'P0002';
    end if;
  end if;
  return v_run;
end
$$;
comment on function kapitaal.ingest_run__end(bigint, text, text, timestamptz) is
  'Ends a running ingest run with a final status, time and reason. Ending a run that already ended changes nothing '
  'and returns it as it is.';
