create or replace function kapitaal.evaluations__prune(p_now timestamptz default now())
returns integer
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_pol kapitaal.decision_policy;
  v_n integer;
begin
  select * into v_pol from kapitaal.decision_policy p where p.policy = 'default';
  delete from kapitaal.evaluation_symbols s
   using kapitaal.evaluations e
   where e.evaluation_id = s.evaluation_id and e.evaluated_at < p_now - v_pol.evaluation_symbols_retention
     and e.evaluation_id in (select x.evaluation_id from kapitaal.evaluations x
                              where x.evaluated_at < p_now - v_pol.evaluation_symbols_retention
                              order by x.evaluation_id limit 5000);
  delete from kapitaal.evaluations e
   where e.evaluation_id in (select x.evaluation_id from kapitaal.evaluations x
                              where x.evaluated_at < p_now - v_pol.evaluation_retention
                                and x.outcome <> 'candidates'
                              order by x.evaluation_id limit 5000);
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
comment on function kapitaal.evaluations__prune(timestamptz) is
  'Retention of the decision log: deletes evaluation_symbols of evaluations older than evaluation_symbols_retention '
  'and evaluations without candidates (those may have orders) older than evaluation_retention, at most 5000 each call. '
  'Run by job_chain__watchdog.';
