--! Previous: sha1:7b16df17f5be9e8d5d0e5b0212d5995863f5de98
--! Hash: sha1:5a6cbcd9168930f88e586159c38a24cf3131a4b1
--! Message: job_chain__watchdog: a new run's first chain job is 'started', not a recorded repair

--! split: 1-current.sql
-- Enter migration here

--! split: 3-watchdog-started.sql
--! Included decision/job_chain__watchdog.sql
create or replace function kapitaal.job_chain__watchdog(p_now timestamptz default now())
returns table (task_identifier text, job_key text, job_id bigint, action text, detail text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pol kapitaal.decision_policy;
  v_set kapitaal.decision_settings;
  v_want record;
  v_job graphile_worker.jobs;
  v_ids bigint[];
begin
  -- One watchdog per database at a time; a second caller simply returns.
  if not pg_try_advisory_xact_lock(hashtextextended('kapitaal.job_chain__watchdog', 0)) then
    return;
  end if;
  select * into v_pol from kapitaal.decision_policy p where p.policy = 'default';
  select * into v_set from kapitaal.decision_settings d where d.singleton;

  for v_want in
    select 'evaluation__run'::text as task, 'evaluation__run'::text as key, '{}'::jsonb as payload
     where v_set.evaluation_enabled and v_set.cluster_role <> 'ingest'
    union all
    select 'state__sync', 'state__sync:' || r.run_id, jsonb_build_object('run_id', r.run_id)
      from kapitaal.ingest_runs r
     where r.status = 'running' and v_set.cluster_role = 'ingest' and v_set.feed = 'sync'
    union all
    select 'run_symbol_state__refresh', 'run_symbol_state__refresh:' || r.run_id, jsonb_build_object('run_id', r.run_id)
      from kapitaal.ingest_runs r
     where r.status = 'running' and v_set.cluster_role in ('ingest', 'shared')
       and (v_set.cluster_role = 'ingest' or v_set.evaluation_enabled)
  loop
    task_identifier := v_want.task;
    job_key := v_want.key;
    select * into v_job from graphile_worker.jobs j where j.key = v_want.key;
    if not found then
      perform kapitaal.job_chain__next(v_want.task, v_want.key, v_want.payload, 'immediate', interval '0', 0, p_now);
      job_id := null;
      -- The watchdog is also how a new run's chain begins (kapitaal ingest relies on it): that is no
      -- repair, so it is returned as 'started' and not recorded as an incident.
      if v_want.task in ('run_symbol_state__refresh', 'state__sync')
         and not exists (select 1 from kapitaal.state_generations g where g.run_id = (v_want.payload->>'run_id')::bigint) then
        action := 'started';
        detail := 'first job of the chain of a run that has not been refreshed yet';
        return next;
        continue;
      end if;
      action := 'seeded';
      detail := 'no pending or running job held the chain key';
    elsif v_job.locked_at is null and v_job.attempts >= v_job.max_attempts then
      -- Permanently failed while holding the key: the chain stopped here. Retry it now with its own
      -- payload; its last error goes into the incident (and stays on the job until it succeeds).
      perform graphile_worker.reschedule_jobs(array[v_job.id], run_at => p_now, attempts => 0);
      job_id := v_job.id;
      action := 'reseeded_failed';
      detail := format('failed after %s attempts: %s', v_job.attempts, v_job.last_error);
    elsif v_job.locked_at is null and v_job.attempts > 0 and v_job.run_at > p_now + v_pol.chain_max_backoff then
      perform graphile_worker.reschedule_jobs(array[v_job.id], run_at => p_now + v_pol.chain_max_backoff);
      job_id := v_job.id;
      action := 'backoff_capped';
      detail := format('retry %s was due at %s; capped to %s', v_job.attempts, v_job.run_at, p_now + v_pol.chain_max_backoff);
    else
      continue;
    end if;
    insert into kapitaal.job_chain_incidents (at, task_identifier, job_key, job_id, action, detail)
    values (p_now, task_identifier, job_key, job_id, action, left(detail, 2000));
    return next;
  end loop;

  -- Failed cycles that lost their key (the chain moved on) are kept for inspection, up to a limit.
  select array_agg(x.id) into v_ids
    from (select j.id, row_number() over (partition by j.task_identifier order by j.id desc) as rn
            from graphile_worker.jobs j
           where j.task_identifier in ('evaluation__run', 'state__sync', 'run_symbol_state__refresh')
             and j.key is null and j.locked_at is null and j.attempts >= j.max_attempts) x
   where x.rn > v_pol.failed_jobs_kept;
  if v_ids is not null then
    perform graphile_worker.complete_jobs(v_ids);
    task_identifier := null;
    job_key := null;
    job_id := null;
    action := 'pruned_failed';
    detail := format('%s failed chain jobs beyond the newest %s per task', cardinality(v_ids), v_pol.failed_jobs_kept);
    insert into kapitaal.job_chain_incidents (at, task_identifier, action, detail) values (p_now, '*', action, detail);
    return next;
  end if;

  if v_set.evaluation_enabled then
    perform kapitaal.evaluations__prune(p_now);
  end if;
end
$$;
comment on function kapitaal.job_chain__watchdog(timestamptz) is
  'Keeps the job chain alive on this database (run every few seconds by each runtime): seeds a missing chain job '
  '(evaluation__run while evaluation is enabled; state__sync and run_symbol_state__refresh per running ingest run on an '
  'ingest cluster in sync mode), retries a chain job that failed permanently while holding its key, caps Graphile''s '
  'retry delay of a chain job to chain_max_backoff, prunes failed chain jobs beyond failed_jobs_kept per task and old '
  'evaluations. Every repair is returned and recorded in job_chain_incidents. The first job of a new run''s refresh '
  'or sync chain (no generation yet) is how that chain begins: returned as action started, not recorded. Safe to call '
  'concurrently (one runs).';
--! EndIncluded decision/job_chain__watchdog.sql
