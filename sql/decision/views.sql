create or replace view kapitaal.decision_status as
  select r.run_id, r.status, r.heartbeat_at, now() - r.heartbeat_at as heartbeat_age,
         e.epoch as last_epoch, e.published_at as last_epoch_at,
         g.generation_id as current_generation_id, g.refreshed_at as current_refreshed_at,
         now() - g.refreshed_at as generation_age, g.complete as generation_complete,
         v.lag as last_visibility_lag,
         (select max(x.lag) from kapitaal.state_generation_visibility x
           where x.run_id = r.run_id and x.visible_at > now() - interval '5 minutes') as max_visibility_lag_5m,
         ev.evaluation_id as last_evaluation_id, ev.evaluated_at as last_evaluated_at, ev.outcome as last_outcome,
         ev.reason as last_reason
    from kapitaal.ingest_runs r
    left join lateral (select ie.epoch, ie.published_at from kapitaal.ingest_epochs ie
                        where ie.run_id = r.run_id order by ie.epoch desc limit 1) e on true
    left join lateral kapitaal.decision_generation__current(r.run_id) g on true
    left join lateral (select x.lag from kapitaal.state_generation_visibility x
                        where x.run_id = r.run_id order by x.generation_id desc limit 1) v on true
    left join lateral (select x.* from kapitaal.evaluations x
                        where x.run_id = r.run_id order by x.evaluation_id desc limit 1) ev on true;
comment on view kapitaal.decision_status is
  'Per ingest run as the decision cluster sees it: heartbeat, newest epoch, current generation (age, complete), how '
  'long the last generation took to become visible here (and the worst in 5 minutes), and the last evaluation.';

create or replace view kapitaal.evaluation_outcomes as
  select e.outcome, count(*) as evaluations, max(e.evaluated_at) as last_at,
         (array_agg(e.reason order by e.evaluation_id desc))[1] as last_reason
    from kapitaal.evaluations e
   where e.evaluated_at > now() - interval '1 hour'
   group by e.outcome;
comment on view kapitaal.evaluation_outcomes is 'Evaluations of the last hour per outcome, with the newest reason: economically empty vs data-, attach- or generation-blocked.';
