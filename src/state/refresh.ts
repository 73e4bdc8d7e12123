// Typed wrappers around the state-layer SQL functions (see docs/sql-api/state.md).
import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** What one refresh did (refresh_run_symbol_state's result, numbers as JS numbers). */
export interface RefreshOutcome {
  generation_id: number;
  run_id: number;
  refreshed_at: string;
  ticker_rows: number;
  trade_rows: number;
  l2_rows: number;
  l3_rows: number;
  rows_read: number;
  symbols: number;
  symbols_changed: number;
  buckets_deleted: number;
  /** Watermark range [from, to) of transaction ids folded in (xid8 as text). */
  watermark_from: string;
  watermark_to: string;
  state_digest: string;
  duration_ms: number;
  /** Symbols whose window aggregates were recomputed from their buckets (the rest took the delta path). */
  symbols_recomputed?: number;
}

export interface RefreshJobOutcome extends RefreshOutcome {
  run_status: string;
  /** Whether the job re-queued itself (only while the ingest run is running). */
  requeued: boolean;
  next_run_at: string | null;
}

export interface RefreshCycleOutcome extends RefreshJobOutcome {
  /** immediate: raw rows were waiting, the next refresh runs now; cadence: idle, after the cadence; null: not re-queued. */
  next_mode: 'immediate' | 'cadence' | null;
}

const NUMERIC_FIELDS = [
  'generation_id',
  'run_id',
  'ticker_rows',
  'trade_rows',
  'l2_rows',
  'l3_rows',
  'rows_read',
  'symbols',
  'symbols_changed',
  'buckets_deleted',
  'duration_ms',
] as const;

function normalise<T extends RefreshOutcome>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...row };
  for (const f of NUMERIC_FIELDS) out[f] = Number(row[f]);
  for (const f of ['refreshed_at', 'next_run_at']) {
    const v = row[f];
    if (v instanceof Date) out[f] = v.toISOString();
  }
  return out as T;
}

/** Runs one incremental refresh of a run's state (its own transaction unless the caller opened one). */
export async function refreshRunSymbolState(db: Queryable, runId: number, now?: Date): Promise<RefreshOutcome> {
  const { rows } = now
    ? await db.query('select * from kapitaal.refresh_run_symbol_state($1, $2)', [runId, now])
    : await db.query('select * from kapitaal.refresh_run_symbol_state($1)', [runId]);
  return normalise<RefreshOutcome>(rows[0]);
}

/** The old refresh job's body (always waits the cadence); the cycle benchmark's baseline scheduling. */
export async function runRefreshJob(db: Queryable, runId: number, cadenceSeconds?: number): Promise<RefreshJobOutcome> {
  const { rows } = await db.query('select * from kapitaal.run_symbol_state__refresh_job($1, $2)', [
    runId,
    cadenceSeconds ?? null,
  ]);
  return normalise<RefreshJobOutcome>(rows[0]);
}

/**
 * The refresh task's body (run_symbol_state__refresh_cycle): refresh, then queue the next refresh in the
 * same transaction while the run is running, at once when raw rows wait, else after the cadence.
 */
export async function runRefreshCycle(db: Queryable, runId: number, cadenceSeconds?: number): Promise<RefreshCycleOutcome> {
  const { rows } = await db.query('select * from kapitaal.run_symbol_state__refresh_cycle($1, $2)', [
    runId,
    cadenceSeconds ?? null,
  ]);
  return normalise<RefreshCycleOutcome>(rows[0]);
}

