-- The dashboard's ingest-runs panel: engine_status (heartbeat, last refresh, pending rows) with each run's newest
-- epoch, which engine_status does not carry. Ages in seconds so a client needs no interval parser.
create or replace view kapitaal.dashboard_ingest_runs as
  select s.run_id, s.status, s.started_at, s.heartbeat_at,
         extract(epoch from s.heartbeat_age)::float8 as heartbeat_age_s,
         e.epoch as last_epoch, e.published_at as last_epoch_at,
         s.last_generation_id, s.last_refreshed_at,
         extract(epoch from s.refresh_lag)::float8 as refresh_lag_s,
         s.symbols, s.last_rows_read, s.last_duration_ms, s.pending_rows
    from kapitaal.engine_status s
    left join lateral (select ie.epoch, ie.published_at from kapitaal.ingest_epochs ie
                        where ie.run_id = s.run_id order by ie.epoch desc limit 1) e on true;
comment on view kapitaal.dashboard_ingest_runs is
  'Per ingest run, for the dashboard: status, heartbeat and its age in seconds, newest epoch, newest state generation '
  'with its refresh lag in seconds, rows read and duration of that refresh, and raw rows pending for the next refresh '
  '(engine_status plus the newest ingest_epochs row).';
