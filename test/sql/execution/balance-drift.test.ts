// Balance drift: the exchange's balance snapshots against the fills ledger since a baseline. Buys, sells and
// fees move the expected balances exactly; a fill booked late makes a transient drift vanish; only a drift in
// balance_drift_snapshots consecutive snapshots halts entries (BALANCE_DRIFT); rebaseline starts afresh;
// no snapshot at all (paper) halts nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { T0, at, failing, fill, expectRow, openEntry, openExit, type Q } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

interface Drift {
  asset: string;
  baseline_snapshot_id: string;
  snapshot_id: string;
  baseline_balance: string;
  expected: string;
  actual: string;
  exchange_change: string;
  ledger_change: string;
  drift: string;
  tolerance: string;
  exceeded: boolean;
  exceeded_snapshots: number;
  persistent: boolean;
}
const record = async (q: Q, balances: Record<string, string>, now: string) =>
  (await q.query(`select * from balance__record('default', $1::jsonb, 'test:Balance', $2)`, [JSON.stringify(balances), now])).rows[0]!;
const drift = async (q: Q, now: string) =>
  (await q.query<Drift>(`select * from balance__drift('default', $1)`, [now])).rows;
const byAsset = async (q: Q, now: string) => Object.fromEntries((await drift(q, now)).map((r) => [r.asset, r]));
const halt = async (q: Q, now: string) =>
  (await q.query<{ halted: boolean; reason: string }>(`select halted, reason from capital__entry_halt($1)`, [now])).rows[0]!;

async function buy(q: Q, qty: string, price: string, fee: string, t: string) {
  const o = await openEntry(q, { symbol: 'BTC/USD', qty, price, now: t });
  return (await fill(q, o, `B-${o}`, price, qty, fee, { filledAt: t })).position_id!;
}
async function sell(q: Q, pos: string, qty: string, price: string, fee: string, t: string) {
  const o = await openExit(q, pos, { symbol: 'BTC/USD', qty, price, now: t });
  await fill(q, o, `S-${o}`, price, qty, fee, { filledAt: t });
}

describe('balance__drift', () => {
  it('no snapshot (paper, or a venue without balances): no rows and no halt', async () => {
    await db.rollback(async (c) => {
      await buy(c, '0.1', '100', '0.04', at(10));
      expect(await drift(c, at(20))).toEqual([]);
      expect(await halt(c, at(20))).toEqual({ halted: false, reason: 'no daily loss limit' });
    });
  });

  it('buys and sells with fees move the expected balances exactly: no drift', async () => {
    await db.rollback(async (c) => {
      const base = await record(c, { USD: '1000', BTC: '0', EUR: '5' }, at(0));
      const pos = await buy(c, '0.1', '100', '0.04', at(10)); // USD -10.04, BTC +0.1
      await record(c, { USD: '989.96', BTC: '0.1', EUR: '5' }, at(20));
      await sell(c, pos, '0.05', '120', '0.024', at(30)); // USD +5.976, BTC -0.05
      const last = await record(c, { USD: '995.936', BTC: '0.05', EUR: '5' }, at(40));
      const d = await byAsset(c, at(45));
      expect(Object.keys(d)).toEqual(['BTC', 'EUR', 'USD']);
      expectRow(d.USD!, {
        baseline_snapshot_id: String(base.snapshot_id), snapshot_id: String(last.snapshot_id), baseline_balance: '1000',
        expected: '995.936', actual: '995.936', exchange_change: '-4.064', ledger_change: '-4.064', drift: '0', tolerance: '1',
        exceeded: false, exceeded_snapshots: 0, persistent: false,
      });
      // 0.0001 once plus once per BTC fill (two): each fill may round once
      expectRow(d.BTC!, { expected: '0.05', actual: '0.05', ledger_change: '0.05', drift: '0', tolerance: '0.0003', exceeded: false });
      expectRow(d.EUR!, { exchange_change: '0', ledger_change: '0', drift: '0', exceeded: false });
      // An earlier p_now sees the snapshot of that time and the fills up to it.
      expectRow((await byAsset(c, at(25))).USD!, { expected: '989.96', actual: '989.96', drift: '0' });
    });
  });

  it('tolerance: the larger of the absolute and the relative one', async () => {
    await db.rollback(async (c) => {
      await record(c, { USD: '1000', BTC: '0' }, at(0));
      await record(c, { USD: '1000.9', BTC: '0.0001' }, at(10));
      let d = await byAsset(c, at(10));
      expectRow(d.USD!, { drift: '0.9', tolerance: '1.0009', exceeded: false }); // 0.1 % of 1000.9
      expectRow(d.BTC!, { drift: '0.0001', tolerance: '0.0001', exceeded: false }); // the absolute floor
      await record(c, { USD: '998.9', BTC: '0.00011' }, at(20));
      d = await byAsset(c, at(20));
      expectRow(d.USD!, { drift: '-1.1', tolerance: '1', exceeded: true, exceeded_snapshots: 1, persistent: false });
      expectRow(d.BTC!, { drift: '0.00011', exceeded: true });
      await c.query(`update capital_policy set balance_drift_abs_tolerance = 0.001, balance_drift_rel_tolerance = 0.002`);
      d = await byAsset(c, at(20));
      expectRow(d.USD!, { tolerance: '2', exceeded: false });
      expectRow(d.BTC!, { tolerance: '0.001', exceeded: false });
    });
  });

  it('the absolute tolerance grows by one unit per fill of the asset since the baseline (each fill may round once)', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set balance_drift_rel_tolerance = 0`);
      await record(c, { USD: '1000', BTC: '0' }, at(0));
      const pos = await buy(c, '0.1', '100', '0.04', at(10)); // USD -10.04
      await sell(c, pos, '0.05', '120', '0.024', at(20)); // USD +5.976
      await buy(c, '0.1', '100', '0.04', at(30)); // USD -10.04
      // Three USD fills: tolerance 0.0004. The venue's USD is 0.00035 below the ledger's exact sum: rounding.
      await record(c, { USD: '985.89565', BTC: '0.15' }, at(40));
      expectRow((await byAsset(c, at(40))).USD!, { drift: '-0.00035', tolerance: '0.0004', exceeded: false });
      // 0.00045 is more than three fills can round: a drift.
      await record(c, { USD: '985.89555', BTC: '0.15' }, at(50));
      expectRow((await byAsset(c, at(50))).USD!, { drift: '-0.00045', tolerance: '0.0004', exceeded: true });
    });
  });

  it('a fill the ledger books late is a transient drift: it vanishes from every snapshot once booked', async () => {
    await db.rollback(async (c) => {
      await record(c, { USD: '1000', BTC: '0' }, at(0));
      // The exchange filled a buy at 10 s; fills__poll has not booked it yet.
      await record(c, { USD: '989.96', BTC: '0.1' }, at(20));
      await record(c, { USD: '989.96', BTC: '0.1' }, at(30));
      let d = await byAsset(c, at(30));
      expectRow(d.USD!, { expected: '1000', actual: '989.96', drift: '-10.04', exceeded: true, exceeded_snapshots: 2, persistent: false });
      expectRow(d.BTC!, { drift: '0.1', exceeded_snapshots: 2, persistent: false });
      expect(await halt(c, at(30))).toMatchObject({ halted: false });
      await buy(c, '0.1', '100', '0.04', at(10)); // booked now, with its exchange time
      d = await byAsset(c, at(30));
      expectRow(d.USD!, { drift: '0', exceeded: false, exceeded_snapshots: 0 });
      // A third snapshot would have made it persistent; booked, nothing halts.
      await record(c, { USD: '989.96', BTC: '0.1' }, at(40));
      expect((await drift(c, at(40))).filter((r) => r.exceeded)).toEqual([]);
      expect(await halt(c, at(40))).toMatchObject({ halted: false });
    });
  });

  it('a drift in balance_drift_snapshots consecutive snapshots halts entries; the switch and a rebaseline end it', async () => {
    await db.rollback(async (c) => {
      await record(c, { USD: '1000' }, at(0));
      // Someone bought 0.5 ETH by hand at 5 s: USD -1000 → -500.8, ETH appears.
      await record(c, { USD: '499.2', ETH: '0.5' }, at(10));
      await record(c, { USD: '499.2', ETH: '0.5' }, at(20));
      expect(await halt(c, at(20))).toMatchObject({ halted: false });
      expectRow((await byAsset(c, at(20))).USD!, { exceeded_snapshots: 2, persistent: false });
      await record(c, { USD: '499.2', ETH: '0.5' }, at(30));
      const d = await byAsset(c, at(30));
      expectRow(d.USD!, { expected: '1000', actual: '499.2', drift: '-500.8', exceeded_snapshots: 3, persistent: true });
      expectRow(d.ETH!, { baseline_balance: '0', expected: '0', actual: '0.5', drift: '0.5', persistent: true });
      expect(await halt(c, at(30))).toEqual({
        halted: true,
        reason: 'BALANCE_DRIFT: the exchange balances of account default disagree with the fills ledger in the last 3 balance '
          + 'snapshots: ETH actual 0.5, expected 0 (drift 0.5, tolerance 0.0005); USD actual 499.2, expected 1000 (drift -500.8, '
          + "tolerance 1.000); find the cause, then select * from kapitaal.balance__rebaseline('default') (exits go on)",
      });
      // The kill switch still comes first; with the drift switch off the drift does not halt.
      await c.query(`update capital_policy set entries_enabled = false`);
      expect((await halt(c, at(30))).reason).toMatch(/^ENTRIES_DISABLED/);
      await c.query(`update capital_policy set entries_enabled = true, balance_drift_halt = false`);
      expect(await halt(c, at(30))).toMatchObject({ halted: false });
      await c.query(`update capital_policy set balance_drift_halt = true`);
      // Rebaseline: until the next snapshot there is nothing to compare, then that snapshot is the baseline.
      const rb = (await c.query(`select * from balance__rebaseline('default', 'manual ETH buy, intended', $1)`, [at(35)])).rows[0]!;
      expect(rb.requested_at.toISOString()).toBe(at(35));
      expect(await drift(c, at(36))).toEqual([]);
      expect(await halt(c, at(36))).toMatchObject({ halted: false });
      const next = await record(c, { USD: '499.2', ETH: '0.5' }, at(40));
      const after = await byAsset(c, at(40));
      expectRow(after.USD!, { baseline_snapshot_id: String(next.snapshot_id), baseline_balance: '499.2', drift: '0', exceeded: false });
      expect(await halt(c, at(40))).toMatchObject({ halted: false });
      // Asked at an earlier time, the old baseline still applies (the rebaseline is in the future of p_now).
      expect(await halt(c, at(30))).toMatchObject({ halted: true });
      expect((await c.query(`select requested_by, reason from balance_rebaselines`)).rows)
        .toEqual([{ requested_by: expect.any(String), reason: 'manual ETH buy, intended' }]);
    });
  });

  it('the halt reads the newest snapshot\'s verdict: a fill booked after a persistent drift lifts it at the next snapshot', async () => {
    await db.rollback(async (c) => {
      await record(c, { USD: '1000', BTC: '0' }, at(0));
      for (const t of [10, 20]) await record(c, { USD: '989.96', BTC: '0.1' }, at(t));
      const third = await record(c, { USD: '989.96', BTC: '0.1' }, at(30));
      expect(third).toMatchObject({ persistent: true, reason: expect.stringMatching(/^BALANCE_DRIFT: .*BTC actual 0\.1, expected 0 /) });
      expect((await c.query(`select persistent, exceeded_assets from balance_drift_checks order by snapshot_id`)).rows).toEqual([
        { persistent: false, exceeded_assets: [] }, { persistent: false, exceeded_assets: ['BTC', 'USD'] },
        { persistent: false, exceeded_assets: ['BTC', 'USD'] }, { persistent: true, exceeded_assets: ['BTC', 'USD'] },
      ]);
      expect(await halt(c, at(35))).toMatchObject({ halted: true, reason: third.reason });
      // fills__poll books the missing fill: balance__drift clears at once, the halt with the next snapshot.
      await buy(c, '0.1', '100', '0.04', at(5));
      expect((await drift(c, at(35))).filter((r) => r.exceeded)).toEqual([]);
      expect(await halt(c, at(35))).toMatchObject({ halted: true });
      expect(await record(c, { USD: '989.96', BTC: '0.1' }, at(40))).toMatchObject({ persistent: false, reason: null });
      expect(await halt(c, at(40))).toMatchObject({ halted: false });
    });
  });

  it('persistence is a policy: balance_drift_snapshots = 1 halts on the first drifting snapshot', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set balance_drift_snapshots = 1`);
      await record(c, { USD: '1000' }, at(0));
      await record(c, { USD: '900' }, at(10));
      expect((await halt(c, at(10))).reason).toMatch(/^BALANCE_DRIFT: .* in the last 1 balance snapshots: USD actual 900, expected 1000 \(drift -100, tolerance 1\.000\)/);
    });
  });

  it('balance__record keeps decimal strings only, and the snapshots only grow', async () => {
    await db.rollback(async (c) => {
      expect((await failing(c, `select balance__record('default', '{"USD": 1.5}'::jsonb, 't', $1)`, [T0])).message)
        .toMatch(/no decimal string balance for USD/);
      expect((await failing(c, `select balance__record('default', '["USD"]'::jsonb, 't', $1)`, [T0])).message)
        .toMatch(/must be a JSON object/);
      const s = await record(c, {}, T0); // an empty account is a snapshot too
      expect(s).toEqual({ snapshot_id: expect.any(String), assets: 0, persistent: false, reason: null });
      await record(c, { USD: '1' }, at(1));
      expect((await failing(c, `update balance_snapshot_assets set balance = 2`)).message).toMatch(/append-only/);
      expect((await failing(c, `delete from balance_snapshots`)).message).toMatch(/append-only/);
    });
  });
});
