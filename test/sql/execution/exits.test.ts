// position__exit_decision: every exit kind fires at its threshold and not before; the trailing stop arms
// and remembers its high-water mark; regime exits; no second exit while one is in flight.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { T0, at, failing, fill, openEntry, openExit, positionRow, transition, type Q } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

interface Decision {
  exit: boolean;
  trigger: string | null;
  details: Record<string, unknown> & { fired: string[]; reason: string };
}
const decide = async (q: Q, pos: string, mark: string, regime: string | null = null, now = T0) =>
  (await q.query<Decision>(`select * from position__exit_decision($1, $2::numeric, $3, $4)`, [pos, mark, regime, now])).rows[0]!;

/** A position bought at exactly 100 (avg entry 100) under a policy with only the rules given. */
async function position(q: Q, policy: Record<string, string | boolean | null>, regime: string | null = 'RANGE') {
  const cols = { stop_loss_pct: null, take_profit_pct: null, trailing_arm_pct: null, trailing_retrace_pct: null, max_hold: null,
    exit_regimes: '{}', exit_on_regime_change: false, ...policy };
  await q.query(
    `insert into exit_policy (strategy, stop_loss_pct, take_profit_pct, trailing_arm_pct, trailing_retrace_pct, max_hold,
                              exit_regimes, exit_on_regime_change)
     values ('exit_test', $1, $2, $3, $4, $5::interval, $6::text[], $7)
     on conflict (strategy) do update set stop_loss_pct = excluded.stop_loss_pct, take_profit_pct = excluded.take_profit_pct,
       trailing_arm_pct = excluded.trailing_arm_pct, trailing_retrace_pct = excluded.trailing_retrace_pct,
       max_hold = excluded.max_hold, exit_regimes = excluded.exit_regimes, exit_on_regime_change = excluded.exit_on_regime_change`,
    [cols.stop_loss_pct, cols.take_profit_pct, cols.trailing_arm_pct, cols.trailing_retrace_pct, cols.max_hold, cols.exit_regimes,
      cols.exit_on_regime_change],
  );
  const o = await openEntry(q, { strategy: 'exit_test', qty: '2', price: '100', regime, symbol: 'EX/USD' });
  return (await fill(q, o, `E-${o}`, '100', '2', '0.5', { filledAt: T0 })).position_id!;
}

describe('position__exit_decision', () => {
  it('stop_loss fires at exactly entry * (1 - 2 %) and below, not just above', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { stop_loss_pct: '2' });
      expect(await decide(c, p, '98.00000001')).toMatchObject({ exit: false, trigger: null });
      expect(await decide(c, p, '98')).toMatchObject({ exit: true, trigger: 'stop_loss' });
      expect(await decide(c, p, '97.99999999')).toMatchObject({ exit: true, trigger: 'stop_loss' });
      expect((await decide(c, p, '98')).details).toMatchObject({ stop_loss_price: 98, avg_entry_price: 100, policy: 'exit_test' });
    });
  });

  it('take_profit fires at exactly entry * (1 + 4 %) and above, not just below', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { take_profit_pct: '4' });
      expect(await decide(c, p, '103.99999999')).toMatchObject({ exit: false });
      expect(await decide(c, p, '104')).toMatchObject({ exit: true, trigger: 'take_profit' });
      expect(await decide(c, p, '104.00000001')).toMatchObject({ exit: true, trigger: 'take_profit' });
    });
  });

  it('trailing stop: arms at the arm level, remembers the high water, fires at the retrace', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { trailing_arm_pct: '1.5', trailing_retrace_pct: '0.75' });
      // Below the arm level: a drop never fires a trail.
      expect(await decide(c, p, '101.49999999', null, at(1))).toMatchObject({ exit: false });
      expect(await positionRow(c, p)).toMatchObject({ trail_armed: false, high_water_price: '101.49999999' });
      expect(await decide(c, p, '90', null, at(2))).toMatchObject({ exit: false });
      // At exactly 101.5 it arms (inclusive); the trail is 101.5 * 0.9925 = 100.73875.
      const armed = await decide(c, p, '101.5', null, at(3));
      expect(armed).toMatchObject({ exit: false, details: { trail_armed: true, trail_stop_price: 100.73875 } });
      const row = await positionRow(c, p);
      expect(row).toMatchObject({ trail_armed: true, high_water_price: '101.5' });
      expect(row.trail_armed_at.toISOString()).toBe(at(3));
      // Higher marks raise the high water: 102 → trail 101.235.
      await decide(c, p, '102', null, at(4));
      expect(await decide(c, p, '101.23500001', null, at(5))).toMatchObject({ exit: false });
      expect(await decide(c, p, '101.235', null, at(6))).toMatchObject({ exit: true, trigger: 'trailing_stop' });
      expect(await decide(c, p, '101.2', null, at(7))).toMatchObject({ exit: true, trigger: 'trailing_stop' });
      // Lower marks never lower the high water, and the arming stays.
      expect(await positionRow(c, p)).toMatchObject({ trail_armed: true, high_water_price: '102' });
      expect((await positionRow(c, p)).trail_armed_at.toISOString()).toBe(at(3));
    });
  });

  it('time_stop fires once held for max_hold, not a microsecond before', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { max_hold: '4 hours' });
      expect(await decide(c, p, '100', null, '2026-03-01T15:59:59.999999Z')).toMatchObject({ exit: false });
      expect(await decide(c, p, '100', null, '2026-03-01T16:00:00Z')).toMatchObject({ exit: true, trigger: 'time_stop' });
      expect(await decide(c, p, '100', null, '2026-03-01T17:00:00Z')).toMatchObject({ exit: true, trigger: 'time_stop' });
    });
  });

  it('regime_change fires in an exit regime, and on leaving the entry regime when configured', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { exit_regimes: '{CHAOS,LOW_LIQUIDITY}' }, 'TREND');
      expect(await decide(c, p, '100', 'TREND')).toMatchObject({ exit: false });
      expect(await decide(c, p, '100', 'RANGE')).toMatchObject({ exit: false });
      expect(await decide(c, p, '100', null)).toMatchObject({ exit: false });
      expect(await decide(c, p, '100', 'CHAOS')).toMatchObject({ exit: true, trigger: 'regime_change' });
      expect(await decide(c, p, '100', 'LOW_LIQUIDITY')).toMatchObject({ exit: true, trigger: 'regime_change' });
      await c.query(`update exit_policy set exit_on_regime_change = true where strategy = 'exit_test'`);
      expect(await decide(c, p, '100', 'TREND')).toMatchObject({ exit: false });
      const r = await decide(c, p, '100', 'RANGE');
      expect(r).toMatchObject({ exit: true, trigger: 'regime_change', details: { regime: 'RANGE', entry_regime: 'TREND' } });
    });
  });

  it('reports the highest-priority trigger and lists every rule that fired', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { stop_loss_pct: '2', max_hold: '1 hour', exit_regimes: '{CHAOS}' });
      const d = await decide(c, p, '97', 'CHAOS', at(3600));
      expect(d).toMatchObject({ exit: true, trigger: 'stop_loss' });
      expect(d.details.fired).toEqual(['stop_loss', 'time_stop', 'regime_change']);
    });
  });

  it('uses the default policy for strategies without their own row', async () => {
    await db.rollback(async (c) => {
      const o = await openEntry(c, { strategy: 'momentum', qty: '1', price: '100' });
      const p = (await fill(c, o, `D-${o}`, '100', '1', '0')).position_id!;
      const d = await decide(c, p, '98', 'RANGE');
      expect(d).toMatchObject({ exit: true, trigger: 'stop_loss', details: { policy: 'default' } });
      expect(await decide(c, p, '99', 'CHAOS')).toMatchObject({ exit: true, trigger: 'regime_change' });
    });
  });

  it('does not exit twice: while an exit order is in flight it says so; a closed position holds', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { stop_loss_pct: '2' });
      const x = await openExit(c, p, { strategy: 'exit_test', symbol: 'EX/USD', qty: '2', price: '97' });
      const d = await decide(c, p, '97');
      expect(d).toMatchObject({ exit: false, trigger: null, details: { reason: 'exit_order_in_flight', would_trigger: 'stop_loss' } });
      expect(String(d.details.pending_exit_order_id)).toBe(x);
      await transition(c, x, 'cancelled');
      expect(await decide(c, p, '97')).toMatchObject({ exit: true, trigger: 'stop_loss' });
      const y = await openExit(c, p, { strategy: 'exit_test', symbol: 'EX/USD', qty: '2', price: '97' });
      await fill(c, y, `X-${y}`, '97', '2', '0.5');
      expect(await decide(c, p, '50')).toMatchObject({ exit: false, details: { reason: 'position_closed' } });
    });
  });

  it('an exit the exchange cancelled after a partial fill the ledger has not booked yet stays in flight: no second exit', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { stop_loss_pct: '2' });
      const x = await openExit(c, p, { strategy: 'exit_test', symbol: 'EX/USD', qty: '2', price: '97' });
      const apply = async (qtyExec: string) => (await c.query(
        `select to_status, changed, note from order__apply_exchange_state($1, 'cancelled', null, $2::jsonb, $3)`,
        [x, JSON.stringify({ qty_exec: qtyExec }), T0])).rows[0];
      // Kraken sold 1.5 of 2 and cancelled the rest; TradesHistory does not list the trade yet.
      expect(await apply('1.5')).toEqual({
        to_status: 'open', changed: false,
        note: 'exchange reports cancelled with 1.5 executed, 0 booked here: final once its fills are booked (fills__poll)',
      });
      expect(await decide(c, p, '97')).toMatchObject({ exit: false, details: { reason: 'exit_order_in_flight' } });
      // The fill is booked: the cancel is final, and the next exit is for what is left (0.5).
      await fill(c, x, `X-${x}`, '97', '1.5', '0.3');
      expect(await apply('1.5')).toMatchObject({ to_status: 'cancelled', changed: true });
      expect(await decide(c, p, '97')).toMatchObject({ exit: true, trigger: 'stop_loss', details: { qty: 0.5 } });
    });
  });

  it('refuses a missing or non-positive mark', async () => {
    await db.rollback(async (c) => {
      const p = await position(c, { stop_loss_pct: '2' });
      expect((await failing(c, `select * from position__exit_decision($1, 0)`, [p])).message).toMatch(/mark price must be positive/);
      expect((await failing(c, `select * from position__exit_decision($1, null)`, [p])).message).toMatch(/mark price must be positive/);
    });
  });
});
