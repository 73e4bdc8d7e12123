-- Starts the execution cadences (each task re-queues itself with its job key afterwards).
create or replace function kapitaal.execution_jobs__ensure(p_now timestamptz default now())
returns table (task text, job_id bigint, run_at timestamptz)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_task text;
  v_id bigint;
  v_run_at timestamptz;
begin
  foreach v_task in array array['order__reconcile', 'exits__scan', 'capital__snapshot', 'capital__fee_rates', 'capital__balances'] loop
    -- preserve_run_at: an existing pending cycle keeps its schedule; a missing one starts now.
    select j.id, j.run_at into v_id, v_run_at
      from graphile_worker.add_job(v_task, '{}'::json, job_key => v_task, run_at => p_now,
                                   max_attempts => 3, job_key_mode => 'preserve_run_at') j;
    return query select v_task, v_id, v_run_at;
  end loop;
end
$$;
comment on function kapitaal.execution_jobs__ensure(timestamptz) is
  'Queues the execution cadence jobs order__reconcile, exits__scan, capital__snapshot, capital__fee_rates and capital__balances (job key = task name) unless one is pending '
  '(its run_at is kept). Each run re-queues itself with run_at = now + cadence. Safe to call on every start.';
