// evaluation__run, execution_attach__resolve and generation_gate__check on one database
// (shared role): attach, data-, generation- and economically-empty outcomes with their reasons.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, evaluate, gate, heartbeat, liveMarket, publishEpoch, refresh, seed, settle, startRun } from '../../e2e/decision/support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

describe('execution_attach__resolve / attach_blocked', () => {
  it('blocks with a reason until a live run with an epoch exists, then binds to its newest epoch', async () => {
    // Fresh database: no run at all.
    let e = await evaluate(db.pool, 10);
    expect(e).toMatchObject({ outcome: 'attach_blocked', marker: 'EXECUTION_ATTACH_BLOCKED', run_id: null });
    expect(e.reason).toMatch(/^NO_INGEST_RUN/);

    const run = await startRun(db.pool, 0);
    e = await evaluate(db.pool, 10);
    expect(e).toMatchObject({ outcome: 'attach_blocked', run_id: String(run) });
    expect(e.reason).toMatch(/^NO_EPOCH/);

    await publishEpoch(db.pool, run, 5);
    const second = await publishEpoch(db.pool, run, 6);
    const { rows } = await db.pool.query(`select * from kapitaal.execution_attach__resolve($1::timestamptz)`, [at(10)]);
    expect(rows[0]).toMatchObject({ attached: true, run_id: String(run), epoch: String(second) });

    // Heartbeat older than attach_max_heartbeat_age (30 s): not live.
    e = await evaluate(db.pool, 100);
    expect(e.outcome).toBe('attach_blocked');
    expect(e.reason).toMatch(/^NO_LIVE_RUN: ingest run \d+ heartbeat/);

    await db.pool.query(`select kapitaal.ingest_run__end($1, 'ended', 'test', $2::timestamptz)`, [run, at(101)]);
    e = await evaluate(db.pool, 101);
    expect(e.reason).toMatch(/^NO_LIVE_RUN: newest ingest run \d+ is ended/);
  });
});

describe('evaluation__run outcomes', () => {
  it('fresh data: a generation is read and the outcome is economic (candidates or economically_empty)', async () => {
    const run = await startRun(db.pool, 0);
    const g = await liveMarket(db.pool, run);
    const e = await evaluate(db.pool, 301, run);
    expect(['candidates', 'economically_empty']).toContain(e.outcome);
    expect(e).toMatchObject({ run_id: String(run), generation_id: String(g.generation_id), symbols: 3, symbols_stale: 0 });
    const syms = await db.pool.query(`select symbol, status, reasons, routes from kapitaal.evaluation_symbols where evaluation_id = $1 order by symbol`, [
      e.evaluation_id,
    ]);
    expect(syms.rows).toHaveLength(3);
    for (const s of syms.rows) {
      expect(['eligible', 'not_ready', 'regime_blocked']).toContain(s.status);
      expect(s.reasons.length).toBeGreaterThan(0);
    }
    // The strategy layer ranked the same generation under this evaluation id.
    const ranked = await db.pool.query(`select distinct generation_id from kapitaal.evaluation_rankings where evaluation_id = $1`, [e.evaluation_id]);
    expect(ranked.rows.map((r) => Number(r.generation_id))).toEqual([g.generation_id]);
  });

  it('stale feed: refresh goes on but the market data is old -> data_blocked, ROUTE_EXECUTION_BLOCKED_STALE_DATA', async () => {
    const run = await startRun(db.pool, 0);
    await liveMarket(db.pool, run);
    // The feed stops at 299 s; the refresh and heartbeat continue until 400 s.
    const g = await refresh(db.pool, run, 400);
    await heartbeat(db.pool, run, 400);
    await publishEpoch(db.pool, run, 400);
    const e = await evaluate(db.pool, 401, run);
    expect(e).toMatchObject({ outcome: 'data_blocked', marker: 'ROUTE_EXECUTION_BLOCKED_STALE_DATA', symbols_stale: 3 });
    expect(e.generation_id).toBe(String(g.generation_id));
    const syms = await db.pool.query(`select status, reasons, routes from kapitaal.evaluation_symbols where evaluation_id = $1`, [e.evaluation_id]);
    expect(syms.rows.every((s) => s.status === 'stale')).toBe(true);
    expect(syms.rows[0].reasons.join(' ')).toMatch(/ROUTE_FRESHNESS_STALE: STATE_AGE_EXCEEDS_MAX/);
    expect(syms.rows[0].routes.map((r: { exec_allowed: boolean }) => r.exec_allowed)).toContain(false);
  });

  it('no market data at all for a symbol: ROUTE_EXECUTION_BLOCKED_STALE_DATA', async () => {
    const run = await startRun(db.pool, 0);
    await seed(db.pool, run, 'TRD/USD', { from: 0, to: 50, mid: () => 10, ticker: false, l2: false, l3: false });
    await settle(db.pool, run);
    await refresh(db.pool, run, 51);
    await publishEpoch(db.pool, run, 51);
    await heartbeat(db.pool, run, 51);
    const e = await evaluate(db.pool, 52, run);
    expect(e).toMatchObject({ outcome: 'data_blocked', marker: 'ROUTE_EXECUTION_BLOCKED_STALE_DATA' });
    const syms = await db.pool.query(`select reasons from kapitaal.evaluation_symbols where evaluation_id = $1`, [e.evaluation_id]);
    expect(syms.rows[0].reasons.join(' ')).toMatch(/ROUTE_EXECUTION_BLOCKED_STALE_DATA: NO_MARKET_DATA/);
  });

  it('generation older than max_generation_age -> generation_blocked with the mismatch marker', async () => {
    const run = await startRun(db.pool, 0);
    const g = await liveMarket(db.pool, run);
    await heartbeat(db.pool, run, 320);
    const e = await evaluate(db.pool, 320, run);
    expect(e).toMatchObject({ outcome: 'generation_blocked', marker: 'EXECUTION_BLOCKED_GENERATION_MISMATCH', generation_id: String(g.generation_id) });
    expect(e.reason).toMatch(/^GENERATION_STALE/);
  });

  it('a run without any refresh -> generation_blocked NO_GENERATION', async () => {
    const run = await startRun(db.pool, 0);
    await publishEpoch(db.pool, run, 1);
    const e = await evaluate(db.pool, 2, run);
    expect(e).toMatchObject({ outcome: 'generation_blocked' });
    expect(e.reason).toMatch(/^NO_GENERATION/);
  });

  it('an integrity failure on every symbol with fresh data -> data_blocked by integrity', async () => {
    const run = await startRun(db.pool, 0);
    await seed(db.pool, run, 'BAD/USD', { from: 0, to: 299, mid: () => 50, l2ChecksumOk: (i) => i < 290 });
    await settle(db.pool, run);
    for (let k = 0; k < 3; k++) await refresh(db.pool, run, 300);
    await publishEpoch(db.pool, run, 300);
    await heartbeat(db.pool, run, 300);
    const e = await evaluate(db.pool, 300, run);
    expect(e).toMatchObject({ outcome: 'data_blocked', symbols_integrity: 1 });
    expect(e.reason).toMatch(/^DATA_BLOCKED/);
  });
});

describe('generation_gate__check', () => {
  it('allows only the current, complete, fresh generation of a running run', async () => {
    const run = await startRun(db.pool, 0);
    const g1 = await liveMarket(db.pool, run);
    expect(await gate(db.pool, run, g1.generation_id, 301)).toMatchObject({ allowed: true, marker: null });
    expect((await gate(db.pool, run, g1.generation_id, 301)).reason).toMatch(/^GENERATION_CURRENT/);

    const stale = await gate(db.pool, run, g1.generation_id, 312);
    expect(stale).toMatchObject({ allowed: false, marker: 'EXECUTION_BLOCKED_GENERATION_MISMATCH' });
    expect(stale.reason).toMatch(/^GENERATION_STALE/);

    const ahead = await gate(db.pool, run, g1.generation_id + 1000, 301);
    expect(ahead.reason).toMatch(/^GENERATION_NOT_VISIBLE/);

    const g2 = await refresh(db.pool, run, 302);
    const old = await gate(db.pool, run, g1.generation_id, 302);
    expect(old).toMatchObject({ allowed: false, current_generation_id: String(g2.generation_id) });
    expect(old.reason).toMatch(/^GENERATION_SUPERSEDED/);

    // A generation whose rows are not all there (what a half-applied feed would look like).
    await db.pool.query(`delete from kapitaal.run_symbol_state where run_id = $1 and symbol = 'S000/USD'`, [run]);
    const partial = await gate(db.pool, run, g2.generation_id, 302);
    expect(partial.reason).toMatch(/^GENERATION_INCOMPLETE: 2 of 3 rows/);

    await db.pool.query(`select kapitaal.ingest_run__end($1, 'ended', 'test', $2::timestamptz)`, [run, at(303)]);
    await refresh(db.pool, run, 303);
    const g3 = await db.pool.query(`select max(generation_id) g from kapitaal.state_generations where run_id = $1`, [run]);
    expect((await gate(db.pool, run, Number(g3.rows[0].g), 303)).reason).toMatch(/^RUN_NOT_RUNNING/);
  });

  it('evaluation__gate records every check of an evaluation', async () => {
    const run = await startRun(db.pool, 0);
    await liveMarket(db.pool, run);
    const e = await evaluate(db.pool, 301, run);
    const ok = await db.pool.query(`select * from kapitaal.evaluation__gate($1, $2::timestamptz)`, [e.evaluation_id, at(301)]);
    expect(ok.rows[0].allowed).toBe(true);
    await refresh(db.pool, run, 302);
    const blocked = await db.pool.query(`select * from kapitaal.evaluation__gate($1, $2::timestamptz)`, [e.evaluation_id, at(302)]);
    expect(blocked.rows[0]).toMatchObject({ allowed: false, marker: 'EXECUTION_BLOCKED_GENERATION_MISMATCH' });
    const checks = await db.pool.query(`select allowed from kapitaal.evaluation_gate_checks where evaluation_id = $1 order by check_id`, [e.evaluation_id]);
    expect(checks.rows.map((r) => r.allowed)).toEqual([true, false]);
  });
});
