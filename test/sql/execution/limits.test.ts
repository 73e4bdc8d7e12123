// order__conform_to_limits: prices to the tick in the safe direction, quantities down to the lot, minimums
// enforced after rounding; a violating order is never returned as ok.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { expectRow } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

interface Conformed {
  ok: boolean;
  price: string | null;
  qty: string | null;
  cost: string | null;
  reason: string;
}
// BTC/USD-like limits: tick 0.1, lot 0.00000001, ordermin 0.0001, costmin 0.5.
const conform = async (
  side: string | null,
  price: string | null,
  qty: string | null,
  limits: (string | null)[] = ['0.1', '0.00000001', '0.0001', '0.5'],
  mode?: string,
) =>
  (
    await db.pool.query<Conformed>(
      `select * from order__conform_to_limits($1, $2::numeric, $3::numeric, $4::numeric, $5::numeric, $6::numeric, $7::numeric${mode ? ', $8' : ''})`,
      [side, price, qty, ...limits, ...(mode ? [mode] : [])],
    )
  ).rows[0]!;

describe('order__conform_to_limits', () => {
  it('passes a conforming order unchanged', async () => {
    expectRow(await conform('buy', '64000.1', '0.001'), { ok: true, price: '64000.1', qty: '0.001', cost: '64.0001', reason: 'ok' });
  });

  it('rounds an off-tick buy price down and a sell price up: never worse than intended', async () => {
    expectRow(await conform('buy', '64000.19', '0.001'), { ok: true, price: '64000.1', reason: 'ok' });
    expectRow(await conform('sell', '64000.11', '0.001'), { ok: true, price: '64000.2', reason: 'ok' });
    // Exactly on the tick: unchanged on both sides.
    expectRow(await conform('sell', '64000.2', '0.001'), { price: '64000.2' });
    expectRow(await conform('buy', '64000.2', '0.001'), { price: '64000.2' });
    // Odd increments are exact too (numeric mod, no float drift).
    expectRow(await conform('buy', '1.00049', '100', ['0.00005', '1', '1', '0']), { price: '1.00045', qty: '100' });
    expectRow(await conform('sell', '1.00049', '100', ['0.00005', '1', '1', '0']), { price: '1.0005' });
  });

  it('rounds a quantity with too many decimals down to the lot', async () => {
    expectRow(await conform('buy', '100', '0.123456789'), { ok: true, qty: '0.12345678' });
    expectRow(await conform('sell', '100', '0.999999999'), { ok: true, qty: '0.99999999' });
    expectRow(await conform('buy', '2.5', '10.9', ['0.5', '1', '1', '0']), { qty: '10', cost: '25' });
  });

  it('rejects below the minimum quantity and cost, judged after rounding', async () => {
    expectRow(await conform('buy', '64000', '0.00009'), { ok: false, reason: 'below_min_qty' });
    expectRow(await conform('buy', '64000', '0.0001'), { ok: true, reason: 'ok' }); // at the minimum
    expectRow(await conform('buy', '64000', '0.000000001'), { ok: false, qty: '0', reason: 'below_min_qty' });
    // Cost 0.4999… < 0.5; the minimum itself passes.
    expectRow(await conform('buy', '4999.9', '0.0001'), { ok: false, reason: 'below_min_cost' });
    expectRow(await conform('buy', '5000', '0.0001'), { ok: true, cost: '0.5' });
    // Rounding the buy price down is what pushes it under the minimum cost.
    expectRow(await conform('buy', '5000.09', '0.0001'), { ok: true, price: '5000', cost: '0.5', reason: 'ok' });
    expectRow(await conform('buy', '5000.09', '0.0001', ['0.1', '0.0001', '0.0001', '0.50001']), { ok: false, reason: 'below_min_cost' });
  });

  it('rejects non-positive input, a price below one tick, and unknown limits', async () => {
    expectRow(await conform('buy', '0', '1'), { ok: false, reason: 'non_positive' });
    expectRow(await conform('buy', '100', '-1'), { ok: false, reason: 'non_positive' });
    expectRow(await conform('buy', null, '1'), { ok: false, reason: 'non_positive' });
    expectRow(await conform('buy', '0.05', '100'), { ok: false, price: '0', reason: 'price_below_tick' });
    expectRow(await conform('buy', '100', '1', [null, '0.1', '0', '0']), { ok: false, reason: 'unknown_limits' });
    expectRow(await conform('buy', '100', '1', ['0.1', '0', '0', '0']), { ok: false, reason: 'unknown_limits' });
    expectRow(await conform('hold', '100', '1'), { ok: false, reason: 'invalid_side' });
  });

  it('strict mode refuses instead of rounding', async () => {
    expectRow(await conform('buy', '64000.15', '0.001', undefined, 'strict'), { ok: false, reason: 'off_tick_price' });
    expectRow(await conform('buy', '64000.1', '0.0010000001', undefined, 'strict'), { ok: false, reason: 'off_lot_qty' });
    expectRow(await conform('buy', '64000.1', '0.001', undefined, 'strict'), { ok: true, reason: 'ok' });
    expectRow(await conform('buy', '64000.1', '0.001', undefined, 'wild'), { ok: false, reason: 'invalid_mode' });
  });

  it('never returns ok for a violating order (randomised)', async () => {
    const { rows } = await db.pool.query<{ n: number; ok: number }>(
      `with cases as (
         select (array['buy','sell'])[1 + (i % 2)] as side,
                round((random() * 1000)::numeric, 6) as price, round((random() * 3)::numeric, 10) as qty,
                (array[0.1, 0.01, 0.00005, 1, 0.5])[1 + (i % 5)]::numeric as tick,
                (array[0.00000001, 0.001, 1, 0.1])[1 + (i % 4)]::numeric as lot,
                (array[0, 0.0001, 0.5, 1])[1 + (i % 4)]::numeric as qmin,
                (array[0, 0.5, 5, 10])[1 + (i % 3)]::numeric as cmin
           from generate_series(1, 5000) i)
       select count(*) filter (where r.ok)::int as ok,
              count(*) filter (where r.ok and (mod(r.price, tick) <> 0 or mod(r.qty, lot) <> 0 or r.qty < qmin or r.price * r.qty < cmin
                        or r.qty > cases.qty or (side = 'buy' and r.price > cases.price) or (side = 'sell' and r.price < cases.price)
                        or r.price - cases.price >= tick or cases.price - r.price >= tick))::int as n
         from cases, order__conform_to_limits(side, price, qty, tick, lot, qmin, cmin) r`,
    );
    expect(rows[0]!.ok).toBeGreaterThan(1000);
    expect(rows[0]!.n).toBe(0);
  });
});
