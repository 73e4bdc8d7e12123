-- Least privilege for execution objects (decision cluster). Tables are written only through the
-- security-definer functions; kapitaal_execution calls them, kapitaal_readonly reads, the ingest writer gets nothing.
revoke all on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance, kapitaal.orders,
  kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy, kapitaal.capital_snapshots,
  kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status, kapitaal.fills_ledger
  from public, kapitaal_ingest_writer;

grant select on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance,
  kapitaal.orders, kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy,
  kapitaal.capital_snapshots, kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status,
  kapitaal.fills_ledger
  to kapitaal_execution, kapitaal_readonly;

-- Append-only ledgers: nobody updates or deletes, not even the owner's grantees (the trigger also refuses).
revoke update, delete, truncate on kapitaal.order_events, kapitaal.fills from kapitaal_execution, kapitaal_readonly;

-- Writers (security definer): execution only.
revoke all on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) from public;
revoke all on function kapitaal.order__begin_submit(bigint, timestamptz) from public;
revoke all on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) from public;
revoke all on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) from public;
revoke all on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) from public;
revoke all on function kapitaal.tg__append_only() from public;
grant execute on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.order__begin_submit(bigint, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) to kapitaal_execution;

-- Readers: pure or read-only functions, for execution and for a DBA with the read-only role.
revoke all on function kapitaal.order__client_id(text, bigint, text) from public;
revoke all on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) from public;
revoke all on function kapitaal.positions__recompute(text) from public;
revoke all on function kapitaal.positions__verify(text) from public;
revoke all on function kapitaal.capital__exposure(text, text) from public;
revoke all on function kapitaal.capital__position_size(text, numeric, timestamptz, text) from public;
revoke all on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) from public;
revoke all on function kapitaal.open_positions__marked(jsonb, text) from public;
grant execute on function kapitaal.order__client_id(text, bigint, text),
  kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric),
  kapitaal.positions__recompute(text),
  kapitaal.positions__verify(text),
  kapitaal.capital__exposure(text, text),
  kapitaal.capital__position_size(text, numeric, timestamptz, text),
  kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text),
  kapitaal.open_positions__marked(jsonb, text)
  to kapitaal_execution, kapitaal_readonly;
-- The runtime's snapshot task (writes capital_snapshots through capital__snapshot).
revoke all on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) from public;
grant execute on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) to kapitaal_execution;
-- Fee rates: execution records the exchange's (task capital__fee_rates) and reads them through fee_rates__for,
-- which is plain SQL so that it inlines into strategy__proposals (hence the table grant).
revoke all on kapitaal.account_fee_rates from public;
revoke all on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) from public;
revoke all on function kapitaal.fee_rates__for(text, text) from public;
grant select on kapitaal.account_fee_rates to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.fee_rates__for(text, text) to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) to kapitaal_execution;
-- The entry halt (kill switch, daily loss limit): placement calls it; operators may ask it why.
revoke all on function kapitaal.capital__entry_halt(timestamptz, text) from public;
grant execute on function kapitaal.capital__entry_halt(timestamptz, text) to kapitaal_execution, kapitaal_readonly;
-- Balance drift: execution records the exchange's balances (task capital__balances); operators rebaseline
-- (as the owner or with kapitaal_execution); everyone may ask balance__drift and read the snapshots.
revoke all on kapitaal.balance_snapshots, kapitaal.balance_snapshot_assets, kapitaal.balance_rebaselines,
  kapitaal.balance_drift_checks from public, kapitaal_ingest_writer;
grant select on kapitaal.balance_snapshots, kapitaal.balance_snapshot_assets, kapitaal.balance_rebaselines,
  kapitaal.balance_drift_checks to kapitaal_execution, kapitaal_readonly;
revoke all on function kapitaal.balance__record(text, jsonb, text, timestamptz) from public;
revoke all on function kapitaal.balance__rebaseline(text, text, timestamptz) from public;
revoke all on function kapitaal.balance__drift(text, timestamptz) from public;
grant execute on function kapitaal.balance__record(text, jsonb, text, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.balance__rebaseline(text, text, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.balance__drift(text, timestamptz) to kapitaal_execution, kapitaal_readonly;
