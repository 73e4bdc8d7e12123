create or replace function kapitaal.evaluation__run_job(
  p_run_id bigint default null,
  p_cadence_seconds numeric default null,
  p_now timestamptz default now()
)
returns table (evaluation kapitaal.evaluations, next_run_at timestamptz)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_cadence interval;
begin
  if p_cadence_seconds is not null and (p_cadence_seconds <= 0 or p_cadence_seconds > 3600) then
    raise exception 'evaluation__run_job: cadence must be in (0, 3600] seconds, got %', p_cadence_seconds using errcode = '22023';
  end if;
  evaluation := kapitaal.evaluation__run(p_run_id, p_now);
  if kapitaal.job_chain__wanted('evaluation__run', '{}'::jsonb) then
    v_cadence := coalesce(make_interval(secs => p_cadence_seconds::double precision),
                          (select p.evaluation_cadence from kapitaal.decision_policy p where p.policy = 'default'));
    next_run_at := kapitaal.job_chain__next(
      'evaluation__run', 'evaluation__run',
      jsonb_strip_nulls(jsonb_build_object('run_id', p_run_id, 'cadence_seconds', p_cadence_seconds)),
      'cadence', v_cadence, 0, p_now);
  end if;
  return next;
end
$$;
comment on function kapitaal.evaluation__run_job(bigint, numeric, timestamptz) is
  'Body of the Graphile Worker task evaluation__run: evaluation__run, then, while evaluation is enabled here, the next '
  'cycle (job_key evaluation__run, run_at = p_now + cadence unless a new generation already queued it sooner) in the '
  'same transaction. Cadence: p_cadence_seconds, else decision_policy.evaluation_cadence.';
