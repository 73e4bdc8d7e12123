// Capital: snapshots value positions at market, allocated_quote follows the open positions, sizing obeys the
// per-position and total caps, and compounding sizes grow and shrink with equity.
import Decimal from 'decimal.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { T0, at, failing, fill, expectRow, openEntry, openExit, type Q } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

interface Size {
  quote_size: string;
  qty: string;
  mode: string;
  equity_basis: string | null;
  allocated_quote: string;
  reserved_quote: string;
  symbol_exposure: string;
  position_room: string | null;
  total_room: string | null;
  reason: string;
}
const size = async (q: Q, symbol: string, price: string, now = T0, account = 'default') =>
  (await q.query<Size>(`select * from capital__position_size($1, $2::numeric, $3, $4)`, [symbol, price, now, account])).rows[0]!;
const snapshot = async (q: Q, marks: object, now = T0, cash: string | null = null) =>
  (await q.query(`select * from capital__snapshot($1::jsonb, $2::numeric, $3)`, [JSON.stringify(marks), cash, now])).rows[0]!;
const num = (s: string | null) => new Decimal(s ?? 'NaN');

/** Buys qty at price (one fill, given fee) and returns the position id. */
async function buy(q: Q, symbol: string, qty: string, price: string, fee = '0', now = T0) {
  const o = await openEntry(q, { symbol, qty, price, now });
  return (await fill(q, o, `B-${o}`, price, qty, fee, { filledAt: now })).position_id!;
}
async function sell(q: Q, symbol: string, pos: string, qty: string, price: string, fee = '0', now = T0) {
  const o = await openExit(q, pos, { symbol, qty, price, now });
  await fill(q, o, `S-${o}`, price, qty, fee, { filledAt: now });
}

describe('capital_policy', () => {
  it('has documented defaults: fixed 220, maker 0.25 %, taker 0.40 %', async () => {
    const { rows } = await db.pool.query(`select * from capital_policy where account = 'default'`);
    expectRow(rows[0], {
      mode: 'fixed', fixed_equity: '220', initial_cash: '220', max_position_pct: '25', max_total_exposure_pct: '90',
      maker_fee_rate: '0.0025', taker_fee_rate: '0.0040', max_position_quote: null,
    })
  });
});

describe('capital__snapshot', () => {
  it('values cash plus positions at market; allocated_quote follows the open positions', async () => {
    await db.rollback(async (c) => {
      const empty = await snapshot(c, {});
      expectRow(empty, { cash: '220', positions_value: '0', equity: '220', allocated_quote: '0', cash_source: 'ledger', open_positions: 0 })
      const pos = await buy(c, 'BTC/USD', '0.5', '100', '0.125');
      const s1 = await snapshot(c, { 'BTC/USD': '110' }, at(1));
      // cash 220 - 50 - 0.125; positions 0.5 * 110 = 55.
      expectRow(s1, { cash: '169.875', positions_value: '55.0', equity: '224.875', allocated_quote: '50.0', unrealised_pnl: '4.875' })
      await sell(c, 'BTC/USD', pos, '0.2', '120', '0.06');
      const s2 = await snapshot(c, { 'BTC/USD': '120' }, at(2));
      expect(num(s2.allocated_quote).equals(30)).toBe(true);
      await sell(c, 'BTC/USD', pos, '0.3', '90', '0.0675');
      const s3 = await snapshot(c, { 'BTC/USD': '1' }, at(3));
      expect(num(s3.allocated_quote).equals(0)).toBe(true);
      expect(s3.open_positions).toBe(0);
      // Ledger cash: 220 - 50.125 + (24 - 0.06) + (27 - 0.0675).
      expect(num(s3.cash).equals('220.7475')).toBe(true);
      expect(num(s3.realised_pnl_total).equals('0.7475')).toBe(true);
    });
  });

  it('equity = initial cash + realised + unrealised, exactly', async () => {
    await db.rollback(async (c) => {
      const a = await buy(c, 'BTC/USD', '0.123', '101.37', '0.03117127');
      await buy(c, 'ETH/USD', '1.7', '33.331', '0.1416567');
      await sell(c, 'BTC/USD', a, '0.05', '99.1', '0.0198');
      await buy(c, 'BTC/USD', '0.01', '97.5', '0.0039');
      const s = await snapshot(c, { 'BTC/USD': '98.765', 'ETH/USD': 34 }, at(5));
      expect(num(s.equity).equals(num(s.cash).plus(s.positions_value))).toBe(true);
      expect(num(s.equity).equals(num('220').plus(s.realised_pnl_total).plus(s.unrealised_pnl))).toBe(true);
      const view = (await c.query(`select symbol, mark_price, unrealised_pnl from open_positions order by symbol`)).rows;
      expect(view.map((v) => v.mark_price)).toEqual(['98.765', '34']);
      const sum = view.reduce((x, v) => x.plus(v.unrealised_pnl), new Decimal(0));
      expect(sum.equals(num(s.unrealised_pnl))).toBe(true);
    });
  });

  it('refuses to value a position without a mark, and takes an exchange balance as cash', async () => {
    await db.rollback(async (c) => {
      await buy(c, 'BTC/USD', '1', '100');
      expect((await failing(c, `select capital__snapshot('{"ETH/USD": 1}'::jsonb)`)).message).toMatch(/no valid positive mark price .* BTC\/USD/);
      expect((await failing(c, `select capital__snapshot('{"BTC/USD": -1}'::jsonb)`)).message).toMatch(/BTC\/USD/);
      const s = await snapshot(c, { 'BTC/USD': '100' }, T0, '500');
      expectRow(s, { cash: '500', cash_source: 'exchange', equity: '600' })
    });
  });
});

describe('capital__position_size', () => {
  it('fixed mode sizes from fixed_equity and caps per position', async () => {
    await db.rollback(async (c) => {
      const s = await size(c, 'BTC/USD', '200');
      expectRow(s, { mode: 'fixed', equity_basis: '220', reason: 'ok_position_cap' })
      expect(num(s.quote_size).equals(55)).toBe(true);
      expect(num(s.qty).equals(0.275)).toBe(true);
      await c.query(`update capital_policy set max_position_quote = 20 where account = 'default'`);
      expect(num((await size(c, 'BTC/USD', '200')).quote_size).equals(20)).toBe(true);
    });
  });

  it('subtracts open positions and working entry orders, and returns 0 with a reason when there is no room', async () => {
    await db.rollback(async (c) => {
      await buy(c, 'BTC/USD', '0.5', '100'); // 50 allocated in BTC
      let s = await size(c, 'BTC/USD', '100');
      expectRow(s, { allocated_quote: '50.0', symbol_exposure: '50.0', reason: 'ok_position_cap' })
      expect(num(s.quote_size).equals(5)).toBe(true);
      await openEntry(c, { symbol: 'ETH/USD', qty: '0.3', price: '100' }); // 30 reserved in ETH
      s = await size(c, 'ETH/USD', '100');
      expect(num(s.reserved_quote).equals(30)).toBe(true);
      expect(num(s.quote_size).equals(25)).toBe(true);
      await buy(c, 'BTC/USD', '0.05', '100'); // BTC now at its 55 cap
      const full = await size(c, 'BTC/USD', '100');
      expectRow(full, { quote_size: '0', qty: '0', reason: 'position_cap_reached' });
      await c.query(`update capital_policy set max_total_exposure_pct = 30 where account = 'default'`); // 66 total
      const t = await size(c, 'XRP/USD', '1');
      expectRow(t, { quote_size: '0', reason: 'total_cap_reached' }) // 55 + 30 > 66
      await c.query(`update capital_policy set max_total_exposure_pct = 40 where account = 'default'`); // 88 total
      const u = await size(c, 'XRP/USD', '1');
      expect(u.reason).toBe('ok_total_cap');
      expect(num(u.quote_size).equals(3)).toBe(true);
      expect(num(await size(c, 'XRP/USD', '0').then((x) => x.quote_size)).equals(0)).toBe(true);
      expect((await size(c, 'XRP/USD', '0')).reason).toBe('non_positive_price');
    });
  });

  it('never lets allocated + reserved + new exceed either cap', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set max_position_pct = 30, max_total_exposure_pct = 70 where account = 'default'`);
      const symbols = ['A/USD', 'B/USD', 'C/USD', 'D/USD'];
      for (let i = 0; i < 12; i++) {
        const sym = symbols[i % symbols.length]!;
        const s = await size(c, sym, '10');
        const pos = new Decimal(220).mul(30).div(100);
        const tot = new Decimal(220).mul(70).div(100);
        expect(num(s.quote_size).plus(s.symbol_exposure).lte(pos)).toBe(true);
        expect(num(s.quote_size).plus(s.allocated_quote).plus(s.reserved_quote).lte(tot)).toBe(true);
        const qty = num(s.qty).mul(0.6).toDecimalPlaces(4, Decimal.ROUND_DOWN);
        if (qty.gt(0)) await buy(c, sym, qty.toString(), '10');
      }
      const last = await size(c, 'E/USD', '10');
      expect(num(last.allocated_quote).lte(154)).toBe(true);
    });
  });

  it('compounding sizes from fresh equity: it grows with profit and shrinks with loss', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set mode = 'compounding' where account = 'default'`);
      expect(await size(c, 'BTC/USD', '100')).toMatchObject({ quote_size: '0', reason: 'no_fresh_capital_snapshot' });
      await snapshot(c, {}, T0);
      const base = await size(c, 'BTC/USD', '100', at(10));
      expect(base).toMatchObject({ mode: 'compounding', equity_basis: '220' });
      expect(num(base.quote_size).equals(55)).toBe(true);

      const win = await buy(c, 'ETH/USD', '1', '100', '0.25', at(20));
      await sell(c, 'ETH/USD', win, '1', '140.5', '0.5620', at(21));
      await snapshot(c, {}, at(22));
      const up = await size(c, 'BTC/USD', '100', at(23));
      expect(num(up.equity_basis).equals('259.688')).toBe(true); // 220 + 40.5 - 0.25 - 0.562
      expect(num(up.quote_size).equals(num('259.688').mul(0.25))).toBe(true);

      const loss = await buy(c, 'ETH/USD', '1', '100', '0', at(30));
      await sell(c, 'ETH/USD', loss, '1', '20', '0', at(31));
      await snapshot(c, {}, at(32));
      const down = await size(c, 'BTC/USD', '100', at(33));
      expect(num(down.equity_basis).equals('179.688')).toBe(true);
      expect(num(down.quote_size).lt(num(base.quote_size))).toBe(true);

      // Unrealised P&L counts too, through the marks.
      await buy(c, 'SOL/USD', '1', '10', '0', at(40));
      await snapshot(c, { 'SOL/USD': '30' }, at(41));
      expect(num((await size(c, 'BTC/USD', '100', at(41))).equity_basis).equals('199.688')).toBe(true);

      // Fixed mode ignores all of it.
      await c.query(`update capital_policy set mode = 'fixed' where account = 'default'`);
      expect((await size(c, 'BTC/USD', '100', at(41))).equity_basis).toBe('220');
    });
  });

  it('compounding refuses a stale snapshot; the max age itself is still fresh', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set mode = 'compounding' where account = 'default'`);
      await snapshot(c, {}, T0);
      expect((await size(c, 'BTC/USD', '100', at(60))).reason).toBe('ok_position_cap');
      expect((await size(c, 'BTC/USD', '100', at(60.001))).reason).toBe('no_fresh_capital_snapshot');
      // A snapshot from the future (clock skew) is not used either.
      expect((await size(c, 'BTC/USD', '100', at(-1))).reason).toBe('no_fresh_capital_snapshot');
    });
  });
});

describe('capital__snapshot_from_state (the runtime snapshot task)', () => {
  interface Taken { taken: boolean; snapshot_id: string | null; equity: string | null; open_positions: number | null; reason: string }
  const take = async (q: Q, now = T0, maxAge = '30 seconds') =>
    (await q.query<Taken>(`select * from capital__snapshot_from_state($1, 'default', $2::interval)`, [now, maxAge])).rows[0]!;
  const putMid = (q: Q, symbol: string, mid: string | null, refreshedAt: string, runId = 900_001) =>
    q.query(`insert into run_symbol_state (run_id, symbol, generation_id, refreshed_at, mid) values ($1, $2, 1, $3, $4::numeric)
             on conflict (run_id, symbol) do update set mid = excluded.mid, refreshed_at = excluded.refreshed_at`,
      [runId, symbol, refreshedAt, mid]);

  it('marks open positions at the newest state mid, and compounding then sizes from it', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set mode = 'compounding' where account = 'default'`);
      expect(await take(c)).toMatchObject({ taken: true, equity: '220', open_positions: 0 });
      await buy(c, 'BTC/USD', '0.5', '100', '0', at(1));
      await putMid(c, 'BTC/USD', '90', at(1), 900_001);
      await putMid(c, 'BTC/USD', '130', at(2), 900_002); // a newer run's state wins
      const t = await take(c, at(3));
      expect(t).toMatchObject({ taken: true, open_positions: 1 });
      expect(num(t.equity).equals(220 - 50 + 65)).toBe(true);
      const row = (await c.query(`select marks, cash_source from capital_snapshots where snapshot_id = $1`, [t.snapshot_id])).rows[0];
      expect(row).toEqual({ marks: { 'BTC/USD': '130' }, cash_source: 'ledger' });
      expect(num((await size(c, 'ETH/USD', '10', at(4))).equity_basis).equals(235)).toBe(true);
    });
  });

  it('takes none when a position has no mid or only a stale one, and says which', async () => {
    await db.rollback(async (c) => {
      await buy(c, 'BTC/USD', '0.5', '100', '0', at(1));
      await buy(c, 'ETH/USD', '1', '10', '0', at(1));
      await putMid(c, 'BTC/USD', '100', at(0));
      const before = (await c.query(`select count(*)::int n from capital_snapshots`)).rows[0].n;
      expect(await take(c, at(30))).toMatchObject({ taken: false, reason: 'NO_FRESH_MARK: ETH/USD (no mid); marks must be at most 00:00:30 old' });
      await putMid(c, 'ETH/USD', '11', at(30));
      // 30 s old is still fresh; 31 s is not.
      expect(await take(c, at(30))).toMatchObject({ taken: true });
      expect(await take(c, at(31))).toMatchObject({
        taken: false, reason: 'NO_FRESH_MARK: BTC/USD (state 00:00:31 old); marks must be at most 00:00:30 old',
      });
      expect((await c.query(`select count(*)::int n from capital_snapshots`)).rows[0].n).toBe(before + 1);
    });
  });
});

describe('capital__entry_halt (kill switch, daily loss limit)', () => {
  interface Halt { halted: boolean; reason: string; day_start_equity: string | null; equity: string | null; day_loss_pct: string | null }
  const halt = async (q: Q, now: string) => (await q.query<Halt>(`select * from capital__entry_halt($1)`, [now])).rows[0]!;
  const snap = (q: Q, equity: string, now: string) => q.query(`select capital__snapshot('{}'::jsonb, $1::numeric, $2)`, [equity, now]);

  it('stops entries while the switch is off, and says so', async () => {
    await db.rollback(async (c) => {
      expect(await halt(c, T0)).toMatchObject({ halted: false, reason: 'no daily loss limit' });
      await c.query(`update capital_policy set entries_enabled = false where account = 'default'`);
      expect(await halt(c, T0)).toMatchObject({ halted: true, reason: 'ENTRIES_DISABLED: capital_policy.entries_enabled is false for account default (exits go on)' });
    });
  });

  it('stops entries for the rest of the UTC day once equity fell the limit below the day start; unknown counts as stopped', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set max_daily_loss_pct = 5 where account = 'default'`);
      // No snapshot at all: the limit cannot be checked, so it holds.
      expect((await halt(c, T0)).reason).toMatch(/^DAILY_LOSS_UNKNOWN: max_daily_loss_pct 5% is set but there is no capital snapshot at most 00:01:00 old/);
      await snap(c, '220', '2026-02-28T23:59:00Z'); // the equity the day started with
      await snap(c, '210', at(0));
      expect(await halt(c, at(1))).toMatchObject({ halted: false, day_start_equity: '220', equity: '210', day_loss_pct: '4.545455' });
      await snap(c, '209', at(2)); // 5.0 % exactly: the limit is reached
      expect(await halt(c, at(3))).toMatchObject({
        halted: true, day_loss_pct: '5.000000',
        reason: "DAILY_LOSS_LIMIT: equity 209 is 5.000000% below the day's start 220 (limit 5%); no new entries until 2026-03-02 00:00 UTC (exits go on)",
      });
      // A stale newest snapshot: unknown again (60 s after the last one it is no longer fresh).
      expect((await halt(c, at(62.001))).reason).toMatch(/^DAILY_LOSS_UNKNOWN/);
      // The next day starts from the equity at its midnight.
      await snap(c, '209', '2026-03-01T23:59:30Z');
      await snap(c, '205', '2026-03-02T00:00:30Z');
      expect(await halt(c, '2026-03-02T00:00:40Z')).toMatchObject({ halted: false, day_start_equity: '209', equity: '205' });
    });
  });
});
