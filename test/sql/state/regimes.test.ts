// Regime per pair from crafted data, and the hysteresis that keeps a pair from flapping.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { refresh, seed, settle, startRun, stateRow } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const flat = (i: number) => 100 + Math.sin(i / 5) * 0.02; // ±2 bps wiggle
const rising = (_i: number, t: number) => 100 * (1 + 0.0001 * t); // +1 bp per second
const swinging = (_i: number, t: number) => 100 * (1 + (Math.floor(t / 10) % 2 ? 0.0015 : -0.0015)); // ±15 bps, flips every bucket

async function regimeOf(run: number, symbol: string) {
  const s = await stateRow(db.pool, run, symbol);
  return { regime: s.regime, indicated: s.regime_indicated, candidate: s.regime_candidate, streak: s.regime_streak, reason: s.regime_reason };
}

async function setPolicy(sql: string) {
  await db.pool.query(`update regime_policy set ${sql} where policy = 'default'`);
}
const resetPolicy = () =>
  db.pool.query(`delete from regime_policy; insert into regime_policy (policy) values ('default')`);

describe('regime from crafted data', () => {
  let run: number;
  beforeAll(async () => {
    run = await startRun(db.pool);
    await seed(db.pool, run, 'RANGE/USD', { from: 0, to: 299, mid: flat });
    await seed(db.pool, run, 'TREND/USD', { from: 0, to: 299, mid: rising });
    await seed(db.pool, run, 'VOL/USD', { from: 0, to: 299, mid: swinging });
    await seed(db.pool, run, 'WIDE/USD', { from: 0, to: 299, mid: flat, spreadBps: 80 });
    await seed(db.pool, run, 'THIN/USD', { from: 0, to: 299, mid: flat, levelQty: 1 }); // 5 levels x 100 quote
    await seed(db.pool, run, 'BADBOOK/USD', { from: 0, to: 299, mid: flat, l2ChecksumOk: (i) => i !== 299 });
    await seed(db.pool, run, 'CKSUM/USD', { from: 0, to: 299, mid: flat, l2ChecksumOk: (i) => ![280, 285, 290].includes(i) });
    await seed(db.pool, run, 'GAPS/USD', { from: 0, to: 299, mid: flat, skipTradeId: (i) => i % 10 === 0 });
    await seed(db.pool, run, 'STALE/USD', { from: 0, to: 200, mid: flat });
    await seed(db.pool, run, 'NEW/USD', { from: 280, to: 299, mid: flat });
    await seed(db.pool, run, 'NOBOOK/USD', { from: 0, to: 299, mid: flat, l2: false });
    await settle(db.pool, run);
    await refresh(db.pool, run, 300);
  });

  it.each([
    ['RANGE/USD', 'RANGE', /^vol_5m/],
    ['TREND/USD', 'TREND', /^trend_strength_5m 1\.0000/],
    ['VOL/USD', 'HIGH_VOLATILITY', /^vol_5m \d+\.\d+ bps >= 80/],
    ['WIDE/USD', 'LOW_LIQUIDITY', /^WIDE_SPREAD/],
    ['THIN/USD', 'LOW_LIQUIDITY', /^THIN_BOOK/],
    ['BADBOOK/USD', 'CHAOS', /^BOOK_INVALID/],
    ['CKSUM/USD', 'CHAOS', /^CHECKSUM_FAILURES: 3 L2/],
    ['GAPS/USD', 'CHAOS', /^TRADE_GAPS/],
    ['STALE/USD', 'CHAOS', /^DATA_STALE/],
    ['NEW/USD', 'CHAOS', /^INSUFFICIENT_HISTORY/],
    ['NOBOOK/USD', 'CHAOS', /^NO_L2_BOOK/],
  ])('%s indicates %s', async (symbol, regime, reason) => {
    const r = await regimeOf(run, symbol);
    expect(r.indicated).toBe(regime);
    expect(r.reason).toMatch(reason);
  });

  it('takes CHAOS at once but gives no confident regime before it is confirmed', async () => {
    expect(await regimeOf(run, 'BADBOOK/USD')).toMatchObject({ regime: 'CHAOS', candidate: null, streak: 0 });
    expect(await regimeOf(run, 'RANGE/USD')).toMatchObject({ regime: null, candidate: 'RANGE', streak: 1 });
    await refresh(db.pool, run, 300);
    expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: null, candidate: 'TREND', streak: 2 });
    await refresh(db.pool, run, 300);
    expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'TREND', candidate: null, streak: 0 });
    expect(await regimeOf(run, 'VOL/USD')).toMatchObject({ regime: 'HIGH_VOLATILITY' });
    expect(await regimeOf(run, 'WIDE/USD')).toMatchObject({ regime: 'LOW_LIQUIDITY' });
    const v = await db.pool.query(`select regime, vol_5m_bps, spread_bps from symbol_regimes where run_id = $1 and symbol = 'VOL/USD'`, [run]);
    expect(v.rows[0].regime).toBe('HIGH_VOLATILITY');
    expect(Number(v.rows[0].vol_5m_bps)).toBeGreaterThan(80);
  });
});

describe('regime hysteresis', () => {
  let run: number;
  beforeAll(async () => {
    run = await startRun(db.pool);
    await seed(db.pool, run, 'TREND/USD', { from: 0, to: 299, mid: rising });
    await seed(db.pool, run, 'VOL/USD', { from: 0, to: 299, mid: swinging });
    await settle(db.pool, run);
  });

  it('does not flap: alternating indications never switch, three in a row do', async () => {
    try {
      await setPolicy('trend_min_strength = 1.5'); // unreachable: the trending pair indicates RANGE
      for (let k = 0; k < 3; k++) await refresh(db.pool, run, 300);
      expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'RANGE', indicated: 'RANGE' });

      for (let k = 0; k < 4; k++) {
        await setPolicy('trend_min_strength = 0.5');
        await refresh(db.pool, run, 300);
        expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'RANGE', indicated: 'TREND', candidate: 'TREND', streak: 1 });
        await setPolicy('trend_min_strength = 1.5');
        await refresh(db.pool, run, 300);
        expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'RANGE', indicated: 'RANGE', candidate: null, streak: 0 });
      }

      await setPolicy('trend_min_strength = 0.5');
      await refresh(db.pool, run, 300);
      await refresh(db.pool, run, 300);
      expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'RANGE', streak: 2 });
      await refresh(db.pool, run, 300);
      expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'TREND', candidate: null, streak: 0 });
    } finally {
      await resetPolicy();
    }
  });

  it('keeps a regime inside the exit margin and leaves it beyond', async () => {
    try {
      for (let k = 0; k < 3; k++) await refresh(db.pool, run, 300);
      const s = await stateRow(db.pool, run, 'VOL/USD');
      expect(s.regime).toBe('HIGH_VOLATILITY');
      const vol = Number(s.vol_5m_bps);
      // Threshold just above the current volatility but within the 20 % band: stays.
      await setPolicy(`high_vol_vol_5m_bps = ${(vol * 1.1).toFixed(4)}`);
      await refresh(db.pool, run, 300);
      expect(await regimeOf(run, 'VOL/USD')).toMatchObject({ regime: 'HIGH_VOLATILITY', indicated: 'HIGH_VOLATILITY' });
      // Beyond the band: the indication changes, the regime follows after confirmation.
      await setPolicy(`high_vol_vol_5m_bps = ${(vol * 1.3).toFixed(4)}`);
      await refresh(db.pool, run, 300);
      const r = await regimeOf(run, 'VOL/USD');
      expect(r.regime).toBe('HIGH_VOLATILITY');
      expect(r.indicated).not.toBe('HIGH_VOLATILITY');
    } finally {
      await resetPolicy();
    }
  });

  it('enters CHAOS on the first corrupt book and needs confirmation to leave it', async () => {
    for (let k = 0; k < 3; k++) await refresh(db.pool, run, 300);
    expect((await regimeOf(run, 'TREND/USD')).regime).toBe('TREND');
    await seed(db.pool, run, 'TREND/USD', { from: 300, to: 300, mid: rising, l2ChecksumOk: () => false, firstTradeId: 301 });
    await settle(db.pool, run);
    await refresh(db.pool, run, 301);
    expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'CHAOS', indicated: 'CHAOS' });
    await seed(db.pool, run, 'TREND/USD', { from: 301, to: 301, mid: rising, firstTradeId: 302 });
    await settle(db.pool, run);
    await refresh(db.pool, run, 302);
    expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'CHAOS', indicated: 'TREND', streak: 1 });
    await refresh(db.pool, run, 302);
    await refresh(db.pool, run, 302);
    expect(await regimeOf(run, 'TREND/USD')).toMatchObject({ regime: 'TREND' });
  });
});
