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

-- Column comments (\d+ in psql). Intervals are now() (the reading transaction's start) minus a stored time.
comment on column kapitaal.decision_status.run_id is 'ingest_runs.run_id: the ingest run.';
comment on column kapitaal.decision_status.status is 'ingest_runs.status: running, ended, failed or abandoned.';
comment on column kapitaal.decision_status.heartbeat_at is 'ingest_runs.heartbeat_at: the run''s last sign of life as seen here.';
comment on column kapitaal.decision_status.heartbeat_age is 'now() - heartbeat_at (interval).';
comment on column kapitaal.decision_status.last_epoch is 'ingest_epochs.epoch of the run''s newest epoch; null before the first.';
comment on column kapitaal.decision_status.last_epoch_at is 'ingest_epochs.published_at of that epoch.';
comment on column kapitaal.decision_status.current_generation_id is
  'decision_generation__current: the run''s newest state_generations row on this cluster; null when none is visible.';
comment on column kapitaal.decision_status.current_refreshed_at is
  'state_generations.refreshed_at of the current generation: the ingest refresh''s effective time.';
comment on column kapitaal.decision_status.generation_age is 'now() - current_refreshed_at (interval): how old the state here is.';
comment on column kapitaal.decision_status.generation_complete is
  'decision_generation__current.complete: every run_symbol_state row of the run here carries the current generation and '
  'there are as many as it recorded; null when no generation is visible.';
comment on column kapitaal.decision_status.last_visibility_lag is
  'state_generation_visibility.lag of the run''s newest visible generation: visible_at - refreshed_at, how long it took '
  'from the ingest refresh to this cluster (interval).';
comment on column kapitaal.decision_status.max_visibility_lag_5m is
  'Largest state_generation_visibility.lag of the run among generations made visible in the last 5 minutes; null if none.';
comment on column kapitaal.decision_status.last_evaluation_id is 'evaluations.evaluation_id of the run''s newest evaluation.';
comment on column kapitaal.decision_status.last_evaluated_at is 'evaluations.evaluated_at of that evaluation (its p_now).';
comment on column kapitaal.decision_status.last_outcome is
  'evaluations.outcome of that evaluation: candidates, economically_empty, data_blocked, attach_blocked or generation_blocked.';
comment on column kapitaal.decision_status.last_reason is 'evaluations.reason of that evaluation: why, with the deciding numbers.';

comment on column kapitaal.evaluation_outcomes.outcome is
  'evaluations.outcome: candidates, economically_empty, data_blocked, attach_blocked or generation_blocked.';
comment on column kapitaal.evaluation_outcomes.evaluations is
  'Evaluations with this outcome whose evaluated_at is within the last hour (evaluated_at > now() - 1 hour).';
comment on column kapitaal.evaluation_outcomes.last_at is 'Newest evaluated_at among them.';
comment on column kapitaal.evaluation_outcomes.last_reason is
  'evaluations.reason of the one with the highest evaluation_id among them.';
