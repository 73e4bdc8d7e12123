// End to end with the simulator exchange: the runtime's executions feed makes a resting order's fill
// reach the ledger through a woken fills__poll long before the reconcile cadence (600 s here) would have
// polled, and a cancel on the exchange wakes order__reconcile without breaking its cadence.
// Mutation check: with the wake disabled (execution__wake returning nothing, or the feed not started)
// the "fills__poll is due" wait fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExecutionSetup, initExecution } from '../../../src/execution/runtime.ts';
import { clearExecutionContext } from '../../../src/execution/context.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, liveMarket, startRun } from '../decision/support.ts';
import { captureLog, jobsOf, runJobs } from './support.ts';

const S = 'BTC/USD';
const NOW = at(301);
const creds = generateSimCredentials();
let db: TestDatabase;
let sim: PrivateRestServer;
let prices: ManualPriceSource;
let setup: ExecutionSetup;
let runId: number;
let generationId: number;
const cap = captureLog();

beforeAll(async () => {
  db = await testDatabase('decision');
  runId = await startRun(db.pool, 0);
  generationId = (await liveMarket(db.pool, runId, { symbols: 1 })).generation_id;
  prices = new ManualPriceSource();
  prices.setBook(S, { bids: [{ price: '59999.9', qty: '1' }], asks: [{ price: '60000.1', qty: '1' }] });
  sim = await startPrivateRestServer({ accounts: [{ ...creds }], prices });
  setup = await initExecution({
    cfg: { TRADING_MODE: 'paper', KRAKEN_REST_URL: sim.url, KRAKEN_API_KEY: creds.apiKey, KRAKEN_API_SECRET: creds.apiSecret, KRAKEN_WS_AUTH_URL: undefined },
    env: { KAPITAAL_EXCHANGE: 'simulator' },
    decisionPool: db.pool,
    log: cap.log,
    reconcileEverySeconds: 600,
    executionsFeed: { reconnectMinMs: 20, reconnectMaxMs: 200 },
  });
  setup.context.now = () => new Date(NOW);
  setup.context.unknownOutcomeBackoffMs = [10, 20, 50];
  await setup.feed!.whenSubscribed();
  // The cadence started by initExecution is due now: run it once, so the next cycle is 600 s away.
  await runJobs(db.pool, ['order__reconcile']);
});
afterAll(async () => {
  await setup?.stop();
  clearExecutionContext();
  await sim?.close();
});

async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let seq = 0;
/** A resting post-only buy at 59990.0, submitted; the poll queued by its acknowledgement has run. */
async function restingOrder(): Promise<{ orderId: number; clientOrderId: string }> {
  const { rows: [r] } = await db.pool.query(
    `select order_id, client_order_id from kapitaal.order__create_intent(
       p_client_order_id => kapitaal.order__client_id('entry', $1, 'wake'), p_run_id => $2, p_symbol => $3,
       p_side => 'buy', p_order_type => 'limit', p_qty => 0.002, p_price => 59990.0, p_strategy => 'momentum',
       p_purpose => 'entry', p_reason => 'wake test', p_generation_id => $4, p_post_only => true,
       p_reference_price => 59990.0, p_now => $5::timestamptz)`,
    [++seq, runId, S, generationId, NOW],
  );
  await db.pool.query(`delete from graphile_worker._private_jobs where key = 'fills__poll:confirm'`); // an earlier test's
  await runJobs(db.pool, ['order__submit', 'fills__poll']);
  const { rows: [o] } = await db.pool.query('select status from kapitaal.orders where order_id = $1', [r.order_id]);
  expect(o.status).toBe('open');
  expect(await jobsOf(db.pool, 'fills__poll')).toEqual([]);
  return { orderId: Number(r.order_id), clientOrderId: r.client_order_id };
}

const reconcileRunAt = async (): Promise<Date> => {
  const jobs = await jobsOf(db.pool, 'order__reconcile');
  expect(jobs).toHaveLength(1);
  return jobs[0].run_at as Date;
};
const dbNow = async (): Promise<Date> => (await db.pool.query('select now() as t')).rows[0].t;

describe('executions feed wakes the REST polls', () => {
  it('a resting order filled on the exchange queues fills__poll at once; the fill reaches the ledger through it', async () => {
    const { orderId } = await restingOrder();
    const cadenceAt = await reconcileRunAt();
    expect(cadenceAt.getTime() - (await dbNow()).getTime()).toBeGreaterThan(500_000);

    prices.trade(S, { side: 'sell', price: '59980.0', qty: '1' }); // through our price: the rest fills
    const job = await until(async () => (await jobsOf(db.pool, 'fills__poll')).find((j) => j.key === 'fills__poll'), 'fills__poll queued by the feed');
    expect((job.run_at as Date).getTime()).toBeLessThanOrEqual((await dbNow()).getTime());
    // and one confirming poll a second later, for a fill TradesHistory lists after the first read
    const confirm = (await jobsOf(db.pool, 'fills__poll')).find((j) => j.key === 'fills__poll:confirm');
    expect((confirm!.run_at as Date).getTime()).toBeGreaterThan((await dbNow()).getTime());
    expect(await reconcileRunAt()).toEqual(cadenceAt); // a fill does not touch the reconcile cadence
    expect(cap.lines.some((l) => l.marker === 'EXECUTION_WAKE' && l.exec_type === 'filled')).toBe(true);

    await runJobs(db.pool, ['fills__poll']);
    const { rows: fills } = await db.pool.query('select exchange_trade_id, qty::text from kapitaal.fills where order_id = $1', [orderId]);
    const venueTrades = sim.venue(creds.apiKey).allTrades().filter((t) => t.clOrdId !== null);
    expect(fills.map((f) => f.exchange_trade_id)).toEqual(venueTrades.map((t) => t.txid));
    expect(fills.map((f) => f.qty)).toEqual(['0.002']);
    const { rows: [o] } = await db.pool.query('select status from kapitaal.orders where order_id = $1', [orderId]);
    expect(o.status).toBe('filled');
  });

  it('an order cancelled on the exchange makes order__reconcile due now; it runs and re-queues at its cadence', async () => {
    const { orderId, clientOrderId } = await restingOrder();
    const cadenceAt = await reconcileRunAt();
    expect(sim.venue(creds.apiKey).cancel({ clOrdId: clientOrderId }, 'User requested')).toBe(1);
    await until(async () => (await reconcileRunAt()).getTime() < cadenceAt.getTime(), 'order__reconcile moved forward by the feed');
    expect((await reconcileRunAt()).getTime()).toBeLessThanOrEqual((await dbNow()).getTime());
    expect((await jobsOf(db.pool, 'fills__poll')).length).toBe(1);

    await runJobs(db.pool, ['order__reconcile', 'fills__poll']);
    const { rows: [o] } = await db.pool.query('select status from kapitaal.orders where order_id = $1', [orderId]);
    expect(o.status).toBe('cancelled');
    expect((await reconcileRunAt()).getTime() - (await dbNow()).getTime()).toBeGreaterThan(500_000);
  });

  it('execution reports that change nothing (new) queue nothing', async () => {
    const before = cap.lines.filter((l) => l.marker === 'EXECUTION_WAKE').length;
    await restingOrder(); // its `new` report arrives over the feed
    await setup.waker!.idle();
    const { rows } = await db.pool.query(`select * from kapitaal.execution__wake('new')`);
    expect(rows).toEqual([]);
    expect(await jobsOf(db.pool, 'fills__poll')).toEqual([]);
    expect(cap.lines.filter((l) => l.marker === 'EXECUTION_WAKE').length).toBe(before);
  });
});
