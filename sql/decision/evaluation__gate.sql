create or replace function kapitaal.evaluation__gate(p_evaluation_id bigint, p_now timestamptz default now())
returns table (
  evaluation_id bigint,
  run_id bigint,
  generation_id bigint,
  allowed boolean,
  reason text,
  marker text,
  current_generation_id bigint,
  generation_age interval
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_eval kapitaal.evaluations;
  v_gate record;
begin
  select * into v_eval from kapitaal.evaluations e where e.evaluation_id = p_evaluation_id;
  if not found then
    raise exception 'evaluation__gate: no evaluation %', p_evaluation_id using errcode = 'P0002';
  end if;
  select * into v_gate from kapitaal.generation_gate__check(v_eval.run_id, v_eval.generation_id, p_now);
  insert into kapitaal.evaluation_gate_checks (evaluation_id, checked_at, allowed, reason, marker, current_generation_id)
  values (p_evaluation_id, p_now, v_gate.allowed, v_gate.reason, v_gate.marker, v_gate.current_generation_id);
  evaluation_id := p_evaluation_id;
  run_id := v_eval.run_id;
  generation_id := v_eval.generation_id;
  allowed := v_gate.allowed;
  reason := v_gate.reason;
  marker := v_gate.marker;
  current_generation_id := v_gate.current_generation_id;
  generation_age := v_gate.generation_age;
  return next;
end
$$;
comment on function kapitaal.evaluation__gate(bigint, timestamptz) is
  'generation_gate__check for the run and generation an evaluation read, recorded in evaluation_gate_checks. The '
  'submit path calls it in the transaction that would place the order and places nothing unless allowed.';
