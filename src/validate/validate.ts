// `kapitaal validate`: the bootstrap, attach, evaluation and lifecycle proofs,
// each from database facts (SQL functions validation__*_proofs) and the markers
// the processes logged.
import type pg from 'pg';
import type { Marker } from '../log/markers.ts';
import { scanMarkers } from './markers.ts';

export interface ProofRow {
  proof: string;
  ok: boolean;
  detail: string;
}

/** Markers that must have been logged for a proof to count. */
const MARKERS_FOR: Record<string, Marker[]> = {
  'bootstrap.run': ['INGEST_RUN_START'],
  'bootstrap.epoch': ['INGEST_EPOCH_PUBLISHED'],
  'bootstrap.state': ['RUN_SYMBOL_STATE_REFRESH'],
  attach: ['EXECUTION_ENGINE_START'],
  evaluation: ['LIVE_EVALUATION_START', 'LIVE_EVALUATION_DONE'],
  lifecycle: [],
};

export async function collectProofs(ingest: pg.Pool, decision: pg.Pool, logFiles: string[]): Promise<ProofRow[]> {
  const rows: ProofRow[] = [];
  const ask = async (pool: pg.Pool, fn: string, label: string) => {
    try {
      rows.push(...(await pool.query<ProofRow>(`select * from kapitaal.${fn}()`)).rows);
    } catch (err) {
      rows.push({ proof: label, ok: false, detail: `cannot read the ${label} cluster: ${(err as Error).message}` });
    }
  };
  await ask(ingest, 'validation__ingest_proofs', 'ingest');
  await ask(decision, 'validation__decision_proofs', 'decision');
  const markers = await scanMarkers(logFiles);
  for (const row of rows) {
    const missing = (MARKERS_FOR[row.proof] ?? []).filter((m) => !markers.get(m)?.count);
    if (missing.length && logFiles.length) {
      row.ok = false;
      row.detail += `; marker${missing.length > 1 ? 's' : ''} not logged: ${missing.join(', ')}`;
    }
  }
  const blocked = markers.get('EXECUTION_BLOCKED_GENERATION_MISMATCH')?.count ?? 0;
  const stale = markers.get('ROUTE_EXECUTION_BLOCKED_STALE_DATA')?.count ?? 0;
  rows.push({
    proof: 'markers',
    ok: true,
    detail:
      [...markers.entries()].map(([m, s]) => `${m} ${s.count}`).join(', ') +
      (blocked || stale ? ` (blocked: generation ${blocked}, stale ${stale})` : ''),
  });
  return rows;
}
