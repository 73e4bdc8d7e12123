// strategy_readiness: per symbol and strategy, ready or not with the reasons.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, refresh, seed, settle, startRun } from './support.ts';

let db: TestDatabase;
let run: number;

async function readiness(nowSec: number) {
  const { rows } = await db.pool.query<{ symbol: string; strategy: string; ready: boolean; reasons: string[]; detail: string }>(
    `select symbol, strategy, ready, reasons, detail from strategy_readiness($1, $2::timestamptz)`,
    [run, at(nowSec)],
  );
  const out: Record<string, Record<string, { ready: boolean; reasons: string[]; detail: string }>> = {};
  for (const r of rows) (out[r.symbol] ??= {})[r.strategy] = { ready: r.ready, reasons: r.reasons, detail: r.detail };
  return out;
}

beforeAll(async () => {
  db = await testDatabase('ingest');
  run = await startRun(db.pool);
  const mid = (i: number) => 100 + Math.sin(i / 5) * 0.05;
  await seed(db.pool, run, 'FULL/USD', { from: 0, to: 300, mid, tradeQty: 20 });
  await seed(db.pool, run, 'NOL3/USD', { from: 0, to: 300, mid, tradeQty: 20, l3: false });
  // L2 stops 20 s before the end; ticker, trades and L3 go on.
  await seed(db.pool, run, 'OLDBOOK/USD', { from: 0, to: 300, mid, tradeQty: 20, l2: false });
  await seed(db.pool, run, 'OLDBOOK/USD', { from: 0, to: 280, mid, trades: false, ticker: false, l3: false });
  // Newest L2 and L3 samples fail their checksums.
  await seed(db.pool, run, 'BAD/USD', { from: 0, to: 300, mid, tradeQty: 20, l2ChecksumOk: (i) => i !== 300, l3ChecksumOk: (i) => i !== 300 });
  // Quotes every second, a trade only every 20 s.
  await seed(db.pool, run, 'THIN/USD', { from: 0, to: 300, mid, trades: false });
  await seed(db.pool, run, 'THIN/USD', { from: 0, to: 300, step: 20, mid, ticker: false, l2: false, l3: false });
  await settle(db.pool, run);
  await refresh(db.pool, run, 300);
});

describe('strategy_readiness', () => {
  it('is ready for every strategy when all data is there and fresh', async () => {
    const r = await readiness(300);
    for (const s of ['liquidity', 'momentum', 'volume']) {
      expect(r['FULL/USD']![s]).toEqual({ ready: true, reasons: [], detail: 'ready' });
    }
  });

  it('Liquidity needs L3 queue data; Momentum and Volume do not', async () => {
    const r = await readiness(300);
    expect(r['NOL3/USD']!.liquidity).toMatchObject({ ready: false, reasons: ['L3_MISSING'] });
    expect(r['NOL3/USD']!.momentum!.ready).toBe(true);
    expect(r['NOL3/USD']!.volume!.ready).toBe(true);
  });

  it('names a stale book with its age for Liquidity (10 s) and Volume (15 s); Momentum runs on the ticker', async () => {
    const r = await readiness(300);
    expect(r['OLDBOOK/USD']!.liquidity).toMatchObject({ ready: false, reasons: ['BOOK_STALE'] });
    expect(r['OLDBOOK/USD']!.liquidity!.detail).toBe('BOOK_STALE: book 00:00:20 old > 00:00:10');
    expect(r['OLDBOOK/USD']!.volume).toMatchObject({ ready: false, reasons: ['BOOK_STALE'] });
    expect(r['OLDBOOK/USD']!.momentum!.ready).toBe(true);
  });

  it('treats an age equal to the maximum as ready and one tick more as stale', async () => {
    // FULL/USD's last rows are at 300 s: at 310 s the book is exactly 10 s old.
    expect((await readiness(310))['FULL/USD']!.liquidity!.ready).toBe(true);
    expect((await readiness(310.001))['FULL/USD']!.liquidity).toMatchObject({ ready: false, reasons: ['BOOK_STALE', 'L3_STALE'] });
  });

  it('refuses a book or L3 queue that failed its checksum', async () => {
    const r = await readiness(300);
    expect(r['BAD/USD']!.liquidity).toMatchObject({ ready: false, reasons: ['BOOK_INVALID', 'L3_INVALID'] });
    expect(r['BAD/USD']!.volume).toMatchObject({ ready: false, reasons: ['BOOK_INVALID'] });
    expect(r['BAD/USD']!.momentum!.ready).toBe(true);
  });

  it('Volume and Momentum need trade flow: too few trades and too little volume are named', async () => {
    const r = await readiness(300);
    expect(r['THIN/USD']!.liquidity!.ready).toBe(true);
    // 5-minute window 5…300 s: trades at 20, 40, …, 300 → 15; the 1-minute window 245…300 s: 260, 280, 300 → 3.
    expect(r['THIN/USD']!.volume).toMatchObject({ ready: false, reasons: ['TRADES_TOO_FEW_1M', 'TRADE_VOLUME_TOO_LOW'] });
    expect(r['THIN/USD']!.volume!.detail).toContain('TRADES_TOO_FEW_1M: 3 trades in 1 m < 5');
    expect(r['THIN/USD']!.momentum!.ready).toBe(true);
    // A minute later without new data: the last trade is exactly 60 s old (allowed), the ticker is stale.
    await refresh(db.pool, run, 360);
    const later = await readiness(360);
    expect(later['THIN/USD']!.momentum).toMatchObject({ ready: false, reasons: ['TICKER_STALE'] });
    // Two minutes later: 9 trades left in the 5-minute window, the last one 120 s old.
    await refresh(db.pool, run, 420);
    const much = await readiness(420);
    expect(much['THIN/USD']!.momentum).toMatchObject({
      ready: false,
      reasons: ['TICKER_STALE', 'TRADES_STALE', 'TRADES_TOO_FEW_5M'],
    });
  });
});
