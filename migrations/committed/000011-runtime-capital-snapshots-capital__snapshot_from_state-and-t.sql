--! Previous: sha1:9164c263c2a79cad4f4df49f668b2ddcc25582b9
--! Hash: sha1:0a9df26a81038272d38419f61c47c497fd4490f6
--! Message: Runtime capital snapshots: capital__snapshot_from_state and the capital__snapshot cadence

--! split: 1-current.sql
-- Enter migration here

--! split: 3-capital-snapshot.sql
--! Included execution/capital__snapshot_from_state.sql
-- The runtime's equity snapshot: open positions marked at the mid of their newest run_symbol_state
-- row on this cluster (as exits__scan marks them), cash from the fills ledger. Compounding sizes
-- from these snapshots, so without a runtime caller compounding mode could never trade.
create or replace function kapitaal.capital__snapshot_from_state(
  p_now timestamptz default now(),
  p_account text default 'default',
  p_max_mark_age interval default interval '30 seconds'
)
returns table (taken boolean, snapshot_id bigint, equity numeric, open_positions integer, reason text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_marks jsonb;
  v_missing text;
  v_snap kapitaal.capital_snapshots;
begin
  if not exists (select 1 from kapitaal.capital_policy c where c.account = p_account) then
    return query select false, null::bigint, null::numeric, null::integer,
                        format('NO_CAPITAL_POLICY: no capital_policy row for account %s', p_account);
    return;
  end if;
  with m as (
    select p.symbol, st.mid, p_now - st.refreshed_at as age
      from (select distinct p.symbol from kapitaal.positions p
             where p.account = p_account and p.closed_at is null) p
      left join lateral (select s.mid, s.refreshed_at from kapitaal.run_symbol_state s where s.symbol = p.symbol
                          order by s.refreshed_at desc, s.run_id desc limit 1) st on true
  )
  select coalesce(jsonb_object_agg(m.symbol, m.mid::text) filter (where m.mid > 0 and m.age <= p_max_mark_age), '{}'::jsonb),
         string_agg(format('%s (%s)', m.symbol, case when m.mid is null or m.mid <= 0 then 'no mid'
                                                     else format('state %s old', date_trunc('second', m.age)) end), ', '
                    order by m.symbol) filter (where not coalesce(m.mid > 0 and m.age <= p_max_mark_age, false))
    into v_marks, v_missing
    from m;
  -- Equity is never computed from a missing or stale price: no snapshot then, and compounding waits.
  if v_missing is not null then
    return query select false, null::bigint, null::numeric, null::integer,
                        format('NO_FRESH_MARK: %s; marks must be at most %s old', v_missing, p_max_mark_age);
    return;
  end if;
  v_snap := kapitaal.capital__snapshot(v_marks, null, p_now, p_account);
  return query select true, v_snap.snapshot_id, v_snap.equity, v_snap.open_positions,
                      format('SNAPSHOT: equity %s (cash %s from the ledger + positions %s at the state mid)',
                             v_snap.equity, v_snap.cash, v_snap.positions_value);
end
$$;
comment on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) is
  'The runtime''s capital snapshot (task capital__snapshot): marks every open position at the mid of its newest '
  'run_symbol_state row on this cluster and calls capital__snapshot with ledger cash. Takes none (taken = false, '
  'reason NO_FRESH_MARK or NO_CAPITAL_POLICY) when a position has no mid or only one older than p_max_mark_age: '
  'equity is never computed from a missing or stale price.';
--! EndIncluded execution/capital__snapshot_from_state.sql
--! Included execution/grants.sql
-- Least privilege for execution objects (decision cluster). Tables are written only through the
-- security-definer functions; kapitaal_execution calls them, kapitaal_readonly reads, the ingest writer gets nothing.
revoke all on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance, kapitaal.orders,
  kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy, kapitaal.capital_snapshots,
  kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status, kapitaal.fills_ledger
  from public, kapitaal_ingest_writer;

grant select on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance,
  kapitaal.orders, kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy,
  kapitaal.capital_snapshots, kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status,
  kapitaal.fills_ledger
  to kapitaal_execution, kapitaal_readonly;

-- Append-only ledgers: nobody updates or deletes, not even the owner's grantees (the trigger also refuses).
revoke update, delete, truncate on kapitaal.order_events, kapitaal.fills from kapitaal_execution, kapitaal_readonly;

-- Writers (security definer): execution only.
revoke all on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) from public;
revoke all on function kapitaal.order__begin_submit(bigint, timestamptz) from public;
revoke all on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) from public;
revoke all on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) from public;
revoke all on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) from public;
revoke all on function kapitaal.tg__append_only() from public;
grant execute on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.order__begin_submit(bigint, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) to kapitaal_execution;

-- Readers: pure or read-only functions, for execution and for a DBA with the read-only role.
revoke all on function kapitaal.order__client_id(text, bigint, text) from public;
revoke all on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) from public;
revoke all on function kapitaal.positions__recompute(text) from public;
revoke all on function kapitaal.positions__verify(text) from public;
revoke all on function kapitaal.capital__exposure(text, text) from public;
revoke all on function kapitaal.capital__position_size(text, numeric, timestamptz, text) from public;
revoke all on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) from public;
revoke all on function kapitaal.open_positions__marked(jsonb, text) from public;
grant execute on function kapitaal.order__client_id(text, bigint, text),
  kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric),
  kapitaal.positions__recompute(text),
  kapitaal.positions__verify(text),
  kapitaal.capital__exposure(text, text),
  kapitaal.capital__position_size(text, numeric, timestamptz, text),
  kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text),
  kapitaal.open_positions__marked(jsonb, text)
  to kapitaal_execution, kapitaal_readonly;
-- The runtime's snapshot task (writes capital_snapshots through capital__snapshot).
revoke all on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) from public;
grant execute on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) to kapitaal_execution;
--! EndIncluded execution/grants.sql
--! Included orders/execution_jobs__ensure.sql
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
  foreach v_task in array array['order__reconcile', 'exits__scan', 'capital__snapshot'] loop
    -- preserve_run_at: an existing pending cycle keeps its schedule; a missing one starts now.
    select j.id, j.run_at into v_id, v_run_at
      from graphile_worker.add_job(v_task, '{}'::json, job_key => v_task, run_at => p_now,
                                   max_attempts => 3, job_key_mode => 'preserve_run_at') j;
    return query select v_task, v_id, v_run_at;
  end loop;
end
$$;
comment on function kapitaal.execution_jobs__ensure(timestamptz) is
  'Queues the execution cadence jobs order__reconcile, exits__scan and capital__snapshot (job key = task name) unless one is pending '
  '(its run_at is kept). Each run re-queues itself with run_at = now + cadence. Safe to call on every start.';
--! EndIncluded orders/execution_jobs__ensure.sql
--! Included dashboard/dashboard_open_positions.sql
-- The dashboard's positions panel. open_positions marks at the newest capital snapshot (the runtime's
-- capital__snapshot task takes one every 10 s); this adds the mark the status line uses: the mid of the symbol in the
-- newest run's run_symbol_state, with the P&L at that mid, which is there even while snapshots are skipped.
-- Dropped and created (not replaced): o.* is expanded when the view is made, so a column added to open_positions
-- would make a replace fail; nothing depends on this view.
drop view if exists kapitaal.dashboard_open_positions;
create view kapitaal.dashboard_open_positions as
  select o.*, s.mid as state_mid, s.refreshed_at as state_mid_at,
         o.qty * s.mid - o.cost_basis - o.entry_fees_open as unrealised_pnl_at_state_mid
    from kapitaal.open_positions o
    left join lateral (select x.mid, x.refreshed_at from kapitaal.run_symbol_state x
                        where x.symbol = o.symbol order by x.run_id desc limit 1) s on true;
comment on view kapitaal.dashboard_open_positions is
  'open_positions plus the mid of the symbol in the newest run''s state (state_mid, its refresh time) and the '
  'unrealised P&L at that mid (value - cost basis - entry fees of the open quantity, exit fees not deducted), for the '
  'dashboard: the snapshot mark of open_positions is empty until a capital snapshot was taken.';
--! EndIncluded dashboard/dashboard_open_positions.sql
--! Included dashboard/grants.sql
-- The dashboard reads as kapitaal_readonly. dashboard_ingest_runs counts raw rows (engine_status.pending_rows), so
-- it is not granted to kapitaal_execution, which must never read raw tables (state-first contract).
grant select on kapitaal.dashboard_ingest_runs, kapitaal.dashboard_evaluation_outcomes,
  kapitaal.dashboard_open_positions to kapitaal_readonly;
grant execute on function kapitaal.dashboard__equity_curve(text, interval, integer, timestamptz) to kapitaal_readonly;
--! EndIncluded dashboard/grants.sql
