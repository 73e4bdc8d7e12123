// Regime eligibility, readiness and route freshness gates: such proposals are listed with their
// reason and never selected; select_top tells data_blocked from economically_empty.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { ago, find, newRun, putPair, putState, rangeDip, rank, selectTop, trendUp } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

// Strong signals for all three strategies at once: a dip in the last minute (liquidity), a
// straight 5-minute rise (momentum) and a buying surge (volume). Only the regime varies.
const everything = { ...rangeDip, ret_5m_bps: '400', trend_strength_5m: '0.8', quote_volume_1m: '60000', buy_quote_volume_5m: '95000' };

describe('regime eligibility', () => {
  it.each(['CHAOS', 'LOW_LIQUIDITY'])('%s produces no selectable proposal, whatever the edge', async (regime) => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', { ...everything, regime, regime_indicated: regime });
      const rows = await rank(c, run);
      expect(rows).toHaveLength(3);
      for (const r of rows) {
        expect(r).toMatchObject({ selectable: false, selected: false, data_ok: true, reason: `regime_ineligible: ${regime}` });
        expect(Number(r.net_edge_bps)).toBeGreaterThan(0); // would have paid: the regime alone blocks it
      }
      const top = await selectTop(c, run);
      expect(top).toEqual([expect.objectContaining({ outcome: 'economically_empty', strategy: null, selectable_proposals: 0 })]);
      expect(top[0]!.inputs.reasons).toEqual({ regime_ineligible: 3 });
    });
  });

  it('the same signals are selectable in RANGE and TREND, by the fan-out table', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'RNG/USD', { ...everything, regime: 'RANGE' });
      await putState(c, run, 'TRD/USD', { ...everything, regime: 'TREND' });
      const rows = await rank(c, run);
      const selectable = rows.filter((r) => r.selectable).map((r) => `${r.strategy}/${r.symbol}`).sort();
      expect(selectable).toEqual(['liquidity/RNG/USD', 'momentum/TRD/USD', 'volume/RNG/USD', 'volume/TRD/USD']);
    });
  });

  it('HIGH_VOLATILITY allows only momentum, with its expected move halved', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', { ...everything, regime: 'HIGH_VOLATILITY', ret_5m_bps: '600', trend_strength_5m: '1' });
      const rows = await rank(c, run);
      // move = 0.5 x 600 x 1 x 0.5 = 150, gross 148, net 68.
      expect(find(rows, 'AAA/USD', 'momentum')).toMatchObject({
        selected: true, expected_move_bps: '150.000000', net_edge_bps: '68.000000',
      });
      expect(find(rows, 'AAA/USD', 'momentum').inputs.policy.signal_factor).toBe(0.5);
      expect(find(rows, 'AAA/USD', 'liquidity').reason).toBe('regime_ineligible: HIGH_VOLATILITY');
      expect(find(rows, 'AAA/USD', 'volume').reason).toBe('regime_ineligible: HIGH_VOLATILITY');
    });
  });

  it('an operator can switch a strategy off for a regime with one update', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', trendUp);
      await c.query(`update strategy_regime_eligibility set eligible = false where regime = 'TREND' and strategy = 'momentum'`);
      expect(find(await rank(c, run), 'AAA/USD', 'momentum')).toMatchObject({ selectable: false, reason: 'regime_ineligible: TREND' });
    });
  });

  it('a regime not yet established counts as not ready', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', { ...everything, regime: null, regime_since: null });
      const rows = await rank(c, run);
      expect(rows.every((r) => !r.selectable && !r.data_ok && r.reason.startsWith('not_ready: REGIME_NOT_ESTABLISHED'))).toBe(true);
      expect((await selectTop(c, run))[0]!.outcome).toBe('data_blocked');
    });
  });
});

describe('readiness and route freshness', () => {
  it('a strategy whose data is not ready is listed with the readiness reason and never selected', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      // Best edge of the run, but the L3 queue is 20 s old (liquidity needs <= 10 s).
      await putState(c, run, 'AAA/USD', { ...rangeDip, ret_1m_bps: '-600', last_l3_at: ago(20) });
      await putState(c, run, 'BBB/USD', trendUp);
      const rows = await rank(c, run);
      const liq = find(rows, 'AAA/USD', 'liquidity');
      expect(liq).toMatchObject({ selectable: false, selected: false, data_ok: false });
      expect(liq.reason).toBe('not_ready: L3_STALE: L3 00:00:20 old > 00:00:10');
      expect(Number(liq.score)).toBeGreaterThan(78);
      expect(find(rows, 'BBB/USD', 'momentum')).toMatchObject({ selected: true, rank: 1 });
      // Readiness is per strategy: volume on the same pair does not need L3.
      expect(find(rows, 'AAA/USD', 'volume').reason).toMatch(/^no_signal/);
    });
  });

  it('momentum is not ready on a stale ticker while the route is still fresh', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'BBB/USD', { ...trendUp, last_ticker_at: ago(20) });
      const mom = find(await rank(c, run), 'BBB/USD', 'momentum');
      expect(mom).toMatchObject({ selectable: false, reason: 'not_ready: TICKER_STALE: ticker 00:00:20 old > 00:00:15' });
      expect(mom.inputs.gates.route_marker).toBe('ROUTE_FRESHNESS_OK');
    });
  });

  it('a stale route is listed as route_stale and never selected; with nothing else it is data_blocked', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      // Data fresh, but the state was refreshed 40 s ago (> 30 s for entries).
      await putState(c, run, 'BBB/USD', { ...trendUp, refreshed_at: ago(40) });
      const rows = await rank(c, run);
      const mom = find(rows, 'BBB/USD', 'momentum');
      expect(mom).toMatchObject({ selectable: false, data_ok: false });
      expect(mom.reason).toBe('route_stale: REFRESH_STALE: state refreshed 00:00:40 ago > 00:00:30');
      expect(mom.inputs.gates.route_marker).toBe('ROUTE_EXECUTION_BLOCKED_STALE_DATA');
      expect(mom.gates).toEqual([mom.reason]);
      const top = await selectTop(c, run);
      expect(top[0]).toMatchObject({ outcome: 'data_blocked', strategy: null });
      expect(top[0]!.reason).toBe('data_blocked: none of 3 proposals passed readiness, regime and route freshness');
    });
  });

  it('market data older than the route allows: ROUTE_FRESHNESS_STALE', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', { ...rangeDip, last_l2_at: ago(31), last_ticker_at: ago(31), last_l3_at: ago(1) });
      const liq = find(await rank(c, run), 'AAA/USD', 'liquidity');
      // Both gates fail; the reason names the first, gates lists both.
      expect(liq.gates).toEqual([
        'not_ready: BOOK_STALE: book 00:00:31 old > 00:00:10',
        'route_stale: STATE_AGE_EXCEEDS_MAX: market data 00:00:31 old > 00:00:30',
      ]);
      expect(liq.inputs.gates.route_marker).toBe('ROUTE_FRESHNESS_STALE');
    });
  });

  it('no state at all is data_blocked', async () => {
    await db.rollback(async (c) => {
      const top = await selectTop(c, newRun());
      expect(top).toEqual([expect.objectContaining({ outcome: 'data_blocked', proposals: 0, reason: 'data_blocked: no run_symbol_state rows for this run' })]);
    });
  });

  it('a pair the exchange does not accept orders for is not tradable; post_only still takes the maker bid', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', everything);
      await putPair(c, run, 'AAA/USD', '0.01', 'cancel_only');
      await putState(c, run, 'BBB/USD', everything);
      await putPair(c, run, 'BBB/USD', '0.01', 'post_only');
      const rows = await rank(c, run);
      expect(find(rows, 'AAA/USD', 'liquidity').reason).toBe('pair_not_tradable: status cancel_only');
      expect(find(rows, 'BBB/USD', 'liquidity').selectable).toBe(true);
      expect(find(rows, 'BBB/USD', 'volume').reason).toBe('pair_not_tradable: status post_only');
    });
  });

  it('a disabled strategy is listed but never selected', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'BBB/USD', trendUp);
      await c.query(`update strategy_policy set enabled = false where strategy = 'momentum'`);
      const mom = find(await rank(c, run), 'BBB/USD', 'momentum');
      expect(mom).toMatchObject({ selectable: false, reason: 'strategy_disabled', net_edge_bps: '78.000000' });
    });
  });
});
