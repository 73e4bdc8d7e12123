create or replace function kapitaal.ingest_run__start(
  p_config jsonb,
  p_code_version text,
  p_host text,
  p_pid integer default null,
  p_now timestamptz default now()
)
returns kapitaal.ingest_runs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_hash text := md5(p_config::text);
  v_run kapitaal.ingest_runs;
begin
  if p_config is null or jsonb_typeof(p_config) <> 'object' then
    raise exception 'ingest_run__start: config must be a JSON object' using errcode = '22023';
  end if;
  -- Serialise starts of one lineage so two runs never claim the same parent.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_run__start:' || v_hash, 0));
  insert into ingest_runs (parent_run_id, started_at, heartbeat_at, config, config_hash, code_version, host, pid)
  values (
    (select r.run_id from ingest_runs r where r.config_hash = v_hash order by r.run_id desc limit 1),
    p_now, p_now, p_config, v_hash, p_code_version, p_host, p_pid)
  returning * into v_run;
  perform ingest_run__create_partitions(v_run.run_id);
  return v_run;
end
$$;
comment on function kapitaal.ingest_run__start(jsonb, text, text, integer, timestamptz) is
  'Starts an ingest run: a new run_id whose parent is the newest earlier run with the same configuration hash, '
  'and its raw-table partitions, in one transaction.';
