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

-- Column comments (\d+ in psql); the columns without a derivation here are engine_status's, passed through.
comment on column kapitaal.dashboard_ingest_runs.run_id is 'engine_status.run_id: the ingest run.';
comment on column kapitaal.dashboard_ingest_runs.status is 'engine_status.status: running, ended, failed or abandoned.';
comment on column kapitaal.dashboard_ingest_runs.started_at is 'engine_status.started_at: when the run was created.';
comment on column kapitaal.dashboard_ingest_runs.heartbeat_at is 'engine_status.heartbeat_at: the run''s last sign of life.';
comment on column kapitaal.dashboard_ingest_runs.heartbeat_age_s is 'engine_status.heartbeat_age in seconds (float8).';
comment on column kapitaal.dashboard_ingest_runs.last_epoch is 'ingest_epochs.epoch of the run''s newest epoch; null before the first.';
comment on column kapitaal.dashboard_ingest_runs.last_epoch_at is 'ingest_epochs.published_at of that epoch.';
comment on column kapitaal.dashboard_ingest_runs.last_generation_id is
  'engine_status.last_generation_id: the run''s newest state generation; null before the first refresh.';
comment on column kapitaal.dashboard_ingest_runs.last_refreshed_at is 'engine_status.last_refreshed_at: effective time of that refresh.';
comment on column kapitaal.dashboard_ingest_runs.refresh_lag_s is
  'engine_status.refresh_lag in seconds (float8): now() - last_refreshed_at.';
comment on column kapitaal.dashboard_ingest_runs.symbols is 'engine_status.symbols: run_symbol_state rows of the run after the newest refresh.';
comment on column kapitaal.dashboard_ingest_runs.last_rows_read is 'engine_status.last_rows_read: raw rows the newest refresh read.';
comment on column kapitaal.dashboard_ingest_runs.last_duration_ms is
  'engine_status.last_duration_ms: wall time of the newest refresh in the database, milliseconds.';
comment on column kapitaal.dashboard_ingest_runs.pending_rows is
  'engine_status.pending_rows: raw rows above the refresh watermark, for the next refresh; null unless running.';
