// The refresh job's body from TypeScript (run_symbol_state__refresh_cycle), numbers as JS numbers.
import type pg from 'pg';
import type { RefreshJobOutcome } from '../state/refresh.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface RefreshCycleOutcome extends RefreshJobOutcome {
  /** immediate: raw rows were waiting, the next refresh runs now; cadence: idle, after the cadence; null: not re-queued. */
  next_mode: 'immediate' | 'cadence' | null;
}

const NUMERIC = ['generation_id', 'run_id', 'ticker_rows', 'trade_rows', 'l2_rows', 'l3_rows', 'rows_read', 'symbols',
  'symbols_changed', 'buckets_deleted', 'duration_ms'] as const;

/** Refresh, then queue the next refresh in the same transaction while the run is running. */
export async function runRefreshCycle(db: Queryable, runId: number, cadenceSeconds?: number): Promise<RefreshCycleOutcome> {
  const { rows } = await db.query('select * from kapitaal.run_symbol_state__refresh_cycle($1, $2)', [runId, cadenceSeconds ?? null]);
  const row = rows[0] as Record<string, unknown>;
  const out: Record<string, unknown> = { ...row };
  for (const f of NUMERIC) out[f] = Number(row[f]);
  for (const f of ['refreshed_at', 'next_run_at']) if (row[f] instanceof Date) out[f] = (row[f] as Date).toISOString();
  return out as unknown as RefreshCycleOutcome;
}
