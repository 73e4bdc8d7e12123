-- The executions feed's wake-up: which jobs an execution report of the exchange makes due now.
-- REST stays the source of truth (fills__poll reads TradesHistory, order__reconcile the orders);
-- the feed only makes them run at once instead of at the next reconcile cadence.
-- p_confirm_after added (migration 000023): the old one-argument signature must go, or calls would be ambiguous.
drop function if exists kapitaal.execution__wake(text);
create or replace function kapitaal.execution__wake(p_exec_type text, p_confirm_after interval default interval '1 second')
returns table (task text, job_id bigint, run_at timestamptz)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_id bigint;
  v_run_at timestamptz;
begin
  -- Anything that can change our fills, positions or an order's state polls the fills.
  if p_exec_type in ('trade', 'filled', 'canceled', 'expired', 'restated') then
    -- preserve_run_at: a pending poll that is already due keeps its place in the queue; one that
    -- failed and waits for its retry (attempts > 0) is made due now. A running poll (locked) may
    -- have read TradesHistory before this execution, so add_job queues another one behind it.
    select j.id, j.run_at into v_id, v_run_at
      from graphile_worker.add_job('fills__poll', '{}'::json, job_key => 'fills__poll', run_at => now(),
                                   max_attempts => 5, job_key_mode => 'preserve_run_at') j;
    return query select 'fills__poll'::text, v_id, v_run_at;
    -- A fill reported over the feed can reach TradesHistory after the poll just queued has read it:
    -- one more poll a moment later (its own key; a burst of reports keeps pushing it back, so it runs
    -- once, p_confirm_after after the last one). Trades listed even later are the fills cursor's
    -- look-back's and the reconcile cadence's (docs/EXECUTION.md).
    if p_exec_type in ('trade', 'filled') and p_confirm_after is not null then
      select j.id, j.run_at into v_id, v_run_at
        from graphile_worker.add_job('fills__poll', '{}'::json, job_key => 'fills__poll:confirm', run_at => now() + p_confirm_after,
                                     max_attempts => 5, job_key_mode => 'replace') j;
      return query select 'fills__poll'::text, v_id, v_run_at;
    end if;
  end if;
  -- A closed order also changes status: reconcile now. The pending cadence job is moved forward
  -- (payload kept; a job already due is left alone); it re-queues itself at now + cadence after running.
  if p_exec_type in ('canceled', 'expired') then
    select j.id, j.run_at into v_id, v_run_at
      from graphile_worker.jobs j
     where j.key = 'order__reconcile' and j.locked_at is null;
    if v_id is not null and v_run_at > now() then
      -- No row when a worker locked it meanwhile: then it is running and gets a successor below.
      select j.id, j.run_at into v_id, v_run_at
        from graphile_worker.reschedule_jobs(array[v_id], run_at => now()) j;
      -- reschedule_jobs does not notify (add_job does): wake the listening workers instead of waiting
      -- for their poll interval.
      if v_id is not null then
        perform pg_notify('jobs:insert', '{"count":1}');
      end if;
    end if;
    if v_id is null then
      -- None pending, or the pending one is running and may have read the order before it closed.
      select j.id, j.run_at into v_id, v_run_at
        from graphile_worker.add_job('order__reconcile', '{}'::json, job_key => 'order__reconcile', run_at => now(),
                                     max_attempts => 3, job_key_mode => 'preserve_run_at') j;
    end if;
    return query select 'order__reconcile'::text, v_id, v_run_at;
  end if;
end
$$;
comment on function kapitaal.execution__wake(text, interval) is
  'Wake-up of the executions feed (src/execution/executions-wake.ts): for an exchange execution report of type trade, filled, '
  'canceled, expired or restated, queues fills__poll now (job key fills__poll, preserve_run_at: an already due poll is never '
  'postponed); for trade and filled also a confirming fills__poll p_confirm_after later (job key fills__poll:confirm, replace: '
  'a burst of reports gives one, after the last; none when p_confirm_after is null), as TradesHistory can list a fill after the '
  'first poll read it; for canceled or expired also makes the pending order__reconcile job due now (reschedule_jobs, payload and '
  'cadence kept), or queues one when none is pending or it is running. Other types (pending_new, new, iceberg_refill, status) '
  'queue nothing. Returns the queued or moved jobs. The fills themselves still come from TradesHistory.';

revoke all on function kapitaal.execution__wake(text, interval) from public;
grant execute on function kapitaal.execution__wake(text, interval) to kapitaal_execution;
