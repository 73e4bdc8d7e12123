// The evaluation and the generation gate from TypeScript: thin wrappers around the SQL
// functions that log the markers.
import type { Logger } from 'pino';
import type pg from 'pg';
import { mark } from '../log/logger.ts';
import type { EvaluationRow } from './context.ts';
import { type Db, num, one } from './db.ts';

export interface EvaluationOptions {
  /** Pin the evaluation to this ingest run (default: attach to the newest live run). */
  runId?: number;
  /** Run as the chain job: REPEATABLE READ, then queue the next cycle. */
  job?: boolean;
  cadenceSeconds?: number;
  now?: Date;
  log?: Logger;
}

const toEvaluation = (r: Record<string, unknown>): EvaluationRow => ({
  evaluation_id: Number(r.evaluation_id),
  run_id: num(r.run_id),
  epoch: num(r.epoch),
  generation_id: num(r.generation_id),
  outcome: r.outcome as EvaluationRow['outcome'],
  reason: String(r.reason),
  marker: (r.marker as string | null) ?? null,
  symbols: Number(r.symbols),
  candidates: Number(r.candidates),
  evaluated_at: r.evaluated_at as Date,
  duration_ms: Number(r.duration_ms),
});

/** Runs evaluation__run (or its job body) in one transaction and logs LIVE_EVALUATION_START/DONE. */
export async function runEvaluation(db: Db, opts: EvaluationOptions = {}): Promise<EvaluationRow & { next_run_at: Date | null }> {
  const log = opts.log;
  if (log) mark(log, 'LIVE_EVALUATION_START', { run_id: opts.runId ?? null });
  const now = opts.now ?? null;
  let row: Record<string, unknown>;
  let next: Date | null = null;
  if (opts.job) {
    // REPEATABLE READ: the evaluation and the strategy layer's ranking read one snapshot. The next
    // cycle is queued right after the commit (in READ COMMITTED): under REPEATABLE READ add_job
    // would hit serialization failures whenever a new generation queued the job meanwhile. A crash
    // in between is covered by the trigger of the next generation and by the watchdog.
    const client = 'totalCount' in db ? await (db as pg.Pool).connect() : (db as pg.PoolClient);
    try {
      await client.query('begin isolation level repeatable read');
      row = await one(client, 'select * from kapitaal.evaluation__run($1, coalesce($2::timestamptz, now()))', [opts.runId ?? null, now]);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      if (client !== db) (client as pg.PoolClient).release();
    }
    const payload = JSON.stringify({ ...(opts.runId ? { run_id: opts.runId } : {}), ...(opts.cadenceSeconds ? { cadence_seconds: opts.cadenceSeconds } : {}) });
    const r = await one<{ next: Date | null }>(
      db,
      `select case when kapitaal.job_chain__wanted('evaluation__run', '{}') then
                kapitaal.job_chain__next('evaluation__run', 'evaluation__run', $1::jsonb, 'cadence',
                  coalesce(make_interval(secs => $2::double precision),
                           (select evaluation_cadence from kapitaal.decision_policy where policy = 'default')),
                  0, coalesce($3::timestamptz, now()))
              end as next`,
      [payload, opts.cadenceSeconds ?? null, now],
    );
    next = r.next;
  } else {
    row = await one(db, 'select * from kapitaal.evaluation__run($1, coalesce($2::timestamptz, now()))', [opts.runId ?? null, now]);
  }
  const e = toEvaluation(row);
  if (log) {
    if (e.marker) {
      // EXECUTION_ATTACH_BLOCKED, EXECUTION_BLOCKED_GENERATION_MISMATCH, ROUTE_EXECUTION_BLOCKED_STALE_DATA, …
      log.warn({ marker: e.marker, evaluation_id: e.evaluation_id, run_id: e.run_id, generation_id: e.generation_id, outcome: e.outcome, reason: e.reason }, e.marker);
    }
    mark(log, 'LIVE_EVALUATION_DONE', {
      evaluation_id: e.evaluation_id,
      run_id: e.run_id,
      epoch: e.epoch,
      generation_id: e.generation_id,
      outcome: e.outcome,
      reason: e.reason,
      symbols: e.symbols,
      candidates: e.candidates,
      duration_ms: e.duration_ms,
    });
  }
  return { ...e, next_run_at: next };
}

export interface GateResult {
  evaluation_id: number;
  run_id: number | null;
  generation_id: number | null;
  allowed: boolean;
  reason: string;
  marker: string | null;
  current_generation_id: number | null;
}

/**
 * The generation gate for an evaluation (records the check). Call it in the transaction that
 * would place the order; on `allowed = false` place nothing. Logs EXECUTION_BLOCKED_GENERATION_MISMATCH.
 */
export async function checkGenerationGate(db: Db, evaluationId: number, opts: { now?: Date; log?: Logger } = {}): Promise<GateResult> {
  const r = await one<Record<string, unknown>>(
    db,
    'select * from kapitaal.evaluation__gate($1, coalesce($2::timestamptz, now()))',
    [evaluationId, opts.now ?? null],
  );
  const g: GateResult = {
    evaluation_id: Number(r.evaluation_id),
    run_id: num(r.run_id),
    generation_id: num(r.generation_id),
    allowed: Boolean(r.allowed),
    reason: String(r.reason),
    marker: (r.marker as string | null) ?? null,
    current_generation_id: num(r.current_generation_id),
  };
  if (!g.allowed && opts.log) {
    mark(opts.log, 'EXECUTION_BLOCKED_GENERATION_MISMATCH', {
      evaluation_id: g.evaluation_id,
      run_id: g.run_id,
      generation_id: g.generation_id,
      current_generation_id: g.current_generation_id,
      reason: g.reason,
    });
  }
  return g;
}
