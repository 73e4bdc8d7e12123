-- The dashboard reads as kapitaal_readonly. dashboard_ingest_runs counts raw rows (engine_status.pending_rows), so
-- it is not granted to kapitaal_execution, which must never read raw tables (state-first contract).
grant select on kapitaal.dashboard_ingest_runs, kapitaal.dashboard_evaluation_outcomes,
  kapitaal.dashboard_open_positions to kapitaal_readonly;
grant execute on function kapitaal.dashboard__equity_curve(text, interval, integer, timestamptz) to kapitaal_readonly;
