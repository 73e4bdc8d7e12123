// The exchange's fee rates for the account: recorded with a verdict against the configured rates, and
// preferred by every decision that prices fees (fee_rates__for: strategies, maker fallback).
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { find, newRun, putState, rank, trendUp } from '../strategy/support.ts';
import { T0, failing, type Q } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const record = async (q: Q, rates: object, now = T0) =>
  (await q.query(`select * from account_fee_rates__record('default', $1::jsonb, 'sim:TradeVolume', $2)`, [JSON.stringify(rates), now])).rows;
const ratesFor = async (q: Q, symbol: string) =>
  (await q.query(`select maker_fee_rate::text, taker_fee_rate::text, source from fee_rates__for('default', $1)`, [symbol])).rows[0];

describe('account_fee_rates__record', () => {
  it('stores the rates and compares them with the configured 0.25 % / 0.40 %', async () => {
    await db.rollback(async (c) => {
      const rows = await record(c, {
        'BTC/USD': { maker: '0.0016', taker: '0.0026' },
        'ETH/USD': { maker: '0.0025', taker: '0.0040' },
        'XRP/USD': { maker: '0.0025', taker: '0.0050' },
      });
      expect(rows.map((r) => [r.symbol, r.verdict])).toEqual([
        ['BTC/USD', 'exchange_lower'], ['ETH/USD', 'same'], ['XRP/USD', 'exchange_higher'],
      ]);
      expect(await ratesFor(c, 'XRP/USD')).toEqual({ maker_fee_rate: '0.0025', taker_fee_rate: '0.0050', source: expect.stringMatching(/^sim:TradeVolume at 2026-03-01 12:00:00/) });
      // A pair the exchange did not report keeps the configured rates; a later answer replaces the earlier one.
      expect(await ratesFor(c, 'SOL/USD')).toEqual({ maker_fee_rate: '0.0025', taker_fee_rate: '0.0040', source: 'capital_policy:default' });
      await record(c, { 'XRP/USD': { maker: '0.0020', taker: '0.0035' } });
      expect(await ratesFor(c, 'XRP/USD')).toMatchObject({ maker_fee_rate: '0.0020', taker_fee_rate: '0.0035' });
      // Without a capital policy row: the built-in entry tier.
      expect((await c.query(`select source from fee_rates__for('nobody', 'BTC/USD')`)).rows[0].source).toBe('built_in_default');
    });
  });

  it('refuses rates that are not fractions below 0.1 (a percent passed by mistake), naming the pair', async () => {
    await db.rollback(async (c) => {
      const e = await failing(c, `select * from account_fee_rates__record('default', $1::jsonb, 'x')`,
        [JSON.stringify({ 'BTC/USD': { maker: '0.16', taker: '0.26' }, 'ETH/USD': { maker: '0.0016', taker: '0.0026' } })]);
      expect(e.message).toBe('account_fee_rates__record: no valid maker/taker fractions below 0.1 for BTC/USD');
      expect((await failing(c, `select * from account_fee_rates__record('default', '[]'::jsonb, 'x')`)).message).toMatch(/must be a JSON object/);
      expect((await c.query(`select count(*)::int n from account_fee_rates`)).rows[0].n).toBe(0);
    });
  });
});

describe('strategies price fees with the exchange rates', () => {
  it('a lower taker rate for one pair raises its net edge by exactly the difference, and says where it came from', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', trendUp);
      const before = find(await rank(c, run), 'AAA/USD', 'momentum');
      // momentum: taker entry and exit, configured 0.40 % each = 80 bps.
      expect(before).toMatchObject({ fee_bps: '80.000000', net_edge_bps: '78.000000' });
      expect(before.inputs.fees.source).toBe('capital_policy:default');
      await record(c, { 'AAA/USD': { maker: '0.0016', taker: '0.0026' } });
      const after = find(await rank(c, run), 'AAA/USD', 'momentum');
      expect(after).toMatchObject({ fee_bps: '52.000000', net_edge_bps: '106.000000' });
      expect(after.inputs.fees).toMatchObject({ taker_fee_rate: 0.0026, source: expect.stringMatching(/^sim:TradeVolume at /) });
    });
  });
});
