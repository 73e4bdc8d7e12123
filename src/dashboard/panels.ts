// What each panel reads, per cluster. Every query is bounded (LIMIT) and reads an existing
// view (or sql/dashboard/); numeric columns arrive as decimal text from pg and stay text.
import type pg from 'pg';
import { readDecisionOverview } from '../status/overview.ts';

export type Query = Pick<pg.PoolClient, 'query'>;
export type PanelReader = (q: Query) => Promise<unknown>;

const rows = (sql: string): PanelReader => async (q) => (await q.query(sql)).rows;

/** Bounds of the lists (the page says when a list is cut). */
export const LIMITS = { runs: 20, routes: 300, regimes: 200, orders: 50, fills: 50, positions: 100, equityPoints: 200, balances: 50 } as const;

const queue = rows(`
  select task_identifier, waiting, scheduled, running, failed, retrying, last_failure
    from kapitaal.job_queue_status order by task_identifier`);

export const INGEST_PANELS: Record<string, PanelReader> = {
  runs: rows(`
    select run_id, status, started_at, heartbeat_at, heartbeat_age_s, last_epoch, last_epoch_at,
           last_generation_id, last_refreshed_at, refresh_lag_s, symbols, last_rows_read, last_duration_ms, pending_rows
      from kapitaal.dashboard_ingest_runs order by run_id desc limit ${LIMITS.runs}`),
  queue,
};

export const DECISION_PANELS: Record<string, PanelReader> = {
  // The `kapitaal status` figures (equity, P&L, outcomes of the last minute), reused as they are.
  summary: (q) => readDecisionOverview(q, null),
  runs: rows(`
    select run_id, status, heartbeat_at, extract(epoch from heartbeat_age)::float8 as heartbeat_age_s,
           last_epoch, last_epoch_at, current_generation_id, current_refreshed_at,
           extract(epoch from generation_age)::float8 as generation_age_s, generation_complete,
           extract(epoch from last_visibility_lag)::float8 as last_visibility_lag_s,
           extract(epoch from max_visibility_lag_5m)::float8 as max_visibility_lag_5m_s,
           last_evaluation_id, last_evaluated_at, last_outcome, last_reason
      from kapitaal.decision_status order by run_id desc limit ${LIMITS.runs}`),
  outcomes: rows(`
    select outcome, evaluations, last_at, last_reason from kapitaal.dashboard_evaluation_outcomes order by evaluations desc, outcome`),
  // Blocked routes first: they are why it does not trade.
  routes: rows(`
    select run_id, symbol, route_type, exec_allowed, extract(epoch from state_age)::float8 as state_age_s,
           extract(epoch from refresh_age)::float8 as refresh_age_s, extract(epoch from max_state_age)::float8 as max_state_age_s,
           data_at, generation_id, reason, marker, count(*) over () as total
      from kapitaal.route_freshness order by exec_allowed, run_id desc, symbol, route_type limit ${LIMITS.routes}`),
  regimes: rows(`
    select run_id, symbol, regime, regime_since, regime_indicated, regime_candidate, regime_streak, regime_reason,
           vol_5m_bps, ret_5m_bps, spread_bps, min_depth_50bps_quote, book_valid, data_at, generation_id,
           count(*) over () as total
      from kapitaal.symbol_regimes
     where run_id in (select r.run_id from kapitaal.ingest_runs r where r.status = 'running')
     order by run_id desc, symbol limit ${LIMITS.regimes}`),
  orders: rows(`
    select order_id, client_order_id, symbol, side, order_type, purpose, strategy, status, terminal, price, qty,
           filled_qty, avg_fill_price, fees, fill_count, exit_trigger, reason, created_at, updated_at, last_event_note
      from kapitaal.order_status order by order_id desc limit ${LIMITS.orders}`),
  fills: rows(`
    select fill_id, filled_at, symbol, side, strategy, price, qty, notional, fee, liquidity, cash_delta, order_id,
           purpose, position_id
      from kapitaal.fills_ledger order by fill_id desc limit ${LIMITS.fills}`),
  positions: rows(`
    select position_id, symbol, strategy, opened_at, qty, avg_entry_price, cost_basis, mark_price, marked_at,
           market_value, unrealised_pnl, unrealised_pnl_after_exit_fee, state_mid, state_mid_at,
           unrealised_pnl_at_state_mid, realised_pnl, trail_armed, entry_regime, exit_order_id, exit_order_status
      from kapitaal.dashboard_open_positions order by position_id limit ${LIMITS.positions}`),
  // The newest exchange balances against the fills ledger (live and simulator venues; none on paper).
  // Persistent drift first: it is why entries halt.
  balances: rows(`
    select asset, snapshot_at, baseline_at, baseline_balance, expected, actual, drift, tolerance, exceeded,
           exceeded_snapshots, persistent
      from kapitaal.balance__drift('default', now())
     order by persistent desc, exceeded desc, asset limit ${LIMITS.balances}`),
  equity: rows(`
    select at, equity, cash, positions_value, realised_pnl_total, unrealised_pnl, open_positions, snapshot_id
      from kapitaal.dashboard__equity_curve('default', interval '24 hours', ${LIMITS.equityPoints}) order by at`),
  queue,
};
