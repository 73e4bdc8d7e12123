// The watermark method under concurrent writers: rows whose transactions commit out of
// order (a later transaction commits first) are never skipped and never read twice. The
// incremental state must equal the from-scratch recomputation afterwards.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { oracleDiff, refresh, seed, settle, startRun } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

async function runTotals(q: pg.Pool, runId: number) {
  const { rows } = await q.query<{ raw: number; read: number }>(
    `select (select count(*) from ticker_samples where run_id = $1) + (select count(*) from trade_samples where run_id = $1)
          + (select count(*) from l2_snap_metrics where run_id = $1) + (select count(*) from l3_queue_metrics where run_id = $1) as raw,
            (select sum(ticker_rows + trade_rows + l2_rows + l3_rows) from state_generations where run_id = $1) as read`,
    [runId],
  );
  return { raw: Number(rows[0]!.raw), read: Number(rows[0]!.read) };
}

describe('refresh watermarks under concurrent writers', () => {
  it('does not skip rows of an older transaction that commits after a newer one (the sequence trap)', async () => {
    const run = await startRun(db.pool);
    const w1 = await db.client();
    const w2 = await db.client();
    await w1.query('begin');
    await seed(w1, run, 'AAA/USD', { from: 0, to: 9, mid: (i) => 100 + i * 0.01, firstTradeId: 1 });
    await w2.query('begin');
    await seed(w2, run, 'AAA/USD', { from: 10, to: 19, mid: (i) => 100.1 + i * 0.01, firstTradeId: 11 });
    await w2.query('commit');

    // w2's rows are committed and have larger sequence numbers than w1's uncommitted rows:
    // a max(seq) watermark would move past w1's rows now and never read them.
    const trap = await db.pool.query(
      `select (select max(seq) from trade_samples where run_id = $1) as committed_max,
              (select min(seq) from trade_samples where run_id = $1 and trade_id <= 10) as pending_visible`,
      [run],
    );
    expect(trap.rows[0].pending_visible).toBeNull(); // w1's rows are not visible yet
    const w1Seq = await w1.query(`select min(seq)::bigint as s, pg_current_xact_id()::text as x from trade_samples where run_id = $1 and trade_id <= 10`, [run]);
    expect(BigInt(w1Seq.rows[0].s)).toBeLessThan(BigInt(trap.rows[0].committed_max));

    const r1 = await refresh(db.pool, run, 20);
    // The snapshot xmin stops at w1's transaction, so w2's rows wait too.
    expect(r1.rows_read).toBe(0);
    expect(r1.watermark_to).toBeLessThanOrEqual(BigInt(w1Seq.rows[0].x));

    await w1.query('commit');
    await settle(db.pool, run);
    const r2 = await refresh(db.pool, run, 20);
    expect(r2.rows_read).toBe(80);
    expect(await oracleDiff(db.pool, run, 20)).toEqual({ onlyIncremental: [], onlyRecomputed: [] });
  });

  it('equals the recomputation after random interleavings of 3 writers and a refresher', async () => {
    const run = await startRun(db.pool);
    const writers = [await db.client(), await db.client(), await db.client()];
    const open = [false, false, false];
    const rnd = mulberry32(20260101);
    const symbols = ['AAA/USD', 'BBB/USD', 'CCC/USD'];
    const nextTrade: Record<string, number> = { 'AAA/USD': 1, 'BBB/USD': 1, 'CCC/USD': 1 };
    let clock = 0;
    let refreshes = 0;
    let deferred = 0;
    for (let step = 0; step < 160; step++) {
      const k = Math.floor(rnd() * 3);
      const w = writers[k]!;
      const dice = rnd();
      if (!open[k]) {
        await w.query('begin');
        open[k] = true;
      } else if (dice < 0.55) {
        const sym = symbols[Math.floor(rnd() * 3)]!;
        const n = 1 + Math.floor(rnd() * 3);
        // Rows carry times up to 20 s in the past, like a collector flushing late.
        const from = Math.max(0, clock - Math.floor(rnd() * 20));
        await seed(w, run, sym, {
          from,
          to: from + n - 1,
          mid: (i) => 100 + Math.sin((from + i) / 9) + rnd() * 0.05,
          firstTradeId: nextTrade[sym],
          l2ChecksumOk: () => rnd() > 0.05,
        });
        nextTrade[sym]! += n;
      } else if (dice < 0.92) {
        await w.query('commit');
        open[k] = false;
      } else {
        await w.query('rollback');
        open[k] = false;
      }
      if (rnd() < 0.3) {
        clock += 1 + Math.floor(rnd() * 5);
        const o = await refresh(db.pool, run, clock);
        refreshes++;
        if (open.some(Boolean)) deferred++;
        expect(o.symbols).toBeGreaterThanOrEqual(0);
      }
    }
    for (let k = 0; k < 3; k++) if (open[k]) await writers[k]!.query('commit');
    await settle(db.pool, run);
    clock += 1;
    await refresh(db.pool, run, clock);
    expect(refreshes).toBeGreaterThan(20);
    expect(deferred).toBeGreaterThan(10); // many refreshes ran while a writer was mid-transaction
    const t = await runTotals(db.pool, run);
    expect(t.raw).toBeGreaterThan(300);
    expect(t.read).toBe(t.raw); // every committed row read exactly once, rolled-back rows never
    expect(await oracleDiff(db.pool, run, clock)).toEqual({ onlyIncremental: [], onlyRecomputed: [] });
  });
});
