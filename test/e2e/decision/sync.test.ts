// Sync mode on two real clusters: a generation moves to the decision cluster in one
// transaction with its digest verified; when the sync stops the gate blocks execution; when the
// decision cluster is down nothing is lost and the sync catches up; concurrent syncs and
// readers never see a partial generation.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkGenerationGate, runEvaluation } from '../../../src/decision/evaluation.ts';
import { syncRunToDecision } from '../../../src/decision/sync.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, captureLog, evaluate, heartbeat, liveMarket, publishEpoch, refresh, seed, settle, startRun } from './support.ts';
import { visibilityReader } from './visibility.ts';

let ingest: TestDatabase;
let decision: TestDatabase;
beforeAll(async () => {
  [ingest, decision] = await Promise.all([testDatabase('ingest'), testDatabase('decision')]);
  await ingest.pool.query(`select kapitaal.decision_settings__configure('ingest', 'sync', false)`);
  await decision.pool.query(`select kapitaal.decision_settings__configure('decision', 'sync', false)`);
});

const count = async (db: TestDatabase, sql: string, params: unknown[]) => Number((await db.pool.query(sql, params)).rows[0].n);

describe('sync_run_symbol_state_to_decision', () => {
  it('makes the newest generation visible with its digest, epochs, snapshots and run; skips what is there', async () => {
    const { log, lines } = captureLog();
    const run = await startRun(ingest.pool, 0);
    const g = await liveMarket(ingest.pool, run, { symbols: 4 });
    const r = await syncRunToDecision(ingest.pool, decision.pool, run, { log });
    expect(r).toMatchObject({ applied: true, generationId: g.generation_id, symbols: 4, epochsInserted: 1, snapshotsInserted: 4 });
    expect(r.reason).toMatch(/^APPLIED/);

    const digest = await decision.pool.query(`select kapitaal.run_symbol_state__digest($1) d`, [run]);
    expect(digest.rows[0].d).toBe(g.state_digest);
    // Every column, compared as text on both sides.
    const rowsOf = async (db: TestDatabase) =>
      (await db.pool.query(`select to_jsonb(s)::text j from kapitaal.run_symbol_state s where run_id = $1 order by symbol`, [run])).rows.map((x) => x.j);
    expect(await rowsOf(decision)).toEqual(await rowsOf(ingest));
    expect(await count(decision, `select count(*) n from kapitaal.ingest_runs where run_id = $1 and status = 'running'`, [run])).toBe(1);

    const visible = lines.filter((l) => l.marker === 'INGEST_DECISION_SYNC_VISIBLE');
    expect(visible).toHaveLength(1);
    expect(visible[0]).toMatchObject({ run_id: run, generation_id: g.generation_id, feed: 'sync' });
    expect(typeof visible[0]!.lag_ms).toBe('number');

    const again = await syncRunToDecision(ingest.pool, decision.pool, run, { log });
    expect(again).toMatchObject({ applied: false, epochsInserted: 0 });
    expect(again.reason).toMatch(/^ALREADY_VISIBLE/);

    // An older payload arriving after a newer generation is skipped.
    const old = await ingest.pool.query(`select kapitaal.state__sync_payload($1)::text p`, [run]);
    const g2 = await refresh(ingest.pool, run, 301);
    await syncRunToDecision(ingest.pool, decision.pool, run);
    const late = await decision.pool.query(`select applied, reason from kapitaal.sync_run_symbol_state_to_decision($1::jsonb)`, [old.rows[0].p]);
    expect(late.rows[0].applied).toBe(false);
    const cur = await decision.pool.query(`select generation_id from kapitaal.decision_generation__current($1)`, [run]);
    expect(Number(cur.rows[0].generation_id)).toBe(g2.generation_id);
  });

  it('rejects a generation whose rows do not match its digest: nothing of it becomes visible', async () => {
    const run = await startRun(ingest.pool, 0);
    await liveMarket(ingest.pool, run, { symbols: 2 });
    const p = JSON.parse((await ingest.pool.query(`select kapitaal.state__sync_payload($1)::text p`, [run])).rows[0].p);
    p.state[0].mid = 1; // corrupted in flight
    await expect(decision.pool.query(`select * from kapitaal.sync_run_symbol_state_to_decision($1::jsonb)`, [JSON.stringify(p)])).rejects.toThrow(
      /does not verify/,
    );
    expect(await count(decision, `select count(*) n from kapitaal.run_symbol_state where run_id = $1`, [run])).toBe(0);
    expect(await count(decision, `select count(*) n from kapitaal.state_generations where run_id = $1`, [run])).toBe(0);
    expect(await count(decision, `select count(*) n from kapitaal.ingest_epochs where run_id = $1`, [run])).toBe(0);
  });

  it('says plainly when the clusters run different PostgreSQL major versions, before any digest is compared', async () => {
    const run = await startRun(ingest.pool, 0);
    await liveMarket(ingest.pool, run, { symbols: 2 });
    const p = JSON.parse((await ingest.pool.query(`select kapitaal.state__sync_payload($1)::text p`, [run])).rows[0].p);
    const local = Number((await decision.pool.query(`select current_setting('server_version_num') v`)).rows[0].v);
    expect(p.server_version_num).toBe(local); // the embedded clusters are one build
    p.server_version_num = local - 10000; // as if the ingest cluster ran the previous major
    const err = await decision.pool.query(`select * from kapitaal.sync_run_symbol_state_to_decision($1::jsonb)`, [JSON.stringify(p)]).catch((e) => e);
    expect(err.code).toBe('0A000');
    expect(err.message).toBe(`sync_run_symbol_state_to_decision: the ingest cluster runs PostgreSQL ${Math.floor(local / 10000) - 1} and this decision `
      + `cluster PostgreSQL ${Math.floor(local / 10000)}; state digests only compare within one major version, so no generation can verify here`);
    expect(err.hint).toBe('Run both clusters on the same PostgreSQL major version.');
    expect(await count(decision, `select count(*) n from kapitaal.state_generations where run_id = $1`, [run])).toBe(0);
  });
});

describe('sync stopped', () => {
  it('decision falls behind: the evaluation still runs, execution is blocked with EXECUTION_BLOCKED_GENERATION_MISMATCH', async () => {
    const { log, markers, lines } = captureLog();
    const run = await startRun(ingest.pool, 0);
    const g1 = await liveMarket(ingest.pool, run);
    await syncRunToDecision(ingest.pool, decision.pool, run);
    const e1 = await runEvaluation(decision.pool, { runId: run, now: new Date(at(301)), log });
    expect(e1.generation_id).toBe(g1.generation_id);
    expect(['candidates', 'economically_empty']).toContain(e1.outcome);
    expect((await checkGenerationGate(decision.pool, e1.evaluation_id, { now: new Date(at(301)), log })).allowed).toBe(true);

    // The sync stops; ingest goes on refreshing.
    for (let t = 303; t <= 315; t += 2) {
      await seed(ingest.pool, run, 'S000/USD', { from: t - 2, to: t - 1, mid: () => 100, firstTradeId: 10_000 + t * 10 });
      await settle(ingest.pool, run);
      await refresh(ingest.pool, run, t);
      await heartbeat(ingest.pool, run, t);
    }
    const e2 = await runEvaluation(decision.pool, { runId: run, now: new Date(at(315)), log });
    expect(e2).toMatchObject({ outcome: 'generation_blocked', generation_id: g1.generation_id });
    expect(e2.reason).toMatch(/^GENERATION_STALE/);
    const blocked = await checkGenerationGate(decision.pool, e1.evaluation_id, { now: new Date(at(315)), log });
    expect(blocked).toMatchObject({ allowed: false, marker: 'EXECUTION_BLOCKED_GENERATION_MISMATCH', current_generation_id: g1.generation_id });
    expect(markers()).toContain('EXECUTION_BLOCKED_GENERATION_MISMATCH');
    expect(lines.find((l) => l.marker === 'EXECUTION_BLOCKED_GENERATION_MISMATCH' && l.evaluation_id === e1.evaluation_id)).toBeTruthy();

    // The sync resumes: the evaluation's generation is superseded, a new evaluation passes.
    await syncRunToDecision(ingest.pool, decision.pool, run);
    const superseded = await checkGenerationGate(decision.pool, e1.evaluation_id, { now: new Date(at(315)), log });
    expect(superseded.reason).toMatch(/^GENERATION_SUPERSEDED/);
    const e3 = await runEvaluation(decision.pool, { runId: run, now: new Date(at(315)) });
    expect(e3.outcome).not.toBe('generation_blocked');
    expect((await checkGenerationGate(decision.pool, e3.evaluation_id, { now: new Date(at(315)) })).allowed).toBe(true);
  });
});

describe('decision cluster down', () => {
  let closed: pg.Pool;
  afterAll(async () => {
    await closed?.end().catch(() => {});
  });

  it('ingest keeps refreshing, nothing is lost, and the sync catches up to the newest generation', async () => {
    const run = await startRun(ingest.pool, 0);
    await liveMarket(ingest.pool, run, { symbols: 2 });
    await syncRunToDecision(ingest.pool, decision.pool, run);

    // A decision cluster that refuses connections (a port nobody listens on).
    const port = await new Promise<number>((resolve) => {
      const net = require('node:net') as typeof import('node:net');
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as import('node:net').AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    closed = new pg.Pool({ connectionString: decision.url.replace(/:\d+\//, `:${port}/`), connectionTimeoutMillis: 2000 });
    let last = 0;
    for (let t = 302; t <= 320; t += 2) {
      await seed(ingest.pool, run, 'S001/USD', { from: t - 2, to: t - 1, mid: () => 200, firstTradeId: 20_000 + t * 10 });
      await settle(ingest.pool, run);
      last = (await refresh(ingest.pool, run, t)).generation_id;
      await publishEpoch(ingest.pool, run, t);
      await expect(syncRunToDecision(ingest.pool, closed, run)).rejects.toThrow();
    }
    // Also a decision connection killed in the middle of the work.
    const victim = await decision.pool.connect();
    const pid = (await victim.query('select pg_backend_pid() p')).rows[0].p;
    await decision.pool.query('select pg_terminate_backend($1)', [pid]);
    await expect(syncRunToDecision(ingest.pool, victim, run)).rejects.toThrow();
    victim.release(true);

    const r = await syncRunToDecision(ingest.pool, decision.pool, run);
    expect(r).toMatchObject({ applied: true, generationId: last, epochsInserted: 10 });
    const epochs = async (db: TestDatabase) => (await db.pool.query(`select array_agg(epoch order by epoch)::text a from kapitaal.ingest_epochs where run_id = $1`, [run])).rows[0].a;
    expect(await epochs(decision)).toBe(await epochs(ingest));
    const snaps = `select count(*) n from kapitaal.ingest_snapshots where run_id = $1`;
    expect(await count(decision, snaps, [run])).toBe(await count(ingest, snaps, [run]));
    const g = await ingest.pool.query(`select state_digest from kapitaal.state_generations where generation_id = $1`, [last]);
    expect((await decision.pool.query(`select kapitaal.run_symbol_state__digest($1) d`, [run])).rows[0].d).toBe(g.rows[0].state_digest);
  });
});

describe('atomic visibility', () => {
  it('concurrent syncs and readers: every read sees exactly one complete generation whose digest matches', async () => {
    const run = await startRun(ingest.pool, 0);
    await liveMarket(ingest.pool, run, { symbols: 30, to: 120 });
    await syncRunToDecision(ingest.pool, decision.pool, run);

    const reader = visibilityReader(decision.pool, run);
    const readers = [reader.loop(), reader.loop()];
    let stop = false;
    const syncLoop = async () => {
      let n = 0;
      while (!stop) {
        await syncRunToDecision(ingest.pool, decision.pool, run);
        n++;
      }
      return n;
    };
    const syncs = [syncLoop(), syncLoop()];
    let t = 122;
    for (let k = 0; k < 40; k++, t += 2) {
      for (let s = 0; s < 30; s += 7) {
        await seed(ingest.pool, run, `S${String(s).padStart(3, '0')}/USD`, { from: t - 2, to: t - 1, mid: () => 100 + k, firstTradeId: 1_000 + k * 10 });
      }
      await settle(ingest.pool, run);
      await refresh(ingest.pool, run, t);
    }
    stop = true;
    await Promise.all(syncs);
    await syncRunToDecision(ingest.pool, decision.pool, run);
    reader.stop();
    const result = await Promise.all(readers);
    const reads = result.reduce((a, b) => a + b, 0);
    expect(JSON.stringify(reader.violations.slice(0, 3))).toBe("[]");
    expect(reads).toBeGreaterThan(0);
    // Readers saw several generations, never going back.
    expect(reader.generationsSeen.size).toBeGreaterThan(1);
    const newest = await ingest.pool.query(`select max(generation_id) g from kapitaal.state_generations where run_id = $1`, [run]);
    const cur = await decision.pool.query(`select generation_id from kapitaal.decision_generation__current($1)`, [run]);
    expect(cur.rows[0].generation_id).toBe(newest.rows[0].g);
    void evaluate;
  });
});
