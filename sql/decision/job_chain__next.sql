create or replace function kapitaal.job_chain__next(
  p_task text,
  p_job_key text,
  p_payload jsonb,
  p_mode text,
  p_delay interval default interval '0',
  p_failures integer default 0,
  p_now timestamptz default now()
)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_pol kapitaal.decision_policy;
  v_run_at timestamptz;
  v_payload jsonb := coalesce(p_payload, '{}'::jsonb) - 'failures';
  v_pending graphile_worker.jobs;
  -- Refreshes of one run run one at a time: a follow-up queued while one runs waits in the
  -- run's Graphile queue instead of holding a worker on the refresh lock.
  v_queue text := case when p_task = 'run_symbol_state__refresh' then p_job_key end;
begin
  if p_mode not in ('immediate', 'cadence', 'backoff') then
    raise exception 'job_chain__next: mode must be immediate, cadence or backoff, got %', p_mode using errcode = '22023';
  end if;
  select * into v_pol from kapitaal.decision_policy where policy = 'default';
  if p_mode = 'immediate' then
    -- A step waiting out a backoff is not pulled forward by new work (that would turn an outage
    -- into a failure per refresh); everything else runs now.
    select * into v_pending from graphile_worker.jobs j
     where j.key = p_job_key and j.locked_at is null and j.attempts < j.max_attempts and j.flags ? 'chain_backoff';
    if found then
      return v_pending.run_at;
    end if;
    v_run_at := p_now;
    perform graphile_worker.add_job(p_task, v_payload::json, queue_name => v_queue, run_at => v_run_at, job_key => p_job_key,
                                    job_key_mode => 'replace', max_attempts => v_pol.chain_max_attempts);
  elsif p_mode = 'cadence' then
    -- preserve_run_at: a pending job that was already queued for sooner (new work) keeps its time.
    v_run_at := p_now + p_delay;
    perform graphile_worker.add_job(p_task, v_payload::json, queue_name => v_queue, run_at => v_run_at, job_key => p_job_key,
                                    job_key_mode => 'preserve_run_at', max_attempts => v_pol.chain_max_attempts);
  else
    v_run_at := p_now + least(greatest(p_delay, interval '1 second') * power(2, least(greatest(p_failures, 1), 20) - 1),
                              v_pol.chain_max_backoff);
    perform graphile_worker.add_job(p_task, (v_payload || jsonb_build_object('failures', p_failures))::json,
                                    queue_name => v_queue, run_at => v_run_at, job_key => p_job_key, job_key_mode => 'replace',
                                    max_attempts => v_pol.chain_max_attempts, flags => array['chain_backoff']);
  end if;
  return v_run_at;
end
$$;
comment on function kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz) is
  'Queues the next cycle of a chain step (at most one pending per job_key). immediate: run now (new work; a pending '
  'backoff job is left alone); cadence: run at p_now + p_delay unless already queued for sooner; backoff: after '
  'p_failures consecutive failures, run at p_now + min(max(p_delay, 1 s) * 2^(failures-1), chain_max_backoff), '
  'flagged chain_backoff, payload.failures = p_failures. Called inside the transaction that finishes the step, so the '
  'chain advances exactly when the step commits. When the key is held by the running job, Graphile Worker moves the '
  'key to the new job and marks the running one final: if it then fails it stays visible as failed, never retried. '
  'run_symbol_state__refresh jobs go to the Graphile queue named after their key (one refresh of a run at a time).';
