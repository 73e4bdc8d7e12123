// Fills ledger and positions: replays are harmless, orders and positions follow the fills, realised P&L is
// exactly fills minus fees, and the incremental positions equal the from-scratch recomputation.
import Decimal from 'decimal.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { backendPid, waitUntilBlocked } from '../../support/locks.ts';
import { T0, at, cid, failing, fill, intent, openEntry, openExit, orderRow, positionRow, transition, type Q } from './helpers.ts';

const D = Decimal.clone({ precision: 80 });
type D = Decimal;

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

describe('order__record_fill', () => {
  it('books a fill, updates the order and opens a position', async () => {
    await db.rollback(async (c) => {
      const o = await openEntry(c, { qty: '0.5', price: '64000.1', regime: 'TREND', runId: 9 });
      const f = await fill(c, o, 'T-1', '64000.1', '0.2', '0.0512', { liquidity: 'maker', filledAt: at(5), now: at(6) });
      expect(f).toMatchObject({ is_new: true, order_status: 'partially_filled' });
      const ord = await orderRow(c, o);
      expect(ord).toMatchObject({ filled_qty: '0.2', filled_quote: '12800.02', fees: '0.0512', position_id: f.position_id });
      const p = await positionRow(c, f.position_id!);
      expect(p).toMatchObject({
        qty: '0.2', cost_basis: '12800.02', entry_fees_open: '0.0512', fees: '0.0512', realised_pnl: '0',
        entry_order_id: o, entry_regime: 'TREND', opened_run_id: '9', closed_at: null, high_water_price: '64000.1',
      });
      expect(p.opened_at.toISOString()).toBe(at(5));
      const f2 = await fill(c, o, 'T-2', '64000.0', '0.3', '0.0768', { filledAt: at(7) });
      expect(f2).toMatchObject({ is_new: true, order_status: 'filled', position_id: f.position_id });
      expect(await orderRow(c, o)).toMatchObject({ status: 'filled', filled_qty: '0.5', filled_quote: '32000.02' });
      expect(new D((await orderRow(c, o)).avg_fill_price).equals(new D('32000.02').div('0.5'))).toBe(true);
      expect(await positionRow(c, f.position_id!)).toMatchObject({ qty: '0.5', cost_basis: '32000.02', bought_qty: '0.5' });
      const ev = await c.query(`select from_status, to_status from order_events where order_id = $1 order by event_id`, [o]);
      expect(ev.rows.map((e) => e.to_status)).toEqual(['new', 'submitting', 'open', 'partially_filled', 'filled']);
    });
  });

  it('a replayed fill changes nothing and says so', async () => {
    await db.rollback(async (c) => {
      const o = await openEntry(c, { qty: '2' });
      const first = await fill(c, o, 'R-1', '100', '1', '0.26');
      const snapshot = async () => ({
        order: await orderRow(c, o),
        pos: await positionRow(c, first.position_id!),
        fills: (await c.query(`select * from fills where order_id = $1`, [o])).rows,
        events: (await c.query(`select * from order_events where order_id = $1`, [o])).rows,
      });
      const before = await snapshot();
      const again = await fill(c, o, 'R-1', '100', '1', '0.26', { now: at(100) });
      expect(again).toEqual({ ...first, is_new: false });
      expect(await snapshot()).toEqual(before);
      // The same trade id on another exchange is another trade.
      expect((await fill(c, o, 'R-1', '100', '1', '0.26', { exchange: 'paper' })).is_new).toBe(true);
      // The same trade id with other terms is a conflict, never silently merged.
      expect((await failing(c, `select * from order__record_fill($1, 'sim', 'R-1', 101, 1, 0.26, 'taker', $2)`, [o, T0])).message)
        .toMatch(/already booked/);
    });
  });

  it('refuses overfills and fills of orders never sent', async () => {
    await db.rollback(async (c) => {
      const o = await openEntry(c, { qty: '1' });
      await fill(c, o, 'O-1', '100', '0.6', '0');
      expect((await failing(c, `select * from order__record_fill($1, 'sim', 'O-2', 100, 0.5, 0, 'taker', $2)`, [o, T0])).message)
        .toMatch(/would overfill order .* \(0\.6 \+ 0\.5 > 1\)/);
      const n = await intent(c);
      expect((await failing(c, `select * from order__record_fill($1, 'sim', 'O-3', 100, 0.5, 0, 'taker', $2)`, [n.order_id, T0])).message)
        .toMatch(/is new, it cannot have fills/);
      expect((await failing(c, `select * from order__record_fill($1, 'sim', 'O-4', 100, 0, 0, 'taker', $2)`, [o, T0])).message)
        .toMatch(/must be positive/);
      expect((await c.query(`select count(*)::int as n from fills where order_id = any($1)`, [[o, n.order_id]])).rows[0].n).toBe(1);
    });
  });

  it('books a late fill of a cancelled order without reviving it', async () => {
    await db.rollback(async (c) => {
      const o = await openEntry(c, { qty: '1' });
      await fill(c, o, 'L-1', '100', '0.4', '0.1');
      await transition(c, o, 'cancelled', null, at(10));
      const late = await fill(c, o, 'L-2', '100', '0.1', '0.025', { filledAt: at(9), now: at(11) });
      expect(late).toMatchObject({ is_new: true, order_status: 'cancelled' });
      expect(await orderRow(c, o)).toMatchObject({ status: 'cancelled', filled_qty: '0.5' });
      expect((await positionRow(c, late.position_id!)).qty).toBe('0.5');
    });
  });

  it('realises P&L with the fees of both legs, exactly, and closes the position', async () => {
    await db.rollback(async (c) => {
      const buy = await openEntry(c, { qty: '3', price: '10.01' });
      await fill(c, buy, 'P-1', '10.01', '1', '0.025025', { filledAt: at(1) });
      const pos = (await fill(c, buy, 'P-2', '9.99', '2', '0.04995', { filledAt: at(2) })).position_id!;
      // avg cost = (10.01 + 19.98) / 3 = 9.99666…; entry fees 0.074975.
      const sell = await openExit(c, pos, { qty: '3', price: '10.5' });
      const s1 = await fill(c, sell, 'P-3', '10.5', '1', '0.042', { filledAt: at(3) });
      expect(s1.order_status).toBe('partially_filled');
      const mid = await positionRow(c, pos);
      const cost = new D('29.99');
      const expMid = new D('10.5').minus(cost.mul(1).div(3)).minus(new D('0.074975').mul(1).div(3)).minus('0.042');
      expect(new D(mid.realised_pnl).minus(expMid).abs().lt('1e-15')).toBe(true);
      expect(mid.closed_at).toBeNull();
      await fill(c, sell, 'P-4', '10.6', '2', '0.0848', { filledAt: at(4) });
      const p = await positionRow(c, pos);
      // Proceeds 31.7 - cost 29.99 - fees (0.074975 + 0.1268) = 1.508225, to the last decimal.
      expect(p).toMatchObject({ qty: '0', realised_pnl: '1.508225', cost_basis: '0', entry_fees_open: '0', fees: '0.201775' });
      expect(new D(p.realised_pnl).equals(new D(p.sold_quote).minus(p.bought_quote).minus(p.fees))).toBe(true);
      expect(p.closed_at.toISOString()).toBe(at(4));
      expect((await orderRow(c, sell)).status).toBe('filled');
      // A new buy opens a new position.
      const again = await openEntry(c, { qty: '1', price: '10' });
      const np = (await fill(c, again, 'P-5', '10', '1', '0', { filledAt: at(5) })).position_id!;
      expect(np).not.toBe(pos);
      expect((await c.query(`select * from positions__verify()`)).rows).toEqual([]);
    });
  });

  it('books a late sell of a closed position as unmatched cash', async () => {
    await db.rollback(async (c) => {
      const buy = await openEntry(c, { qty: '1', strategy: 'volume' });
      const pos = (await fill(c, buy, 'U-1', '100', '1', '0.25')).position_id!;
      // Exit 1 is cancelled (we believe), exit 2 closes the position ...
      const e1 = await openExit(c, pos, { qty: '1', strategy: 'volume', price: '110' });
      await transition(c, e1, 'cancelled', null, at(1));
      const e2 = await openExit(c, pos, { qty: '1', strategy: 'volume', price: '105' });
      await fill(c, e2, 'U-2', '105', '1', '0.42', { filledAt: at(2) });
      expect((await positionRow(c, pos)).closed_at).not.toBeNull();
      // ... and then a fill of exit 1 arrives: the cancel raced with a trade on the exchange.
      const late = await fill(c, e1, 'U-3', '110', '0.4', '0.176', { filledAt: at(1) });
      expect(late).toMatchObject({ is_new: true, order_status: 'cancelled', position_id: null });
      const f = (await c.query(`select unmatched_qty, position_id from fills where exchange_trade_id = 'U-3'`)).rows[0];
      expect(f).toEqual({ unmatched_qty: '0.4', position_id: null });
      const p = await positionRow(c, pos);
      expect(p).toMatchObject({ realised_pnl: '4.33', sold_qty: '1' }); // 105 - 100 - 0.25 - 0.42
      expect((await c.query(`select * from positions__verify()`)).rows).toEqual([]);
    });
  });

  it('serialises two concurrent bookings of the same trade: one is new, the other a replay', async () => {
    const o = await openEntry(db.pool, { qty: '1', clientOrderId: cid('cf'), symbol: 'CF/USD' });
    const a = await db.client();
    const b = await db.client();
    const pidB = await backendPid(b);
    await a.query('begin');
    const fa = await fill(a, o, 'C-1', '50', '1', '0.1');
    await b.query('begin');
    const pending = fill(b, o, 'C-1', '50', '1', '0.1');
    await waitUntilBlocked(db.pool, pidB);
    await a.query('commit');
    const fb = await pending;
    await b.query('commit');
    expect(fa.is_new).toBe(true);
    expect(fb).toEqual({ ...fa, is_new: false });
    expect((await orderRow(db.pool, o)).filled_qty).toBe('1');
  });

  it('two orders of one key filling at once open one position, not two', async () => {
    const key = { symbol: 'KEY/USD', strategy: 'volume', qty: '1' };
    const o1 = await openEntry(db.pool, { ...key, clientOrderId: cid('k1') });
    const o2 = await openEntry(db.pool, { ...key, clientOrderId: cid('k2') });
    const a = await db.client();
    const b = await db.client();
    const pidB = await backendPid(b);
    await a.query('begin');
    const fa = await fill(a, o1, 'K-1', '10', '1', '0');
    await b.query('begin');
    const pending = fill(b, o2, 'K-2', '11', '1', '0'); // waits for the position key lock
    await waitUntilBlocked(db.pool, pidB);
    await a.query('commit');
    const fb = await pending;
    await b.query('commit');
    expect(fb.position_id).toBe(fa.position_id);
    const p = await positionRow(db.pool, fa.position_id!);
    expect(p).toMatchObject({ qty: '2', cost_basis: '21', avg_entry_price: '10.5', entry_order_id: o1 });
    expect((await db.pool.query(`select * from positions__verify()`)).rows).toEqual([]);
  });

  it('keeps fills append-only', async () => {
    await db.rollback(async (c) => {
      const o = await openEntry(c);
      await fill(c, o, 'A-1', '100', '1', '0');
      for (const sql of [`update fills set fee = 0 where order_id = ${o}`, `delete from fills where order_id = ${o}`]) {
        expect((await failing(c, sql)).message).toMatch(/fills is append-only/);
      }
    });
  });
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('positions from many random fills', () => {
  it('incremental positions equal the recomputation, and P&L equals fills minus fees exactly', async () => {
    const r = rng(20260301);
    const dec = (min: number, max: number, places: number) => new D(min + r() * (max - min)).toDecimalPlaces(places, D.ROUND_DOWN);
    const pick = <T,>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
    await db.rollback(async (c) => {
      const account = 'random';
      await c.query(`insert into capital_policy (account) values ($1)`, [account]);
      const keys = [
        { symbol: 'BTC/USD', strategy: 'momentum' },
        { symbol: 'BTC/USD', strategy: 'liquidity' },
        { symbol: 'ETH/EUR', strategy: 'momentum' },
      ];
      const booked: { order: string; trade: string; price: string; qty: string; fee: string }[] = [];
      let trade = 0;
      let t = 0;
      let replays = 0;
      const book = async (order: string, price: D, qty: D) => {
        const fee = price.mul(qty).mul(pick(['0.0025', '0.004', '0'])).toDecimalPlaces(pick([4, 8, 10]), D.ROUND_HALF_UP);
        const f = { order, trade: `RND-${++trade}`, price: price.toString(), qty: qty.toString(), fee: fee.toString() };
        const res = await fill(c, order, f.trade, f.price, f.qty, f.fee, { filledAt: at(++t) });
        expect(res.is_new).toBe(true);
        booked.push(f);
        if (r() < 0.3) {
          const old = pick(booked);
          expect((await fill(c, old.order, old.trade, old.price, old.qty, old.fee, { filledAt: at(t) })).is_new).toBe(false);
          replays++;
        }
      };
      for (let step = 0; step < 160; step++) {
        const k = pick(keys);
        const open = (
          await c.query(`select position_id, qty from positions where account = $1 and symbol = $2 and strategy = $3 and closed_at is null`, [
            account, k.symbol, k.strategy,
          ])
        ).rows[0];
        const price = dec(50, 150, pick([0, 2, 5]));
        if (open && r() < 0.5) {
          const all = r() < 0.4;
          let qty = all ? new D(open.qty) : new D(open.qty).mul(r()).toDecimalPlaces(8, D.ROUND_DOWN);
          if (qty.lte(0)) qty = new D(open.qty);
          const o = await openExit(c, open.position_id, { ...k, account, qty: qty.toString(), price: price.toString(), clientOrderId: cid('rx') });
          const parts = pick([1, 1, 2, 3]);
          let left = qty;
          for (let i = 0; i < parts && left.gt(0); i++) {
            const q = i === parts - 1 ? left : left.mul(r()).toDecimalPlaces(8, D.ROUND_DOWN);
            if (q.lte(0)) continue;
            await book(o, price.plus(dec(-1, 1, 2)).abs().plus('0.01'), q);
            left = left.minus(q);
          }
          if (left.gt(0)) await transition(c, o, 'cancelled', null, at(++t));
        } else {
          const qty = dec(0.0001, 3, 8);
          const o = await openEntry(c, { ...k, account, qty: qty.toString(), price: price.toString(), clientOrderId: cid('rb') });
          const parts = pick([1, 2, 3]);
          let left = qty;
          for (let i = 0; i < parts && left.gt(0); i++) {
            const q = i === parts - 1 && r() < 0.8 ? left : left.mul(r()).toDecimalPlaces(8, D.ROUND_DOWN);
            if (q.lte(0)) continue;
            await book(o, price.minus(dec(0, 1, 2)).plus('0.01'), q);
            left = left.minus(q);
          }
          if (left.gt(0)) await transition(c, o, 'expired', null, at(++t));
        }
      }
      expect(replays).toBeGreaterThan(20);

      // 1. The oracle agrees with the incremental table, value for value.
      expect((await c.query(`select * from positions__verify($1)`, [account])).rows).toEqual([]);
      const counts = await c.query(
        `select (select count(*)::int from positions where account = $1) as kept,
                (select count(*)::int from positions__recompute($1)) as derived,
                (select count(*)::int from positions where account = $1 and closed_at is not null) as closed`,
        [account],
      );
      expect(counts.rows[0].kept).toBe(counts.rows[0].derived);
      expect(counts.rows[0].closed).toBeGreaterThan(5);

      // 2. Independently of the SQL arithmetic: per position, fills minus fees.
      const fills = (await c.query(`select * from fills where account = $1 order by fill_id`, [account])).rows;
      expect(fills).toHaveLength(booked.length);
      const positions = (await c.query(`select * from positions where account = $1`, [account])).rows;
      for (const p of positions) {
        const mine = fills.filter((f) => f.position_id === p.position_id);
        const sum = (side: string, fn: (f: (typeof fills)[number]) => D) =>
          mine.filter((f) => f.side === side).reduce((a, f) => a.plus(fn(f)), new D(0));
        const bought = sum('buy', (f) => new D(f.price).mul(f.qty));
        const sold = sum('sell', (f) => new D(f.price).mul(new D(f.qty).minus(f.unmatched_qty)));
        const fees = mine.reduce((a, f) => a.plus(f.fee), new D(0));
        const qty = sum('buy', (f) => new D(f.qty)).minus(sum('sell', (f) => new D(f.qty).minus(f.unmatched_qty)));
        expect(new D(p.qty).equals(qty)).toBe(true);
        expect(new D(p.bought_quote).equals(bought)).toBe(true);
        expect(new D(p.sold_quote).equals(sold)).toBe(true);
        expect(new D(p.fees).equals(fees)).toBe(true);
        if (p.closed_at !== null) {
          // Exact: realised P&L of a closed position is proceeds - cost - all fees, to the last decimal.
          expect(new D(p.realised_pnl).toString()).toBe(sold.minus(bought).minus(fees).toString());
        } else {
          // Open: realised + open cost + open entry fees account for everything paid so far.
          expect(new D(p.realised_pnl).minus(p.cost_basis).minus(p.entry_fees_open).equals(sold.minus(bought).minus(fees))).toBe(true);
        }
      }
      // 3. Orders carry the sum of their fills.
      const bad = await c.query(
        `select o.order_id from orders o left join fills f on f.order_id = o.order_id where o.account = $1
          group by o.order_id having o.filled_qty <> coalesce(sum(f.qty), 0) or o.fees <> coalesce(sum(f.fee), 0)`,
        [account],
      );
      expect(bad.rows).toEqual([]);

      // 4. The check can fail: a corrupted position is reported.
      await c.query(`alter table positions disable trigger all`);
      await c.query(`update positions set realised_pnl = realised_pnl + 0.0000000001
                      where position_id = (select min(position_id) from positions where account = $1)`, [account]);
      const diff = (await c.query(`select source from positions__verify($1) order by source`, [account])).rows;
      expect(diff.map((d) => d.source)).toEqual(['positions_only', 'recomputed_only']);
    });
  });
});
