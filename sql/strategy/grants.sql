-- Least privilege for the strategy layer. Roles come from migrations/roles.sql.
-- Execution (the evaluation runs as it): reads policies and rankings, runs the scoring, appends rankings.
-- Read-only: reads everything and may run the read-only scoring functions to explain a decision.
revoke all on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text) from public;

grant select on kapitaal.strategy_policy, kapitaal.strategy_regime_eligibility, kapitaal.evaluation_rankings
  to kapitaal_execution, kapitaal_readonly;
grant insert on kapitaal.evaluation_rankings to kapitaal_execution;
grant execute on function
  kapitaal.strategy__proposals(bigint, timestamptz, numeric, text),
  kapitaal.strategy__rank(bigint, timestamptz, numeric, text),
  kapitaal.strategy__select_top(bigint, timestamptz, numeric, text)
  to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text)
  to kapitaal_execution;
