// Queue-aware maker entry: the queue ahead at the touch lowers the fill probability and thus
// the score; a long queue with room in the spread moves the bid one tick up.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { find, newRun, putPair, putState, rangeDip, rank } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

describe('liquidity: queue ahead and fill probability', () => {
  it('a longer queue ahead at the touch lowers the fill probability and the score', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      // Identical pairs but for the queue at the best bid: 10 vs 40 base (wait 6 s and 24 s,
      // both below improve_after_wait, so both bid at the touch).
      await putState(c, run, 'SHORTQ/USD', { ...rangeDip, l3_bid_touch_qty: '10' });
      await putState(c, run, 'LONGQ/USD', { ...rangeDip, l3_bid_touch_qty: '40' });
      const rows = await rank(c, run);
      const short = find(rows, 'SHORTQ/USD', 'liquidity');
      const long = find(rows, 'LONGQ/USD', 'liquidity');
      // Same edge: net 82 bps each.
      expect(short.net_edge_bps).toBe('82.000000');
      expect(long.net_edge_bps).toBe('82.000000');
      // Sell flow in 60 s: 50000 / 300 x 60 = 10000 quote. 10000 / (10000 + 10 x 99.99) and 10000 / (10000 + 40 x 99.99).
      expect(short).toMatchObject({ queue_ahead_qty: '10', fill_probability: '0.909099', score: '74.546118', rank: 1, selected: true });
      expect(long).toMatchObject({ queue_ahead_qty: '40', fill_probability: '0.714306', score: '58.573092', rank: 2, selected: false });
      expect(long.reason).toBe('lower_score_than liquidity/SHORTQ/USD: score 58.573092 < 74.546118');
    });
  });

  it('our own size is queued behind the touch: a bigger order fills less likely', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', rangeDip);
      const small = find(await rank(c, run, '0'), 'AAA/USD', 'liquidity');
      const big = find(await rank(c, run, '5000'), 'AAA/USD', 'liquidity');
      expect(small.fill_probability).toBe('0.909099');
      // 10000 / (10000 + 999.9 + 5000) = 0.625004
      expect(big.fill_probability).toBe('0.625004');
      expect(big.inputs.derived.size_quote).toBe(5000);
    });
  });

  it('no sell flow: fill probability 0, never selected though the edge is positive', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', { ...rangeDip, buy_quote_volume_5m: '100000' });
      const liq = find(await rank(c, run), 'AAA/USD', 'liquidity');
      expect(liq).toMatchObject({ net_edge_bps: '82.000000', fill_probability: '0.000000', selectable: false });
      expect(liq.reason).toBe('fill_probability_zero: no sell flow to fill a bid');
    });
  });

  it('a long queue with a spread of two ticks moves the bid one tick up: queue ahead 0, one tick less edge', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      // 100 base at the touch = 9999 quote, 60 s of sell flow > improve_after_wait 30 s.
      await putState(c, run, 'AAA/USD', { ...rangeDip, l3_bid_touch_qty: '100' });
      await putPair(c, run, 'AAA/USD', '0.01');
      const liq = find(await rank(c, run), 'AAA/USD', 'liquidity');
      // Bid 100.00 (= mid): entry cost 0, exit cost 1 -> gross 149, net 149 - 65 - 3 = 81, fill 1.
      expect(liq).toMatchObject({
        entry_price: '100.00', queue_ahead_qty: '0', gross_edge_bps: '149.000000', net_edge_bps: '81.000000',
        fill_probability: '1.000000', score: '81.000000', selected: true,
      });
      expect(liq.inputs.derived).toMatchObject({ improved_one_tick: true, can_improve: true, tick: 0.01, touch_wait_s: 59.994 });
    });
  });

  it('without room in the spread (one tick) the bid stays at the touch behind the long queue', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', { ...rangeDip, l3_bid_touch_qty: '100' });
      await putPair(c, run, 'AAA/USD', '0.02'); // 99.99 + 0.02 = 100.01 = best ask: would cross
      const liq = find(await rank(c, run), 'AAA/USD', 'liquidity');
      // 10000 / (10000 + 100 x 99.99) = 0.500025; score 82 x 0.500025.
      expect(liq).toMatchObject({
        entry_price: '99.99', queue_ahead_qty: '100', net_edge_bps: '82.000000', fill_probability: '0.500025', score: '41.002050',
      });
      expect(liq.inputs.derived).toMatchObject({ improved_one_tick: false, can_improve: false });
    });
  });

  it('a short queue is joined at the touch even when the spread has room', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', rangeDip);
      await putPair(c, run, 'AAA/USD', '0.01');
      const liq = find(await rank(c, run), 'AAA/USD', 'liquidity');
      expect(liq).toMatchObject({ entry_price: '99.99', queue_ahead_qty: '10' });
      expect(liq.inputs.derived).toMatchObject({ improved_one_tick: false, can_improve: true });
    });
  });
});
