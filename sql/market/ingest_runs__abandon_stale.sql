create or replace function kapitaal.ingest_runs__abandon_stale(
  p_config jsonb,
  p_stale_after interval,
  p_now timestamptz default now()
)
returns setof kapitaal.ingest_runs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_run_id bigint;
begin
  if p_stale_after is null or p_stale_after <= interval '0' then
    raise exception 'ingest_runs__abandon_stale: stale_after must be a positive interval, got %', p_stale_after
      using errcode = '22023';
  end if;
  for v_run_id in
    select r.run_id from ingest_runs r
     where r.config_hash = md5(p_config::text) and r.status = 'running' and r.heartbeat_at < p_now - p_stale_after
     order by r.run_id
     for update skip locked
  loop
    return next ingest_run__end(
      v_run_id, 'abandoned',
      format('heartbeat older than %s when a new run of the same configuration started', p_stale_after), p_now);
  end loop;
end
$$;
comment on function kapitaal.ingest_runs__abandon_stale(jsonb, interval, timestamptz) is
  'Marks running ingest runs of the same configuration (same config hash as ingest_run__start computes) whose '
  'heartbeat is older than p_stale_after as abandoned (their process died) and returns them. Runs with a fresh '
  'heartbeat are left alone.';
