-- Least privilege for the state layer. Roles come from migrations/roles.sql.
-- Ingest writer: runs the refresh (security definer) and reads what it produced.
-- Execution: reads state, policies and the decision functions; never raw tables or the working set.
-- Read-only: everything.

revoke all on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) from public;
revoke all on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) from public;
revoke all on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) from public;
grant execute on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) to kapitaal_ingest_writer;

-- The working-set writer only makes sense inside the refresh.
revoke all on function kapitaal.state__merge(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) from public;
revoke all on function kapitaal.state__window_cache_refresh(bigint, timestamptz, boolean) from public;
revoke all on function kapitaal.state__window_advance(bigint, timestamptz, integer) from public;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations, kapitaal.state_refresh_watermarks,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_ingest_writer;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_execution;
grant execute on function kapitaal.apply_route_freshness_filter(bigint, timestamptz),
  kapitaal.strategy_readiness(bigint, timestamptz), kapitaal.run_symbol_state__digest(bigint)
  to kapitaal_execution, kapitaal_readonly, kapitaal_ingest_writer;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations, kapitaal.state_refresh_watermarks,
  kapitaal.state_buckets, kapitaal.state_symbol_latest,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_readonly;
