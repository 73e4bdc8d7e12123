// Competitive scoring: strategy against strategy on one pair and across pairs, on expected net
// edge after fees (x fill probability for maker entries), with every loser's reason.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { fill, openEntry } from '../execution/helpers.ts';
import { ago, find, newRun, putPair, putState, rangeDip, rank, selectTop, trendUp } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

describe('strategy__rank: strategy against strategy', () => {
  it('on one pair with two eligible strategies the higher net edge wins and the loser says why', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      // TREND: momentum and volume eligible, liquidity not. Volume: surge 3 (60000 in 1 m vs
      // 100000 / 5 per minute), 95 % bought (imbalance 0.9).
      await putState(c, run, 'AAA/USD', { ...trendUp, quote_volume_1m: '60000', buy_quote_volume_5m: '95000' });
      const rows = await rank(c, run);
      expect(rows).toHaveLength(3);

      const mom = find(rows, 'AAA/USD', 'momentum');
      // move = 0.5 x 400 x 0.8 = 160; gross = 160 - 1 (ask above mid) - 1 (taker exit at bid) = 158;
      // fees = (0.0040 + 0.0040) x 10000 = 80; net = 78; taker fill probability 1.
      expect(mom).toMatchObject({
        rank: 1, selected: true, selectable: true, entry_liquidity: 'taker', order_type: 'market', post_only: false,
        entry_price: '100.01', expected_move_bps: '160.000000', gross_edge_bps: '158.000000', fee_bps: '80.000000',
        net_edge_bps: '78.000000', fill_probability: '1.000000', score: '78.000000',
      });
      expect(mom.reason).toMatch(/^selected: best score 78\.000000 of 2 selectable proposals$/);

      const vol = find(rows, 'AAA/USD', 'volume');
      // move = 40 x 0.9 x 3 = 108; gross 106; net 106 - 80 = 26.
      expect(vol).toMatchObject({
        rank: 2, selected: false, selectable: true, expected_move_bps: '108.000000', gross_edge_bps: '106.000000',
        net_edge_bps: '26.000000', score: '26.000000',
        reason: 'lower_score_than momentum/AAA/USD: score 26.000000 < 78.000000',
      });
      expect(vol.inputs.derived).toMatchObject({ surge: 3, flow_imbalance: 0.9 });

      const liq = find(rows, 'AAA/USD', 'liquidity');
      expect(liq).toMatchObject({ rank: 3, selected: false, selectable: false, reason: 'regime_ineligible: TREND' });

      const top = await selectTop(c, run);
      expect(top).toHaveLength(1);
      expect(top[0]).toMatchObject({ outcome: 'selected', symbol: 'AAA/USD', strategy: 'momentum', net_edge_bps: '78.000000',
        proposals: 3, selectable_proposals: 2 });
    });
  });

  it('flips when the other strategy has the better edge on the same pair', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      // Weaker trend (move 0.5 x 250 x 0.8 = 100, net 18), same volume surge (net 26).
      await putState(c, run, 'AAA/USD', { ...trendUp, ret_5m_bps: '250', quote_volume_1m: '60000', buy_quote_volume_5m: '95000' });
      const rows = await rank(c, run);
      expect(find(rows, 'AAA/USD', 'volume')).toMatchObject({ rank: 1, selected: true, net_edge_bps: '26.000000' });
      expect(find(rows, 'AAA/USD', 'momentum')).toMatchObject({
        rank: 2, selected: false, net_edge_bps: '18.000000',
        reason: 'lower_score_than volume/AAA/USD: score 18.000000 < 26.000000',
      });
    });
  });

  it('across pairs: a better momentum on pair B beats a liquidity entry on pair A, although liquidity has the higher net edge', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', rangeDip);
      await putState(c, run, 'BBB/USD', trendUp);
      const rows = await rank(c, run);
      expect(rows).toHaveLength(6);

      const liq = find(rows, 'AAA/USD', 'liquidity');
      // Maker bid at 99.99: move = 0.5 x 300 = 150, entry cost -1, exit cost 1 -> gross 150;
      // fees (0.0025 + 0.0040) x 10000 = 65, adverse selection 3 -> net 82. Fill: sell flow
      // 50000 / 300 s x 60 s = 10000 quote against 10 x 99.99 = 999.9 ahead -> 0.909099.
      expect(liq).toMatchObject({
        entry_liquidity: 'maker', order_type: 'limit', post_only: true, entry_price: '99.99', queue_ahead_qty: '10',
        gross_edge_bps: '150.000000', fee_bps: '65.000000', net_edge_bps: '82.000000', fill_probability: '0.909099',
        score: '74.546118', selectable: true, selected: false, rank: 2,
        reason: 'lower_score_than momentum/BBB/USD: score 74.546118 < 78.000000',
      });
      const mom = find(rows, 'BBB/USD', 'momentum');
      expect(mom).toMatchObject({ rank: 1, selected: true, net_edge_bps: '78.000000', score: '78.000000' });
      expect(rows.filter((r) => r.selected)).toHaveLength(1);
      // The rest: volume has no surge on either pair, momentum is not eligible in RANGE, liquidity not in TREND.
      expect(find(rows, 'AAA/USD', 'volume').reason).toBe('no_signal: surge 1.0000 < 1.5');
      expect(find(rows, 'AAA/USD', 'momentum').reason).toBe('regime_ineligible: RANGE');
      expect(find(rows, 'BBB/USD', 'liquidity').reason).toBe('regime_ineligible: TREND');
      expect(rows.slice(2).every((r) => !r.selectable)).toBe(true);
    });
  });

  it('across pairs: the liquidity entry wins when the trend elsewhere is weaker', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', rangeDip);
      await putState(c, run, 'BBB/USD', { ...trendUp, ret_5m_bps: '350' }); // move 140, net 58
      const top = await selectTop(c, run);
      expect(top[0]).toMatchObject({ outcome: 'selected', symbol: 'AAA/USD', strategy: 'liquidity', score: '74.546118' });
      expect(find(await rank(c, run), 'BBB/USD', 'momentum').reason).toBe(
        'lower_score_than liquidity/AAA/USD: score 58.000000 < 74.546118',
      );
    });
  });

  it('records every input a DBA needs to recompute the edge', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', rangeDip);
      const liq = find(await rank(c, run), 'AAA/USD', 'liquidity');
      expect(liq.inputs.state).toMatchObject({ mid: 100, best_bid: 99.99, best_ask: 100.01, ret_1m_bps: -300, l3_bid_touch_qty: 10, generation_id: 4242 });
      expect(liq.inputs.policy).toMatchObject({ reversion_weight: 0.5, microprice_weight: 1, fill_horizon_s: 60, adverse_selection_bps: 3, signal_factor: 1 });
      expect(liq.inputs.fees).toEqual({ maker_fee_rate: 0.0025, taker_fee_rate: 0.004, source: 'capital_policy:default', entry: 'maker', exit: 'taker' });
      expect(liq.inputs.gates).toMatchObject({ readiness: 'ready', route_type: 'maker_entry', route_marker: 'ROUTE_FRESHNESS_OK' });
      expect(liq.inputs.derived).toMatchObject({ improved_one_tick: false, queue_ahead_quote: 999.9, touch_wait_s: 5.999 });
    });
  });
});

describe('fees decide: gross edge below the round trip is economically empty', () => {
  it('a taker proposal whose gross edge is 7 bps short of the fees is not selected', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      // move 0.5 x 150 x 1 = 75, gross 73 < fees 80 -> net -7.
      await putState(c, run, 'BBB/USD', { ...trendUp, ret_5m_bps: '150', trend_strength_5m: '1' });
      const mom = find(await rank(c, run), 'BBB/USD', 'momentum');
      expect(mom).toMatchObject({
        gross_edge_bps: '73.000000', fee_bps: '80.000000', net_edge_bps: '-7.000000', selectable: false, selected: false,
        reason: 'net_edge_not_positive: -7.000000 bps = gross 73.000000 - fees 80.000000 - adverse selection 0',
      });
      const top = await selectTop(c, run);
      expect(top).toHaveLength(1);
      expect(top[0]).toMatchObject({ outcome: 'economically_empty', symbol: null, strategy: null, selectable_proposals: 0, proposals: 3 });
      expect(top[0]!.reason).toMatch(/^economically_empty: 3 proposals, 3 with usable data/);
      expect(top[0]!.inputs.reasons).toEqual({ net_edge_not_positive: 1, no_signal: 1, regime_ineligible: 1 });
    });
  });

  it('a gross edge exactly equal to the fees (net 0) is not selected', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'BBB/USD', { ...trendUp, ret_5m_bps: '164', trend_strength_5m: '1' }); // move 82, gross 80
      const mom = find(await rank(c, run), 'BBB/USD', 'momentum');
      expect(mom).toMatchObject({ gross_edge_bps: '80.000000', net_edge_bps: '0.000000', selectable: false });
      expect((await selectTop(c, run))[0]!.outcome).toBe('economically_empty');
    });
  });

  it('reads the fee rates from capital_policy: a cheaper taker fee turns the same proposal positive', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'BBB/USD', { ...trendUp, ret_5m_bps: '150', trend_strength_5m: '1' });
      await c.query(`update capital_policy set taker_fee_rate = 0.0026, maker_fee_rate = 0.0016 where account = 'default'`);
      const mom = find(await rank(c, run), 'BBB/USD', 'momentum');
      // fees (0.0026 + 0.0026) x 10000 = 52; net 73 - 52 = 21.
      expect(mom).toMatchObject({ fee_bps: '52.000000', net_edge_bps: '21.000000', selected: true });
      // A maker entry pays the maker fee on entry and the taker fee on exit: (0.0016 + 0.0026) x 10000 = 42.
      await putState(c, run, 'AAA/USD', rangeDip);
      expect(find(await rank(c, run), 'AAA/USD', 'liquidity')).toMatchObject({ fee_bps: '42.000000', net_edge_bps: '105.000000' });
    });
  });

  it('falls back to the documented 0.25 % / 0.40 % when the account has no capital policy', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', rangeDip);
      const { rows } = await c.query(
        `select fee_bps, net_edge_bps, inputs -> 'fees' ->> 'source' as source
           from strategy__proposals($1, $2::timestamptz, null, 'nobody') where strategy = 'liquidity'`,
        [run, '2026-01-01T12:05:00Z'],
      );
      expect(rows).toEqual([{ fee_bps: '65.000000', net_edge_bps: '82.000000', source: 'built_in_default' }]);
    });
  });
});

describe('strategy__rank: capital room', () => {
  it('sizes only the selectable proposals (counted by the function statistics, not timed)', async () => {
    await db.rollback(async (c) => {
      await c.query(`set local track_functions = 'pl'`);
      const run = newRun();
      for (const sym of ['AAA/USD', 'BBB/USD', 'CCC/USD', 'DDD/USD']) await putState(c, run, sym); // RANGE, no signal
      await putState(c, run, 'EEE/USD', trendUp);
      await putPair(c, run, 'EEE/USD', '0.01');
      const calls = async () => Number((await c.query(
        `select coalesce(pg_stat_get_xact_function_calls('kapitaal.capital__position_size(text, numeric, timestamptz, text)'::regprocedure), 0) n`,
      )).rows[0].n);
      const before = await calls();
      const rows = await rank(c, run);
      const selectable = rows.filter((r) => r.selectable).length;
      expect(rows.length).toBe(15);
      expect(selectable).toBeGreaterThan(0);
      expect(selectable).toBeLessThan(15);
      expect((await calls()) - before).toBe(selectable);
    });
  });


  it('a pair held at its position cap loses to the next best that can be placed, and says why', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', trendUp); // momentum net 78
      await putState(c, run, 'BBB/USD', { ...trendUp, ret_5m_bps: '250' }); // momentum net 18
      await putPair(c, run, 'AAA/USD', '0.01');
      await putPair(c, run, 'BBB/USD', '0.01');
      expect(find(await rank(c, run), 'AAA/USD', 'momentum')).toMatchObject({ rank: 1, selected: true });

      // Hold AAA/USD at its cap (25 % of the fixed 220 = 55 quote).
      const a = await openEntry(c, { runId: run, symbol: 'AAA/USD', qty: '0.55', price: '100', now: ago(60) });
      await fill(c, a, 'CAP-A', '100', '0.55', '0', { filledAt: ago(60) });
      const rows = await rank(c, run);
      expect(find(rows, 'BBB/USD', 'momentum')).toMatchObject({ rank: 1, selected: true, reason: 'selected: best score 18.000000 of 2 selectable proposals' });
      const aaa = find(rows, 'AAA/USD', 'momentum');
      expect(aaa).toMatchObject({ rank: 2, selected: false, selectable: true,
        reason: 'no_capital_room: 0 quote (position_cap_reached) for AAA/USD fails its limits (non_positive; qty_min 0.0001, cost_min 0.5)' });
      expect(aaa.gates).toContain('no_capital_room');
      expect(aaa.inputs.capital_room).toMatchObject({ sizing: 'position_cap_reached', position_room: 0 });
      expect(await selectTop(c, run)).toEqual([expect.objectContaining({ outcome: 'selected', symbol: 'BBB/USD' })]);

      // Dust left below the pair's minimum counts as no room too; with no pair left that can be placed the best one
      // stays selected (the outcome is still candidates) and says why, and placement records NO_ROOM / LIMITS.
      const b = await openEntry(c, { runId: run, symbol: 'BBB/USD', qty: '0.5499', price: '100', now: ago(60) });
      await fill(c, b, 'CAP-B', '100', '0.5499', '0', { filledAt: ago(60) });
      const all = await rank(c, run);
      expect(find(all, 'AAA/USD', 'momentum')).toMatchObject({ rank: 1, selected: true });
      expect(find(all, 'AAA/USD', 'momentum').reason).toMatch(/^no_capital_room: 0 quote \(position_cap_reached\)/);
      expect(find(all, 'BBB/USD', 'momentum').reason)
        .toBe('no_capital_room: 0.01 quote (ok_position_cap) for BBB/USD fails its limits (below_min_qty; qty_min 0.0001, cost_min 0.5)');
    });
  });
});
