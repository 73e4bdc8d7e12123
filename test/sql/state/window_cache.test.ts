// The window cache (state_symbol_latest.w_*): while the windows do not move, a refresh updates a
// symbol's window aggregates by deltas; everything the delta path cannot do exactly (first
// buckets, late rows into older buckets, rows from the future, a symbol getting its first price,
// a bucket switching from ticker to L2 price) falls back to a recomputation from the buckets.
// The delta path has two forms (one touched bucket per symbol, or several): both are exercised.
// After every refresh the state must equal the from-scratch recomputation, compared as text
// (numeric scale included), and most symbol-refreshes must have taken the delta path.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, refresh, seed, settle, startRun } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const wave = (base: number) => (_i: number, t: number) => base + Math.sin(t / 9) * 0.4 + t * 0.001;

/** State rows that differ from the recomputation, as jsonb text (so 1.5 and 1.50 differ too). */
async function textDiff(runId: number, nowSec: number): Promise<string[]> {
  const { rows } = await db.pool.query(
    `with inc as (select run_symbol_state__metrics(s)::text m from run_symbol_state s where run_id = $1),
          rec as (select run_symbol_state__metrics(r)::text m from run_symbol_state__recompute($1, $2::timestamptz) r)
     (select 'incremental ' || m from inc except select 'incremental ' || m from rec)
     union all
     (select 'recomputed ' || m from rec except select 'recomputed ' || m from inc)`,
    [runId, at(nowSec)],
  );
  return rows.map((r) => r.m as string);
}

describe('window cache', () => {
  it('delta path and fallback equal the recomputation refresh by refresh', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 299, mid: wave(100), firstTradeId: 1 });
    await seed(db.pool, run, 'BBB/USD', { from: 0, to: 299, step: 3, mid: wave(5), ticker: false, l2: false, l3: false, firstTradeId: 1 });
    await seed(db.pool, run, 'CCC/USD', { from: 0, to: 299, step: 2, mid: wave(20), l2: false, firstTradeId: 1 });
    await seed(db.pool, run, 'DDD/USD', { from: 0, to: 299, mid: wave(50), firstTradeId: 1 });
    await seed(db.pool, run, 'EEE/USD', { from: 0, to: 299, step: 4, mid: wave(7), firstTradeId: 1 });
    await seed(db.pool, run, 'FFF/USD', { from: 0, to: 299, mid: wave(30), firstTradeId: 1 });
    await settle(db.pool, run);
    await refresh(db.pool, run, 300);
    expect(await textDiff(run, 300)).toEqual([]);

    let symbolRefreshes = 0;
    let recomputed = 0;
    for (let k = 0; k < 24; k++) {
      const t = 300 + k;
      const id = 10_000 + k * 10;
      await seed(db.pool, run, 'AAA/USD', { from: t, to: t + 0.5, step: 0.5, mid: wave(100), firstTradeId: id });
      // trades only (unpriced buckets) until k = 9, then a ticker: the symbol's first price in the windows
      await seed(db.pool, run, 'BBB/USD', { from: t + 0.2, to: t + 0.2, mid: wave(5), ticker: k >= 9, l2: false, l3: false, firstTradeId: id });
      // ticker-priced; at k = 5 an L2 book arrives in the current bucket (its price path switches source)
      await seed(db.pool, run, 'CCC/USD', { from: t + 0.1, to: t + 0.1, mid: wave(20), l2: k >= 5, firstTradeId: id });
      await seed(db.pool, run, 'DDD/USD', { from: t + 0.3, to: t + 0.3, mid: wave(50), firstTradeId: id });
      // late rows into an older bucket, and rows from the future (after p_now)
      if (k === 4 || k === 15) await seed(db.pool, run, 'DDD/USD', { from: t - 25, to: t - 25, mid: wave(50), firstTradeId: id + 5 });
      if (k === 7) await seed(db.pool, run, 'DDD/USD', { from: t + 14, to: t + 14, mid: wave(50), firstTradeId: id + 6 });
      // trade ids out of order: a lower id than the window's smallest so far
      await seed(db.pool, run, 'EEE/USD', { from: t + 0.4, to: t + 0.4, mid: wave(7), firstTradeId: k === 12 ? 3 : id });
      // several touched buckets on the delta path: FFF's rows stop in bucket 300 (k <= 8), the
      // windows move at k = 9 and 19, then one refresh (k = 21, bucket_now 320) brings a late row
      // into its newest bucket (300) and rows into the two after it (310, 320)
      if (k <= 8) await seed(db.pool, run, 'FFF/USD', { from: t + 0.5, to: t + 0.5, mid: wave(30), firstTradeId: id });
      if (k === 21) {
        await seed(db.pool, run, 'FFF/USD', { from: t - 13, to: t - 13, mid: wave(30), firstTradeId: id });
        await seed(db.pool, run, 'FFF/USD', { from: t - 6, to: t - 6, mid: wave(30), firstTradeId: id + 1 });
        await seed(db.pool, run, 'FFF/USD', { from: t + 0.5, to: t + 0.6, step: 0.1, mid: wave(30), firstTradeId: id + 2 });
      }
      // a checksum failure in the newest bucket
      await seed(db.pool, run, 'AAA/USD', { from: t + 0.7, to: t + 0.7, mid: wave(100), firstTradeId: id + 8, l2ChecksumOk: () => k % 6 !== 3, l3ChecksumOk: () => k % 7 !== 2 });
      await settle(db.pool, run);
      const o = await refresh(db.pool, run, t + 1);
      symbolRefreshes += o.symbols;
      recomputed += o.symbols_recomputed;
      expect({ k, diff: await textDiff(run, t + 1) }).toEqual({ k, diff: [] });
      // FFF's three buckets (and everyone else's one) took the delta path
      if (k === 21) expect(o.symbols_recomputed).toBe(0);
    }
    // The windows move every 10 s (every 10th refresh here) and the special cases above fall
    // back; everything else takes the delta path.
    expect(recomputed).toBeGreaterThan(0);
    expect(recomputed).toBeLessThan(symbolRefreshes / 2);
  });

  it('a refresh without new rows and unchanged windows recomputes nothing and changes no metric', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 100, mid: wave(100) });
    await settle(db.pool, run);
    await refresh(db.pool, run, 101);
    const o = await refresh(db.pool, run, 102);
    expect(o.symbols_recomputed).toBe(0);
    expect(await textDiff(run, 102)).toEqual([]);
  });
});
