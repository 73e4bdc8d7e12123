// Logical replication mode on two real clusters: a publication on the ingest test database, a
// subscription on the decision test database. The same visibility and gate guarantees as the
// sync: each refresh transaction is applied as one transaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkGenerationGate, runEvaluation } from '../../../src/decision/evaluation.ts';
import { dropReplication, ensureReplication, waitForReplicationReady } from '../../../src/decision/replication.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, captureLog, heartbeat, liveMarket, publishEpoch, refresh, seed, settle, startRun } from './support.ts';
import { visibilityReader } from './visibility.ts';

let ingest: TestDatabase;
let decision: TestDatabase;
let name: string;

beforeAll(async () => {
  [ingest, decision] = await Promise.all([testDatabase('ingest'), testDatabase('decision')]);
  name = `kd_${decision.name}`;
  const first = await ensureReplication({ ingestUrl: ingest.url, decisionUrl: decision.url, name });
  expect(first).toMatchObject({ publication: 'created', subscription: 'created' });
  // Idempotent: a second setup changes nothing that matters.
  const second = await ensureReplication({ ingestUrl: ingest.url, decisionUrl: decision.url, name });
  expect(second).toMatchObject({ publication: 'updated', subscription: 'updated' });
  await waitForReplicationReady(decision.url, name);
});

afterAll(async () => {
  // Before the databases are dropped (after-hooks run in reverse order): removes the slot too.
  await dropReplication({ ingestUrl: ingest.url, decisionUrl: decision.url, name });
});

/** Waits (no time assertion) until the decision cluster shows generation `gen` of the run. */
async function visible(run: number, gen: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await decision.pool.query(`select generation_id from kapitaal.decision_generation__current($1)`, [run]);
    if (rows[0] && Number(rows[0].generation_id) >= gen) return;
    if (Date.now() > deadline) throw new Error(`generation ${gen} of run ${run} never became visible`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('logical replication feed', () => {
  it('a refresh becomes visible as a whole with its digest, epochs, snapshots and run; the trigger fires in the apply worker', async () => {
    await decision.pool.query(`select kapitaal.decision_settings__configure('decision', 'replication', true)`);
    await decision.pool.query(`delete from graphile_worker._private_jobs`);
    const run = await startRun(ingest.pool, 0);
    const g = await liveMarket(ingest.pool, run, { symbols: 4 });
    await visible(run, g.generation_id);
    const d = await decision.pool.query(`select kapitaal.run_symbol_state__digest($1) d`, [run]);
    expect(d.rows[0].d).toBe(g.state_digest);
    const cur = await decision.pool.query(`select * from kapitaal.decision_generation__current($1)`, [run]);
    expect(cur.rows[0]).toMatchObject({ complete: true, symbols: 4 });
    const vis = await decision.pool.query(`select feed from kapitaal.state_generation_visibility where generation_id = $1`, [g.generation_id]);
    expect(vis.rows).toEqual([{ feed: 'replication' }]);
    const jobs = await decision.pool.query(`select key from graphile_worker.jobs where task_identifier = 'evaluation__run'`);
    expect(jobs.rows).toEqual([{ key: 'evaluation__run' }]);
    const attach = await decision.pool.query(`select attached, run_id from kapitaal.execution_attach__resolve($1::timestamptz, $2)`, [at(300), run]);
    expect(attach.rows[0]).toMatchObject({ attached: true, run_id: String(run) });
    await decision.pool.query(`select kapitaal.decision_settings__configure('decision', 'replication', false)`);
    // The sync must refuse to write a replicated database.
    const p = await ingest.pool.query(`select kapitaal.state__sync_payload($1)::text p`, [run]);
    await expect(decision.pool.query(`select * from kapitaal.sync_run_symbol_state_to_decision($1::jsonb)`, [p.rows[0].p])).rejects.toThrow(
      /logical replication/,
    );
  });

  it('concurrent refreshes and readers: every read sees exactly one complete generation whose digest matches', async () => {
    const run = await startRun(ingest.pool, 0);
    const g0 = await liveMarket(ingest.pool, run, { symbols: 30, to: 120 });
    await visible(run, g0.generation_id);
    const reader = visibilityReader(decision.pool, run);
    const readers = [reader.loop(), reader.loop()];
    let t = 122;
    let last = 0;
    for (let k = 0; k < 40; k++, t += 2) {
      for (let s = 0; s < 30; s += 7) {
        await seed(ingest.pool, run, `S${String(s).padStart(3, '0')}/USD`, { from: t - 2, to: t - 1, mid: () => 100 + k, firstTradeId: 1_000 + k * 10 });
      }
      await settle(ingest.pool, run);
      last = (await refresh(ingest.pool, run, t)).generation_id;
    }
    await visible(run, last);
    reader.stop();
    const reads = (await Promise.all(readers)).reduce((a, b) => a + b, 0);
    expect(JSON.stringify(reader.violations.slice(0, 3))).toBe('[]');
    expect(reads).toBeGreaterThan(0);
    expect(reader.generationsSeen.size).toBeGreaterThan(1);
  });

  it('feed stopped (subscription disabled): the gate blocks with EXECUTION_BLOCKED_GENERATION_MISMATCH; re-enabled it catches up', async () => {
    const { log, markers } = captureLog();
    const run = await startRun(ingest.pool, 0);
    const g1 = await liveMarket(ingest.pool, run);
    await visible(run, g1.generation_id);
    const e1 = await runEvaluation(decision.pool, { runId: run, now: new Date(at(301)), log });
    expect(e1.generation_id).toBe(g1.generation_id);
    expect((await checkGenerationGate(decision.pool, e1.evaluation_id, { now: new Date(at(301)) })).allowed).toBe(true);

    await decision.pool.query(`alter subscription ${name} disable`);
    let last = 0;
    for (let t = 303; t <= 315; t += 2) {
      await seed(ingest.pool, run, 'S000/USD', { from: t - 2, to: t - 1, mid: () => 100, firstTradeId: 10_000 + t * 10 });
      await settle(ingest.pool, run);
      await heartbeat(ingest.pool, run, t);
      await publishEpoch(ingest.pool, run, t);
      // Last in the loop: the subscriber applies in commit order, so seeing this generation
      // means the epochs before it are there too.
      last = (await refresh(ingest.pool, run, t)).generation_id;
    }
    const e2 = await runEvaluation(decision.pool, { runId: run, now: new Date(at(315)), log });
    expect(e2).toMatchObject({ outcome: 'generation_blocked', generation_id: g1.generation_id });
    const blocked = await checkGenerationGate(decision.pool, e1.evaluation_id, { now: new Date(at(315)), log });
    expect(blocked).toMatchObject({ allowed: false, marker: 'EXECUTION_BLOCKED_GENERATION_MISMATCH' });
    expect(markers()).toContain('EXECUTION_BLOCKED_GENERATION_MISMATCH');

    await decision.pool.query(`alter subscription ${name} enable`);
    await visible(run, last);
    const epochs = async (db: TestDatabase) =>
      (await db.pool.query(`select count(*)::int n from kapitaal.ingest_epochs where run_id = $1`, [run])).rows[0].n;
    expect(await epochs(decision)).toBe(await epochs(ingest));
    expect((await checkGenerationGate(decision.pool, e1.evaluation_id, { now: new Date(at(315)) })).reason).toMatch(/^GENERATION_SUPERSEDED/);
    const e3 = await runEvaluation(decision.pool, { runId: run, now: new Date(at(315)) });
    expect(e3.generation_id).toBe(last);
    expect((await checkGenerationGate(decision.pool, e3.evaluation_id, { now: new Date(at(315)) })).allowed).toBe(true);
  });
});
