create or replace function kapitaal.job_chain__failed(
  p_task text,
  p_job_key text,
  p_payload jsonb,
  p_job_id bigint,
  p_error text,
  p_delay interval default null,
  p_now timestamptz default now()
)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_failures integer := coalesce((p_payload->>'failures')::integer, 0) + 1;
  v_delay interval;
  v_next timestamptz;
begin
  if kapitaal.job_chain__wanted(p_task, p_payload) then
    v_delay := coalesce(p_delay, case p_task
      when 'evaluation__run' then (select p.evaluation_cadence from kapitaal.decision_policy p where p.policy = 'default')
      when 'run_symbol_state__refresh' then (select p.cadence from kapitaal.state_refresh_policy p where p.policy = 'default')
      else (select p.sync_cadence from kapitaal.decision_policy p where p.policy = 'default') end);
    v_next := kapitaal.job_chain__next(p_task, p_job_key, p_payload, 'backoff', v_delay, v_failures, p_now);
  end if;
  insert into kapitaal.job_chain_incidents (at, task_identifier, job_key, job_id, action, failures, next_run_at, detail)
  values (p_now, p_task, p_job_key, p_job_id, 'step_failed', v_failures, v_next, left(p_error, 2000));
  return v_next;
end
$$;
comment on function kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz) is
  'Called (in its own transaction) when a chain step throws, before the job is failed: records a step_failed '
  'incident and queues the next cycle with backoff, so the failing job becomes final (visible as failed in '
  'job_queue_status with its error) and the chain goes on. Returns the next run_at (null: the chain is not wanted '
  'any more, e.g. the ingest run ended).';
