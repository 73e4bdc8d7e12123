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

// Every branch of regime__indicate with its exact reason text, also with the exit margin that
// relaxes the thresholds of the current regime. The expected strings are what the former
// plpgsql version returned: the SQL rewrite (inlined into the refresh) must say the same.
describe('regime__indicate branch by branch', () => {
  const base = {
    run_id: 1, symbol: 'X/USD', generation_id: 1, refreshed_at: '2026-01-01T00:05:00Z',
    last_ticker_at: '2026-01-01T00:04:59Z', last_l2_at: '2026-01-01T00:04:59Z', book_source: 'l2', mid: '100',
    book_valid: true, spread_bps: '2', bid_depth_50bps_quote: '5000', ask_depth_50bps_quote: '4000', trades_5m: 10,
    price_buckets_5m: 30, vol_1m_bps: '5', vol_5m_bps: '10', trend_strength_5m: '0.2', ret_5m_bps: '3',
    l2_checksum_failures_1m: 0, l3_checksum_failures_1m: 0, trade_id_gaps_5m: 0,
  };
  it.each<[string, string | null, Record<string, unknown>, string, string]>([
    ['no book', null, { mid: null }, 'CHAOS', 'NO_BOOK: no L2 book or ticker quote'],
    ['no L2', null, { book_source: 'ticker' }, 'CHAOS', 'NO_L2_BOOK: depth and spread unknown without a two-sided L2 book'],
    ['invalid book', null, { book_valid: false }, 'CHAOS', 'BOOK_INVALID: newest L2 sample failed its checksum'],
    ['stale', null, { last_l2_at: '2026-01-01T00:04:00Z', last_ticker_at: '2026-01-01T00:04:10Z' }, 'CHAOS', 'DATA_STALE: newest L2/ticker data 00:00:50 old > 00:00:30'],
    ['checksums', null, { l2_checksum_failures_1m: 2, l3_checksum_failures_1m: 1 }, 'CHAOS', 'CHECKSUM_FAILURES: 2 L2 + 1 L3 checksum failures in 1 m >= 3'],
    ['trade gaps', null, { trade_id_gaps_5m: 25 }, 'CHAOS', 'TRADE_GAPS: 25 trade ids missing in 5 m >= 20'],
    ['short history', null, { price_buckets_5m: 4 }, 'CHAOS', 'INSUFFICIENT_HISTORY: 4 price buckets in 5 m < 6'],
    ['extreme vol', null, { vol_1m_bps: '250.5' }, 'CHAOS', 'EXTREME_VOLATILITY: vol_1m 250.5 bps >= 200.0000'],
    ['extreme vol kept', 'CHAOS', { vol_1m_bps: '170' }, 'CHAOS', 'EXTREME_VOLATILITY: vol_1m 170 bps >= 160.0000'],
    ['wide', null, { spread_bps: '55.25' }, 'LOW_LIQUIDITY', 'WIDE_SPREAD: spread 55.25 bps >= 50.0000'],
    ['wide kept', 'LOW_LIQUIDITY', { spread_bps: '41' }, 'LOW_LIQUIDITY', 'WIDE_SPREAD: spread 41 bps >= 40.0000'],
    ['thin', null, { ask_depth_50bps_quote: '1500' }, 'LOW_LIQUIDITY', 'THIN_BOOK: thinner side 1500 quote within 50 bps < 2000.0000'],
    ['thin kept', 'LOW_LIQUIDITY', { ask_depth_50bps_quote: '2400' }, 'LOW_LIQUIDITY', 'THIN_BOOK: thinner side 2400 quote within 50 bps < 2500.0000'],
    ['one side unknown', null, { ask_depth_50bps_quote: null }, 'RANGE', 'vol_5m 10 bps, trend_strength_5m 0.2, ret_5m 3 bps, spread 2 bps'],
    ['few trades', null, { trades_5m: 2 }, 'LOW_LIQUIDITY', 'FEW_TRADES: 2 trades in 5 m < 3.0000'],
    ['few trades kept', 'LOW_LIQUIDITY', { trades_5m: 3 }, 'LOW_LIQUIDITY', 'FEW_TRADES: 3 trades in 5 m < 3.7500'],
    ['high vol', null, { vol_5m_bps: '90' }, 'HIGH_VOLATILITY', 'vol_5m 90 bps >= 80.0000'],
    ['high vol kept', 'HIGH_VOLATILITY', { vol_5m_bps: '70' }, 'HIGH_VOLATILITY', 'vol_5m 70 bps >= 64.0000'],
    ['trend', null, { trend_strength_5m: '-0.6', ret_5m_bps: '-20' }, 'TREND', 'trend_strength_5m -0.6 (|.| >= 0.5000), ret_5m -20 bps (|.| >= 15.0000)'],
    ['trend kept', 'TREND', { trend_strength_5m: '0.45', ret_5m_bps: '13' }, 'TREND', 'trend_strength_5m 0.45 (|.| >= 0.4000), ret_5m 13 bps (|.| >= 12.0000)'],
    ['range', 'TREND', { trend_strength_5m: '0.35', ret_5m_bps: '13' }, 'RANGE', 'vol_5m 10 bps, trend_strength_5m 0.35, ret_5m 13 bps, spread 2 bps'],
  ])('%s', async (_name, current, patch, regime, reason) => {
    await resetPolicy();
    const { rows } = await db.pool.query(
      `select i.regime, i.reason
         from regime_policy p
        cross join lateral regime__indicate(jsonb_populate_record(null::run_symbol_state, $1::jsonb), $2, p, '2026-01-01T00:05:00Z') i
        where p.policy = 'default'`,
      [JSON.stringify({ ...base, ...patch }), current],
    );
    expect(rows).toEqual([{ regime, reason }]);
  });
});
