// A fill the fills cursor passed by (TradesHistory listed it later than the adapter's look-back covers)
// is found by the reconcile task: the exchange says the order is closed with an executed quantity the
// ledger lacks. It logs FILL_MISSING with the trade ids, rewinds the cursor to before the order opened
// and books the fill, once; a second reconcile finds nothing to repair.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KrakenExchange } from '../../../src/exchange/kraken-exchange.ts';
import { createSimulatorExchange } from '../../../src/exchange/simulator.ts';
import { reconcileOrders } from '../../../src/execution/reconcile.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { liveMarket, startRun } from '../decision/support.ts';
import { at, useExecution } from './support.ts';

const creds = generateSimCredentials();
let db: TestDatabase;
let sim: PrivateRestServer;
let prices: ManualPriceSource;
let ex: KrakenExchange;
let runId: number;
let gen: number;
let nowSec = 0;

beforeAll(async () => {
  db = await testDatabase('decision');
  runId = await startRun(db.pool, 0);
  // Entries pass the generation gate at submit time: a current generation, begun at 301 s.
  gen = (await liveMarket(db.pool, runId, { symbols: 1 })).generation_id;
  prices = new ManualPriceSource();
  prices.setQuote('BTC/USD', '59999.9', '60000.1', '1000');
  prices.setQuote('ETH/USD', '2999.99', '3000.01', '100000');
  sim = await startPrivateRestServer({ accounts: [{ ...creds, balances: { USD: '100000000' } }], prices, now: () => Date.parse(at(nowSec)) });
  // A look-back shorter than the lag below: the adapter alone cannot see the late trade.
  ex = createSimulatorExchange({ baseUrl: sim.url, ...creds, retryDelayMs: 1, fillsLookbackS: 2 });
});
afterAll(async () => {
  await ex?.close();
  await sim?.close();
});

let n = 0;
/** An order intent in the ledger, sent to the simulator as a market buy and acknowledged. */
async function placedOrder(symbol: string, qty: string): Promise<number> {
  const clientOrderId = `fm-${++n}-${Math.random().toString(36).slice(2, 8)}`;
  const { rows } = await db.pool.query(
    `select order_id from kapitaal.order__create_intent(p_client_order_id => $1, p_run_id => $2, p_symbol => $3, p_side => 'buy',
       p_order_type => 'market', p_qty => $4::numeric, p_price => null, p_reference_price => 1, p_strategy => 'momentum', p_purpose => 'entry', p_reason => 'fills-missing test', p_generation_id => $5)`,
    [clientOrderId, runId, symbol, qty, gen],
  );
  const id = Number(rows[0].order_id);
  const begin = await db.pool.query(`select * from kapitaal.order__submit_begin($1, $2)`, [id, at(301)]);
  expect(begin.rows[0]).toMatchObject({ action: 'send' });
  const { exchangeOrderId } = await ex.addOrder({ clientOrderId, symbol, side: 'buy', orderType: 'market', qty, postOnly: false });
  await db.pool.query(`select * from kapitaal.order__apply_exchange_state($1, 'open', $2, null, $3)`, [id, exchangeOrderId, at(nowSec)]);
  return id;
}
const order = async (id: number) => (await db.pool.query(`select status, filled_qty::text from kapitaal.orders where order_id = $1`, [id])).rows[0];

describe('missing fills found by the reconcile task', () => {
  it('a trade listed later than the look-back is reported, re-read and booked once', async () => {
    const exn = useExecution(ex);
    exn.setNow(nowSec = 1_000);
    sim.faults.historyLagMs.set('BTC/USD', 30_000);
    const late = await placedOrder('BTC/USD', '0.01');
    exn.setNow(nowSec = 1_005);
    const early = await placedOrder('ETH/USD', '0.1');

    // The ETH trade is booked; the BTC order is closed on the exchange, its trade not listed yet.
    exn.setNow(nowSec = 1_010);
    const r1 = await reconcileOrders(db.pool, exn.ctx);
    expect(r1.fillsRepaired).toBe(0);
    expect(await order(early)).toEqual({ status: 'filled', filled_qty: '0.1' });
    expect(await order(late)).toEqual({ status: 'open', filled_qty: '0' });

    // Listed now, but 10 s before the cursor's newest trade with a 2-s look-back: the poll passes it by.
    // Within the grace period after the order closed nothing is said yet.
    exn.setNow(nowSec = 1_040);
    const r2 = await reconcileOrders(db.pool, exn.ctx);
    expect(r2.fillsRepaired).toBe(0);
    expect(await order(late)).toEqual({ status: 'open', filled_qty: '0' });
    expect(exn.markers()).not.toContain('FILL_MISSING');

    // After the grace period (90 s): FILL_MISSING, the cursor rewound, the fill booked.
    exn.setNow(nowSec = 1_100);
    const r3 = await reconcileOrders(db.pool, exn.ctx);
    expect(r3.fillsRepaired).toBe(1);
    expect(await order(late)).toEqual({ status: 'filled', filled_qty: '0.01' });
    const warn = exn.lines.find((l) => l.marker === 'FILL_MISSING')!;
    const tradeIds = sim.venue(creds.apiKey).allTrades().filter((t) => t.symbol === 'BTC/USD').map((t) => t.txid);
    expect(warn).toMatchObject({ order_id: String(late), exchange_qty_exec: '0.01', booked_qty: '0', shortfall: '0.01', missing_trade_ids: tradeIds });
    // Each trade once in the ledger, the ETH trade too (re-read, dropped as a duplicate).
    const { rows } = await db.pool.query(`select order_id::int, count(*)::int n from kapitaal.fills where order_id = any($1) group by 1 order by 1`, [[late, early]]);
    expect(rows).toEqual([{ order_id: late, n: 1 }, { order_id: early, n: 1 }]);

    // Nothing left to repair.
    exn.setNow(nowSec = 1_200);
    expect((await reconcileOrders(db.pool, exn.ctx)).fillsRepaired).toBe(0);
    expect(exn.lines.filter((l) => l.marker === 'FILL_MISSING')).toHaveLength(1);
  });

  it('order__fills_missing: no shortfall within the grace period or on a working order; unknown order: no row', async () => {
    const id = await placedOrder('ETH/USD', '0.2');
    const q = (qty: string, closedAt: string | null, now: string) =>
      db.pool.query(`select shortfall::text, overdue, missing_trade_ids from kapitaal.order__fills_missing($1, $2, '{T1}', $3, $4)`, [id, qty, closedAt, now]);
    expect((await q('0.2', at(100), at(150))).rows[0]).toEqual({ shortfall: '0.2', overdue: false, missing_trade_ids: ['T1'] });
    expect((await q('0.2', at(100), at(191))).rows[0]).toEqual({ shortfall: '0.2', overdue: true, missing_trade_ids: ['T1'] });
    expect((await q('0.2', null, at(1_000))).rows[0]).toMatchObject({ overdue: false });
    expect((await q('0', at(100), at(1_000))).rows[0]).toMatchObject({ shortfall: '0', overdue: false });
    expect((await db.pool.query(`select * from kapitaal.order__fills_missing(-1, 1)`)).rows).toEqual([]);
  });

  it('fills__rewind refuses an empty cursor and an unknown venue', async () => {
    await expect(db.pool.query(`select * from kapitaal.fills__rewind('nowhere', 't:0:')`)).rejects.toThrow(/has no fills cursor/);
    await expect(db.pool.query(`select * from kapitaal.fills__rewind('nowhere', '')`)).rejects.toThrow(/a cursor is required/);
  });
});
