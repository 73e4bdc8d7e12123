-- Least privilege for the placement glue: tables are written only through these security-definer functions.
revoke all on kapitaal.order_policy, kapitaal.evaluation_placements, kapitaal.exchange_fill_cursors,
  kapitaal.exchange_fill_inbox, kapitaal.exit_scan_decisions, kapitaal.maker_fallbacks
  from public, kapitaal_ingest_writer;
grant select on kapitaal.order_policy, kapitaal.evaluation_placements, kapitaal.exchange_fill_cursors,
  kapitaal.exchange_fill_inbox, kapitaal.exit_scan_decisions, kapitaal.maker_fallbacks
  to kapitaal_execution, kapitaal_readonly;

revoke all on function kapitaal.evaluation__place_orders(bigint, bigint, bigint, timestamptz),
  kapitaal.evaluation__place_orders(bigint),
  kapitaal.order__submit_begin(bigint, timestamptz),
  kapitaal.order__apply_exchange_state(bigint, text, text, jsonb, timestamptz, text),
  kapitaal.fills__ingest(text, text, jsonb, text, text, timestamptz),
  kapitaal.fills__match(text, integer, bigint, timestamptz),
  kapitaal.exits__scan(timestamptz, text),
  kapitaal.order__maker_fallback(bigint, timestamptz),
  kapitaal.execution_jobs__ensure(timestamptz),
  kapitaal.orders__to_reconcile(timestamptz, interval),
  kapitaal.order__maker_fallback_decision(bigint, timestamptz),
  kapitaal.order_policy__for(text)
  from public;
grant execute on function kapitaal.evaluation__place_orders(bigint, bigint, bigint, timestamptz),
  kapitaal.evaluation__place_orders(bigint),
  kapitaal.order__submit_begin(bigint, timestamptz),
  kapitaal.order__apply_exchange_state(bigint, text, text, jsonb, timestamptz, text),
  kapitaal.fills__ingest(text, text, jsonb, text, text, timestamptz),
  kapitaal.fills__match(text, integer, bigint, timestamptz),
  kapitaal.exits__scan(timestamptz, text),
  kapitaal.order__maker_fallback(bigint, timestamptz),
  kapitaal.execution_jobs__ensure(timestamptz),
  kapitaal.orders__to_reconcile(timestamptz, interval)
  to kapitaal_execution;
grant execute on function kapitaal.order__maker_fallback_decision(bigint, timestamptz), kapitaal.order_policy__for(text)
  to kapitaal_execution, kapitaal_readonly;
