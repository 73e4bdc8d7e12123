create or replace function kapitaal.job_chain__wanted(p_task text, p_payload jsonb)
returns boolean
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select case p_task
    when 'evaluation__run' then
      exists (select 1 from kapitaal.decision_settings d where d.evaluation_enabled and d.cluster_role <> 'ingest')
    when 'state__sync' then
      exists (select 1 from kapitaal.decision_settings d where d.cluster_role = 'ingest' and d.feed = 'sync')
      and exists (select 1 from kapitaal.ingest_runs r
                   where r.run_id = (p_payload->>'run_id')::bigint and r.status = 'running')
    when 'run_symbol_state__refresh' then
      -- As the refresh job's own re-queue: while the run is running.
      exists (select 1 from kapitaal.ingest_runs r
                   where r.run_id = (p_payload->>'run_id')::bigint and r.status = 'running')
    else false
  end
$$;
comment on function kapitaal.job_chain__wanted(text, jsonb) is
  'Whether a chain step should keep cycling on this database: evaluation__run while an execution runtime evaluates '
  'here; state__sync for a running ingest run while this is an ingest cluster in sync mode; run_symbol_state__refresh '
  'while its ingest run is running.';
