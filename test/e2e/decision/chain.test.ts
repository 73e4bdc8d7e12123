// Chain robustness with real Graphile Worker runners on both clusters: a permanently failing
// step is visible (job_queue_status failed + last_failure, job_chain_incidents) and the chain
// goes on by itself; when the cause is gone it recovers without any manual step.
// Also the full chain: refresh on ingest -> trigger -> state__sync -> decision -> trigger -> evaluation__run.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDecisionContext } from '../../../src/decision/context.ts';
import { startEngineWorkers, type EngineWorkers } from '../../../src/worker/engine-workers.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { captureLog } from './support.ts';

let ingest: TestDatabase;
let decision: TestDatabase;
const runners: EngineWorkers[] = [];
const pools: pg.Pool[] = [];
const cap = captureLog();

beforeAll(async () => {
  [ingest, decision] = await Promise.all([testDatabase('ingest'), testDatabase('decision')]);
  await ingest.pool.query(`select kapitaal.decision_settings__configure('ingest', 'sync')`);
  await decision.pool.query(`select kapitaal.decision_settings__configure('decision', 'sync', true)`);
  for (const db of [ingest, decision]) {
    await db.pool.query(`update kapitaal.decision_policy set evaluation_cadence = '0.2 s', sync_cadence = '0.2 s', chain_max_backoff = '0.5 s'`);
  }
});

afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop().catch(() => {})));
  await Promise.all(pools.map((p) => p.end().catch(() => {})));
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const queue = async (db: TestDatabase, task: string) =>
  (await db.pool.query(`select * from kapitaal.job_queue_status where task_identifier = $1`, [task])).rows[0] as
    | { waiting: string; scheduled: string; running: string; failed: string; last_failure: string | null }
    | undefined;

describe('job chain', () => {
  it('refresh -> sync -> evaluate runs by itself across the two clusters', async () => {
    const closedPool = new pg.Pool({ connectionString: decision.url.replace(/:\d+\//, ':1/'), connectionTimeoutMillis: 1000 });
    pools.push(closedPool);
    // The decision pool for state__sync starts out pointing at a dead port (decision cluster down).
    setDecisionContext({ log: cap.log, decisionPool: closedPool });
    runners.push(await startEngineWorkers({ pool: ingest.pool, role: 'ingest', tasks: ['state__sync'], pollInterval: 100, log: cap.log }));
    runners.push(await startEngineWorkers({ pool: decision.pool, role: 'execution', tasks: ['evaluation__run'], pollInterval: 100, log: cap.log }));

    const { rows } = await ingest.pool.query(`select run_id from kapitaal.ingest_run__start('{"chain":1}', 'test', 'host')`);
    const run = Number(rows[0].run_id);
    await ingest.pool.query(`select kapitaal.ingest_epoch__publish($1)`, [run]);
    await ingest.pool.query(`select kapitaal.refresh_run_symbol_state($1)`, [run]); // trigger queues state__sync

    // Decision down: the sync fails again and again, visibly, and keeps being re-queued.
    await until('two failed syncs', async () => Number((await queue(ingest, 'state__sync'))?.failed ?? 0) >= 2);
    const q = (await queue(ingest, 'state__sync'))!;
    expect(q.last_failure).toMatch(/ECONNREFUSED|connect/i);
    expect(Number(q.waiting) + Number(q.scheduled) + Number(q.running)).toBeGreaterThanOrEqual(1);
    const inc = await ingest.pool.query(`select count(*)::int n from kapitaal.job_chain_incidents where task_identifier = 'state__sync' and action = 'step_failed'`);
    expect(inc.rows[0].n).toBeGreaterThanOrEqual(2);
    // Ingest keeps refreshing meanwhile.
    await ingest.pool.query(`select kapitaal.refresh_run_symbol_state($1)`, [run]);
    const newest = Number((await ingest.pool.query(`select generation_id from kapitaal.refresh_run_symbol_state($1)`, [run])).rows[0].generation_id);

    // The decision cluster is back: the chain carries on without any manual step.
    setDecisionContext({ log: cap.log, decisionPool: decision.pool });
    await until('the newest generation on decision', async () => {
      const r = await decision.pool.query(`select generation_id from kapitaal.decision_generation__current($1)`, [run]);
      return r.rows[0] && Number(r.rows[0].generation_id) === newest ? true : undefined;
    });
    // ... and the decision runner evaluated it (queued by the generation's own transaction).
    const ev = await until('an evaluation of the newest generation', async () => {
      const r = await decision.pool.query(`select * from kapitaal.evaluations where run_id = $1 and generation_id = $2 limit 1`, [run, newest]);
      return r.rows[0];
    });
    expect(ev.outcome).not.toBe('attach_blocked');
    expect(cap.markers()).toContain('INGEST_DECISION_SYNC_VISIBLE');
    // The log line follows the commit (and the next cycle's queueing): wait for it, no timing assumed.
    await until('LIVE_EVALUATION_DONE', async () => cap.lines.some((l) => l.marker === 'LIVE_EVALUATION_DONE' && l.run_id === run) || undefined);
  });

  it('a permanently failing evaluation is visible and the chain goes on; it recovers when the cause is gone', async () => {
    // Every evaluation insert now fails.
    await decision.pool.query(`alter table kapitaal.evaluations add constraint chaos_test check (evaluation_id < 0) not valid`);
    const before = Number((await queue(decision, 'evaluation__run'))?.failed ?? 0);
    await until('three more failed evaluations', async () => Number((await queue(decision, 'evaluation__run'))?.failed ?? 0) >= before + 3);
    const q = (await queue(decision, 'evaluation__run'))!;
    expect(q.last_failure).toMatch(/chaos_test/);
    // The chain is still queued (a waiting, scheduled or running cycle), with backoff.
    expect(Number(q.waiting) + Number(q.scheduled) + Number(q.running)).toBeGreaterThanOrEqual(1);
    const inc = await decision.pool.query(
      `select max(failures) f from kapitaal.job_chain_incidents where task_identifier = 'evaluation__run' and action = 'step_failed'`,
    );
    expect(inc.rows[0].f).toBeGreaterThanOrEqual(3);
    expect(cap.lines.some((l) => l.msg === 'chain step failed; next cycle queued with backoff')).toBe(true);

    const maxId = Number((await decision.pool.query(`select coalesce(max(evaluation_id), 0) m from kapitaal.evaluations`)).rows[0].m);
    await decision.pool.query(`alter table kapitaal.evaluations drop constraint chaos_test`);
    await until('a new evaluation after recovery', async () => {
      const r = await decision.pool.query(`select count(*)::int n from kapitaal.evaluations where evaluation_id > $1`, [maxId]);
      return r.rows[0].n > 0 ? true : undefined;
    });
    // The failures stay visible for inspection.
    expect(Number((await queue(decision, 'evaluation__run'))!.failed)).toBeGreaterThanOrEqual(before + 3);
  });
});
