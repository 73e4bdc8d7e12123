// Sync mode: moves the newest generation of a run (and its epochs, snapshots, pairs and run
// rows) from the ingest cluster to the decision cluster. The decision side applies it in one
// transaction (sync_run_symbol_state_to_decision), so a generation is visible there
// completely or not at all, verified against its digest.
import type { Logger } from 'pino';
import { mark } from '../log/logger.ts';
import { type Db, num, one } from './db.ts';

export interface SyncResult {
  runId: number;
  generationId: number | null;
  applied: boolean;
  reason: string;
  symbols: number | null;
  visibleGenerationId: number | null;
  /** refreshed_at → committed on the decision cluster, ms (applied generations only). */
  lagMs: number | null;
  runsUpserted: number;
  pairsUpserted: number;
  epochsInserted: number;
  snapshotsInserted: number;
}

export interface SyncOptions {
  log?: Logger;
  /** Epochs (with their snapshots) per round trip; the sync loops until caught up. */
  maxEpochs?: number;
}

interface ApplyRow {
  run_id: string;
  generation_id: string | null;
  applied: boolean;
  reason: string;
  symbols: number | null;
  state_digest: string | null;
  refreshed_at: Date | null;
  visible_generation_id: string | null;
  runs_upserted: number;
  pairs_upserted: number;
  epochs_inserted: number;
  snapshots_inserted: number;
  more_epochs: boolean;
}

/** One sync of one run: cursor on decision, payload from ingest, one decision transaction per round. */
export async function syncRunToDecision(ingest: Db, decision: Db, runId: number, opts: SyncOptions = {}): Promise<SyncResult> {
  const total: SyncResult = {
    runId, generationId: null, applied: false, reason: '', symbols: null, visibleGenerationId: null, lagMs: null,
    runsUpserted: 0, pairsUpserted: 0, epochsInserted: 0, snapshotsInserted: 0,
  };
  for (let round = 0; round < 100; round++) {
    const cursor = await one<{ generation_id: string | null; epoch: string | null; pairs_updated_at: Date | null }>(
      decision,
      'select generation_id, epoch, pairs_updated_at from kapitaal.state__sync_cursor($1)',
      [runId],
    );
    // Text, not parsed JSON: numerics and timestamps travel exactly (no float rounding).
    const { payload } = await one<{ payload: string }>(
      ingest,
      'select kapitaal.state__sync_payload($1, $2, $3, $4, $5)::text as payload',
      [runId, cursor.generation_id, cursor.epoch, cursor.pairs_updated_at, opts.maxEpochs ?? 100],
    );
    const r = await one<ApplyRow>(decision, 'select * from kapitaal.sync_run_symbol_state_to_decision($1::jsonb)', [payload]);
    const visibleAt = Date.now();
    total.runsUpserted += r.runs_upserted;
    total.pairsUpserted += r.pairs_upserted;
    total.epochsInserted += r.epochs_inserted;
    total.snapshotsInserted += r.snapshots_inserted;
    total.visibleGenerationId = num(r.visible_generation_id);
    if (round === 0 || r.applied) {
      total.generationId = num(r.generation_id);
      total.reason = r.reason;
      total.symbols = r.symbols;
    }
    if (r.applied) {
      total.applied = true;
      total.lagMs = r.refreshed_at ? visibleAt - r.refreshed_at.getTime() : null;
      if (opts.log) {
        mark(opts.log, 'INGEST_DECISION_SYNC_VISIBLE', {
          run_id: runId,
          generation_id: total.generationId,
          symbols: r.symbols,
          lag_ms: total.lagMs,
          state_digest: r.state_digest,
          epochs: r.epochs_inserted,
          feed: 'sync',
        });
      }
    }
    if (!r.more_epochs) break;
  }
  return total;
}
