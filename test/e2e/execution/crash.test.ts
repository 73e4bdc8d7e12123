// Crash safety of submission: the execution process is SIGKILLed at each step (after the intent,
// after begin_submit, after the exchange accepted but before the answer was stored, in the middle of
// booking an order's fills), a new process takes over (engine-workers releases the dead one's jobs),
// and then the simulator holds exactly one order per intent and every fill is in the ledger exactly once.
// Also: an AddOrder whose answer is dropped by the simulator (accepted, no response) is resolved by
// querying the client order id, never by sending again.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../../src/db/migrate.ts';
import type { CrashPoint } from '../../../src/execution/context.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, liveMarket, startRun } from '../decision/support.ts';

let db: TestDatabase;
let sim: PrivateRestServer;
let prices: ManualPriceSource;
const creds = generateSimCredentials();
const children: ChildProcess[] = [];
let runId: number;
let generationId: number;
const NOW = at(301);

beforeAll(async () => {
  db = await testDatabase('decision');
  runId = await startRun(db.pool, 0);
  generationId = (await liveMarket(db.pool, runId, { symbols: 1 })).generation_id;
  prices = new ManualPriceSource();
  // Two ask levels: a buy of 0.0015 takes both, so each order has two fills.
  prices.setBook('BTC/USD', {
    bids: [{ price: '59999.9', qty: '1' }],
    asks: [{ price: '60000.2', qty: '0.001' }, { price: '60000.5', qty: '1' }],
  });
  sim = await startPrivateRestServer({ accounts: [{ ...creds }], prices });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await sim?.close();
});

function startChild(crashAt?: CrashPoint): { child: ChildProcess; ready: Promise<void>; exited: Promise<NodeJS.Signals | number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT_DIR, 'test/e2e/execution/fixtures/execution-child.ts')], {
    env: { ...process.env, DATABASE_URL: db.url, SIM_URL: sim.url, SIM_KEY: creds.apiKey, SIM_SECRET: creds.apiSecret, NOW_ISO: NOW, CRASH_AT: crashAt ?? '', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const exited = new Promise<NodeJS.Signals | number | null>((r) => child.once('exit', (code, signal) => r(signal ?? code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    void exited.then((c) => reject(new Error(`execution child exited before ready (${c})`)));
  });
  return { child, ready, exited };
}

async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let seq = 0;
async function intent(): Promise<{ orderId: number; clientOrderId: string }> {
  const { rows } = await db.pool.query(
    `select order_id, client_order_id from kapitaal.order__create_intent(
       p_client_order_id => kapitaal.order__client_id('entry', $1, 'crash'), p_run_id => $2, p_symbol => 'BTC/USD',
       p_side => 'buy', p_order_type => 'market', p_qty => 0.0015, p_price => null, p_strategy => 'momentum',
       p_purpose => 'entry', p_reason => 'crash test', p_generation_id => $3, p_reference_price => 60000.2,
       p_now => $4::timestamptz)`,
    [1_000 + ++seq + Math.floor(Math.random() * 1e6), runId, generationId, NOW],
  );
  return { orderId: Number(rows[0].order_id), clientOrderId: rows[0].client_order_id };
}

/** Waits until the order is filled and its two fills are booked, and no job of it is left. */
async function settled(orderId: number) {
  await until(async () => {
    const o = await db.pool.query(`select status from kapitaal.orders where order_id = $1`, [orderId]);
    const f = await db.pool.query(`select count(*)::int n from kapitaal.fills where order_id = $1`, [orderId]);
    const j = await db.pool.query(`select count(*)::int n from graphile_worker.jobs where task_identifier in ('order__submit', 'fills__poll') and (locked_at is not null or run_at <= now())`);
    return o.rows[0].status === 'filled' && f.rows[0].n === 2 && j.rows[0].n === 0;
  }, `order ${orderId} filled with both fills booked`);
}

async function assertExactlyOnce(orderId: number, clientOrderId: string) {
  const venue = sim.venue(creds.apiKey);
  const onVenue = [...venue.openOrders(), ...venue.closedOrders()].filter((o) => o.clOrdId === clientOrderId);
  expect(onVenue).toHaveLength(1); // one exchange order per intent
  const trades = venue.allTrades().filter((t) => t.orderTxid === onVenue[0]!.txid);
  expect(trades).toHaveLength(2);
  const { rows: ledger } = await db.pool.query(
    `select exchange_trade_id, price::text, qty::text, fee::text from kapitaal.fills where order_id = $1 order by exchange_trade_id`,
    [orderId],
  );
  // every fill exactly once (the ledger is unique per trade id; the count proves nothing is missing)
  expect(ledger.map((r) => r.exchange_trade_id)).toEqual(trades.map((t) => t.txid).sort());
  for (const t of trades) {
    const l = ledger.find((r) => r.exchange_trade_id === t.txid)!;
    expect([Number(l.price), Number(l.qty), Number(l.fee)]).toEqual([Number(t.price), Number(t.vol), Number(t.fee)]);
  }
  const { rows: [o] } = await db.pool.query(`select * from kapitaal.orders where order_id = $1`, [orderId]);
  expect(o.exchange_order_id).toBe(onVenue[0]!.txid);
  expect((await db.pool.query(`select * from kapitaal.positions__verify()`)).rows).toEqual([]);
}

describe('SIGKILL during submission', () => {
  const points: CrashPoint[] = ['before_begin_submit', 'after_begin_submit', 'after_add_order', 'after_fill_recorded'];
  for (const point of points) {
    it(`killed at ${point}: one exchange order per intent, every fill once`, async () => {
      const { orderId, clientOrderId } = await intent();
      const first = startChild(point);
      await first.ready.catch(() => {});
      expect(await first.exited).toBe('SIGKILL');
      const { rows: [mid] } = await db.pool.query(`select status, submit_attempts from kapitaal.orders where order_id = $1`, [orderId]);
      const expected: Record<CrashPoint, string[]> = {
        before_begin_submit: ['new'],
        after_begin_submit: ['submitting'],
        after_add_order: ['submitting'],
        after_fill_recorded: ['partially_filled'],
      };
      expect(expected[point]).toContain(mid.status);

      const second = startChild();
      await second.ready;
      await settled(orderId);
      second.child.kill('SIGTERM');
      await second.exited;
      await assertExactlyOnce(orderId, clientOrderId);
      if (point === 'after_begin_submit' || point === 'after_add_order') {
        const ev = await db.pool.query(`select note from kapitaal.order_events where order_id = $1 and from_status = 'submitting' and to_status = 'submitting'`, [orderId]);
        expect(ev.rowCount).toBe(1); // the retry asked the exchange first
      }
    });
  }

  it('AddOrder accepted but its answer dropped (simulator fault): resolved by query, never resent', async () => {
    const { orderId, clientOrderId } = await intent();
    const before = sim.calls.get('AddOrder') ?? 0;
    sim.inject({ kind: 'drop_response', method: 'AddOrder' });
    const c = startChild();
    await c.ready;
    await settled(orderId);
    c.child.kill('SIGTERM');
    await c.exited;
    expect((sim.calls.get('AddOrder') ?? 0) - before).toBe(1);
    await assertExactlyOnce(orderId, clientOrderId);
  });
});
