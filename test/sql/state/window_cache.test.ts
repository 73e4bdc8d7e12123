// The window cache (state_symbol_latest.w_*): while the windows do not move, a refresh updates a
// symbol's window aggregates by deltas; everything the delta path cannot do exactly (first
// buckets, late rows into older buckets, rows from the future, a symbol getting its first price,
// a bucket switching from ticker to L2 price) falls back to a recomputation from the buckets.
// The delta path has two forms (one touched bucket per symbol, or several): both are exercised.
// When the windows move by a few buckets the caches move by subtraction (state__window_advance),
// with its own fallbacks to the recomputation: the second test takes each of them.
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

/**
 * Window caches (state_symbol_latest.w_* but w_now) that differ from their definition
 * (state__window_cache over the buckets), as jsonb text. Some fields (the first priced bucket of a
 * window) reach the state only through later delta-path decisions, so they are compared here.
 */
async function cacheDiff(runId: number, nowSec: number): Promise<string[]> {
  const { rows } = await db.pool.query(
    `with def as (select to_jsonb(c)::text m from state__window_cache($1, $2::timestamptz, false) c),
          cached as (select (select jsonb_object_agg(e.k, e.v) from jsonb_each(to_jsonb(l)) e(k, v)
                              where e.k = 'symbol' or (e.k like 'w\\_%' and e.k <> 'w_now'))::text m
                       from state_symbol_latest l where l.run_id = $1)
     (select 'cached ' || m from cached except select 'cached ' || m from def)
     union all
     (select 'definition ' || m from def except select 'definition ' || m from cached)`,
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
    let moved = 0;
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
      moved += o.symbols_moved;
      expect({ k, diff: await textDiff(run, t + 1) }).toEqual({ k, diff: [] });
      expect({ k, cache: await cacheDiff(run, t + 1) }).toEqual({ k, cache: [] });
      // FFF's three buckets (and everyone else's one) took the delta path
      if (k === 21) expect(o.symbols_recomputed).toBe(0);
      // BBB, never priced until k = 9, stays on the delta path while its new buckets are unpriced too
      if (k === 1 || k === 2) expect({ k, recomputed: o.symbols_recomputed }).toEqual({ k, recomputed: 0 });
      // the windows move (bucket_now 310, 320): every symbol's cache moves by subtraction except
      // DDD's, which holds a bucket after the old bucket_now (its row from the future, k = 7)
      if (k === 9 || k === 19) expect({ k, moved: o.symbols_moved }).toEqual({ k, moved: 5 });
      else expect({ k, moved: o.symbols_moved }).toEqual({ k, moved: 0 });
    }
    // The windows move every 10 s (every 10th refresh here) and the special cases above fall
    // back; everything else takes the delta path.
    expect(recomputed).toBeGreaterThan(0);
    expect(recomputed).toBeLessThan(symbolRefreshes / 2);
    expect(moved).toBe(10);
  });

  it('window moves by subtraction equal the recomputation, and what they cannot prove falls back', async () => {
    const run = await startRun(db.pool);
    const all = ['REG/USD', 'QTY/USD', 'IDS/USD', 'MIN/USD', 'GAP/USD', 'SPR/USD', 'UNP/USD', 'EMP/USD', 'TRD/USD', 'FUT/USD'];
    const ids = new Map(all.map((s) => [s, 10_000]));
    /** Rows for one symbol over [from, to], one per second, trade ids continuing its own sequence. */
    const put = async (symbol: string, from: number, to: number, o: Partial<Parameters<typeof seed>[3]> = {}) => {
      await seed(db.pool, run, symbol, { from, to, mid: wave(40 + all.indexOf(symbol) * 13), firstTradeId: ids.get(symbol), ...o });
      ids.set(symbol, ids.get(symbol)! + (to - from + 1));
    };
    const tradesOnly = { ticker: false, l2: false, l3: false } as const;
    // The window at 300 holds buckets 10 … 290 (bucket_now 300).
    await put('REG/USD', 10, 299);
    // trade quantities of two scales: the bucket with the longer ones (qty 0.25) leaves first
    await put('QTY/USD', 10, 19, { tradeQty: 0.25 });
    await put('QTY/USD', 20, 299);
    // the oldest bucket holds the largest trade ids while trades remain: fallback when it leaves
    await put('IDS/USD', 10, 19, { firstTradeId: 9_000_000 });
    await put('IDS/USD', 20, 299);
    // the oldest bucket holds the smallest ids, the next one larger ids than the one after it: the
    // new smallest id is not in the new first bucket (the index probe finds it)
    await put('MIN/USD', 10, 19, { firstTradeId: 1 });
    await put('MIN/USD', 20, 29, { firstTradeId: 5_000 });
    await put('MIN/USD', 30, 299, { firstTradeId: 100 });
    ids.set('MIN/USD', 100_000);
    // priced only in the oldest bucket and from 200 on: the first priced bucket leaves, the new one is far
    await put('GAP/USD', 10, 19, { trades: false });
    await put('GAP/USD', 20, 199, tradesOnly);
    await put('GAP/USD', 200, 299);
    // a sample every 25 s: the new window often starts in a gap (its first bucket by probe)
    await put('SPR/USD', 10, 299, { step: 25 });
    // priced until 199, trades only after: the newest bucket has no return (fallback while prices remain)
    await put('UNP/USD', 10, 199);
    await put('UNP/USD', 200, 299, tradesOnly);
    // one bucket only: the window empties (fallback), then holds no bucket at all (moves trivially)
    await put('EMP/USD', 10, 19);
    // trades only, never priced: no returns, no price base (no rows later: the delta path sends a
    // symbol without a price base to the recomputation)
    await put('TRD/USD', 10, 299, tradesOnly);
    // a row from the future (bucket 310 at bucket_now 300): fallback once
    await put('FUT/USD', 10, 299);
    await put('FUT/USD', 312, 312);
    await settle(db.pool, run);
    await refresh(db.pool, run, 300);
    expect(await textDiff(run, 300)).toEqual([]);

    // [rows until, refresh at, symbols moved by subtraction, symbols recomputed]
    const steps: Array<[number, number, number, number]> = [
      [309, 310, 6, 4],  // one bucket: IDS (largest id leaves), UNP (unpriced newest), EMP (emptied), FUT (future row) fall back
      [329, 330, 9, 1],  // two buckets: EMP has no bucket left and moves; UNP still falls back
      [339, 340, 9, 1],
      [419, 420, 0, 10], // eight buckets: beyond p_max_buckets, every symbol is recomputed
      [429, 430, 9, 1],
    ];
    let last = 300;
    for (const [until, now, wantMoved, wantRecomputed] of steps) {
      for (const s of ['REG/USD', 'QTY/USD', 'IDS/USD', 'MIN/USD', 'GAP/USD', 'FUT/USD']) await put(s, last, until);
      await put('SPR/USD', last, until, { step: 25 });
      await put('UNP/USD', last, until, tradesOnly);
      last = until + 1;
      await settle(db.pool, run);
      const o = await refresh(db.pool, run, now);
      expect({ now, diff: await textDiff(run, now) }).toEqual({ now, diff: [] });
      expect({ now, cache: await cacheDiff(run, now) }).toEqual({ now, cache: [] });
      expect({ now, moved: o.symbols_moved, recomputed: o.symbols_recomputed })
        .toEqual({ now, moved: wantMoved, recomputed: wantRecomputed });
    }
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
