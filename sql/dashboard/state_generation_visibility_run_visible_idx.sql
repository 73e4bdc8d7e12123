-- decision_status's max_visibility_lag_5m filters a run's visibility rows on visible_at; with only the
-- (run_id, generation_id) index it read every row of the run (one per generation: ~430k a day at 5 per second),
-- 133 ms per dashboard poll after a day. With this index: 0.6 ms (docs/sql-api/dashboard.md).
create index if not exists state_generation_visibility_run_visible_idx
  on kapitaal.state_generation_visibility (run_id, visible_at);
comment on index kapitaal.state_generation_visibility_run_visible_idx is
  'Recent visibility rows of a run by time (decision_status.max_visibility_lag_5m, the dashboard).';
