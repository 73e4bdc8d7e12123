create or replace function kapitaal.generation_gate__check(
  p_run_id bigint,
  p_generation_id bigint,
  p_now timestamptz default now()
)
returns table (
  allowed boolean,
  reason text,
  marker text,
  current_generation_id bigint,
  generation_age interval
)
language plpgsql
stable
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_cur record;
  v_max interval := (select p.max_generation_age from kapitaal.decision_policy p where p.policy = 'default');
  v_status text;
begin
  select * into v_cur from kapitaal.decision_generation__current(p_run_id);
  current_generation_id := v_cur.generation_id;
  generation_age := greatest(p_now - v_cur.refreshed_at, interval '0');
  allowed := false;
  marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
  select r.status into v_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  if p_generation_id is null then
    reason := 'NO_GENERATION: the evaluation recorded no generation';
  elsif v_cur.generation_id is null then
    reason := format('GENERATION_NOT_VISIBLE: no generation of run %s is visible on this cluster', p_run_id);
  elsif v_cur.generation_id < p_generation_id then
    reason := format('GENERATION_NOT_VISIBLE: generation %s is not visible here yet (current %s)', p_generation_id, v_cur.generation_id);
  elsif v_cur.generation_id > p_generation_id then
    reason := format('GENERATION_SUPERSEDED: generation %s was superseded by %s', p_generation_id, v_cur.generation_id);
  elsif not v_cur.complete then
    reason := format('GENERATION_INCOMPLETE: %s of %s rows carry generation %s, %s rows another',
                     v_cur.rows_of_generation, v_cur.symbols, p_generation_id, v_cur.rows_of_other_generations);
  elsif generation_age > v_max then
    reason := format('GENERATION_STALE: generation %s is %s old > %s (refresh or feed fell behind)',
                     p_generation_id, generation_age, v_max);
  elsif v_status is distinct from 'running' then
    reason := format('RUN_NOT_RUNNING: ingest run %s is %s', p_run_id, coalesce(v_status, 'not visible here'));
  else
    allowed := true;
    marker := null;
    reason := format('GENERATION_CURRENT: generation %s is current and %s old <= %s', p_generation_id, generation_age, v_max);
  end if;
  return next;
end
$$;
comment on function kapitaal.generation_gate__check(bigint, bigint, timestamptz) is
  'The generation gate (state-first contract, rule 4): execution may proceed only when this (decision) cluster still '
  'shows p_generation_id as the current, complete generation of the run, at most decision_policy.max_generation_age '
  'old at p_now, and the run is running. Otherwise allowed = false, a reason (NO_GENERATION, GENERATION_NOT_VISIBLE, '
  'GENERATION_SUPERSEDED, GENERATION_INCOMPLETE, GENERATION_STALE, RUN_NOT_RUNNING) and marker '
  'EXECUTION_BLOCKED_GENERATION_MISMATCH: place nothing. Call it in the transaction that would place the order.';
