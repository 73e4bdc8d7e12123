-- Least privilege for the decision layer. Roles come from migrations/roles.sql.
revoke all on function kapitaal.decision_settings__configure(text, text, boolean) from public;
revoke all on function kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz) from public;
revoke all on function kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz) from public;
revoke all on function kapitaal.job_chain__watchdog(timestamptz) from public;
revoke all on function kapitaal.decision__upsert_rows(regclass, jsonb) from public;
revoke all on function kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz) from public;
revoke all on function kapitaal.evaluation__run(bigint, timestamptz) from public;
revoke all on function kapitaal.evaluation__run_job(bigint, numeric, timestamptz) from public;
revoke all on function kapitaal.evaluation__gate(bigint, timestamptz) from public;
revoke all on function kapitaal.evaluations__prune(timestamptz) from public;
revoke all on function kapitaal.decision_publication__ensure(text) from public;

-- The feed: the ingest side reads its payload; on the decision cluster the same role applies it.
grant execute on function kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer),
  kapitaal.state__sync_cursor(bigint), kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz),
  kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz),
  kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz),
  kapitaal.job_chain__watchdog(timestamptz)
  to kapitaal_ingest_writer;

-- Execution: evaluates, checks the gate, reads what it decided.
grant execute on function kapitaal.evaluation__run(bigint, timestamptz), kapitaal.evaluation__run_job(bigint, numeric, timestamptz),
  kapitaal.evaluation__gate(bigint, timestamptz), kapitaal.generation_gate__check(bigint, bigint, timestamptz),
  kapitaal.execution_attach__resolve(timestamptz, bigint), kapitaal.decision_generation__current(bigint),
  kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz),
  kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz),
  kapitaal.job_chain__watchdog(timestamptz), kapitaal.evaluations__prune(timestamptz)
  to kapitaal_execution;
grant select on kapitaal.evaluations, kapitaal.evaluation_symbols, kapitaal.evaluation_gate_checks, kapitaal.decision_policy,
  kapitaal.decision_settings, kapitaal.state_generation_visibility, kapitaal.job_chain_incidents,
  kapitaal.decision_status, kapitaal.evaluation_outcomes, kapitaal.ingest_runs, kapitaal.ingest_epochs,
  kapitaal.ingest_snapshots, kapitaal.run_pairs
  to kapitaal_execution;

grant execute on function kapitaal.generation_gate__check(bigint, bigint, timestamptz),
  kapitaal.execution_attach__resolve(timestamptz, bigint), kapitaal.decision_generation__current(bigint),
  kapitaal.state__sync_cursor(bigint), kapitaal.job_chain__wanted(text, jsonb), kapitaal.decision_publication__tables()
  to kapitaal_readonly;
grant select on kapitaal.evaluations, kapitaal.evaluation_symbols, kapitaal.evaluation_gate_checks, kapitaal.decision_policy,
  kapitaal.decision_settings, kapitaal.state_generation_visibility, kapitaal.job_chain_incidents,
  kapitaal.decision_status, kapitaal.evaluation_outcomes
  to kapitaal_readonly;
