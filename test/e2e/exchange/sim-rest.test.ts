// The simulator's private REST over loopback, driven by the same Exchange adapter the engine uses.
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  DuplicateClientOrderIdError,
  ExchangeError,
  OrderRejectedError,
  OutcomeUnknownError,
  ServiceUnavailableError,
} from '../../../src/exchange/errors.ts';
import type { KrakenExchange } from '../../../src/exchange/kraken-exchange.ts';
import { krakenSignature } from '../../../src/exchange/sign.ts';
import { createSimulatorExchange } from '../../../src/exchange/simulator.ts';
import type { AddOrderRequest } from '../../../src/exchange/types.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';

const S = 'BTC/USD';
const creds = generateSimCredentials();
// Raw requests use their own key: nonces are per key, and these are far above the client's.
const rawCreds = generateSimCredentials();
let sim: PrivateRestServer;
let prices: ManualPriceSource;
let ex: KrakenExchange;
let n = 0;
const cid = (p = 'c') => `${p}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  prices = new ManualPriceSource();
  sim = await startPrivateRestServer({
    accounts: [
      { ...creds, balances: { USD: '1000000', BTC: '10' } },
      { ...rawCreds, balances: { USD: '1000', BTC: '1' } },
    ],
    prices,
  });
  ex = createSimulatorExchange({ baseUrl: sim.url, ...creds, retryDelayMs: 1 });
});
afterAll(async () => {
  await ex?.close();
  await sim?.close();
});
beforeEach(() => {
  prices.setBook(S, {
    bids: [
      { price: '59999.9', qty: '10' },
      { price: '59999.0', qty: '5' },
    ],
    asks: [
      { price: '60000.1', qty: '0.5' },
      { price: '60001.0', qty: '5' },
    ],
  });
});

const limit = (o: Partial<AddOrderRequest> & Pick<AddOrderRequest, 'clientOrderId'>): AddOrderRequest => ({
  symbol: S,
  side: 'buy',
  orderType: 'limit',
  price: '59000.0',
  qty: '0.01',
  postOnly: true,
  ...o,
});

/** A raw signed request, to test the server's checks independently of our client. */
async function raw(method: string, fields: Record<string, string>, opts: { key?: string; secret?: string; sign?: string } = {}) {
  const path = `/0/private/${method}`;
  const body = new URLSearchParams(fields).toString();
  const secret = Buffer.from(opts.secret ?? rawCreds.apiSecret, 'base64');
  const sign = opts.sign ?? krakenSignature(path, fields.nonce ?? '', body, secret);
  const res = await fetch(sim.url + path, {
    method: 'POST',
    headers: { 'API-Key': opts.key ?? rawCreds.apiKey, 'API-Sign': sign, 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  return (await res.json()) as { error: string[]; result?: unknown };
}

let rawNonce = BigInt(Date.now()) * 1000n;
const nextNonce = () => String(++rawNonce);

describe('authentication like Kraken', () => {
  it('rejects an unknown key, a bad signature and a repeated or smaller nonce', async () => {
    expect((await raw('Balance', { nonce: nextNonce() }, { key: 'not-a-key' })).error).toEqual(['EAPI:Invalid key']);
    const other = generateSimCredentials();
    expect((await raw('Balance', { nonce: nextNonce() }, { secret: other.apiSecret })).error).toEqual(['EAPI:Invalid signature']);
    expect((await raw('Balance', { nonce: nextNonce() }, { sign: 'AAAA' })).error).toEqual(['EAPI:Invalid signature']);
    const nonce = nextNonce();
    expect((await raw('Balance', { nonce })).error).toEqual([]);
    expect((await raw('Balance', { nonce })).error).toEqual(['EAPI:Invalid nonce']);
    expect((await raw('Balance', { nonce: String(BigInt(nonce) - 5n) })).error).toEqual(['EAPI:Invalid nonce']);
    expect((await raw('Balance', {})).error).toEqual(['EAPI:Invalid nonce']);
    expect((await raw('Balance', { nonce: nextNonce() })).error).toEqual([]);
  });

  it('the client with a wrong secret gets AuthenticationError and shows no credentials', async () => {
    const bad = generateSimCredentials();
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const wrong = createSimulatorExchange({ baseUrl: sim.url, apiKey: creds.apiKey, apiSecret: bad.apiSecret, log });
    const unknownKey = createSimulatorExchange({ baseUrl: sim.url, apiKey: bad.apiKey, apiSecret: bad.apiSecret, log });
    const errors: unknown[] = [];
    errors.push(await wrong.queryOrderByClientId('x').catch((e) => e));
    errors.push(await unknownKey.addOrder(limit({ clientOrderId: cid() })).catch((e) => e));
    for (const e of errors) {
      expect(e).toBeInstanceOf(AuthenticationError);
      log.error({ err: e }, 'exchange call failed');
    }
    const all = lines.join('') + errors.map((e) => `${(e as Error).message}${(e as Error).stack}${inspect(e)}`).join('');
    for (const s of [creds.apiKey, bad.apiKey, bad.apiSecret, creds.apiSecret]) expect(all).not.toContain(s);
    expect(lines.join('')).toContain('EAPI:Invalid');
  });
});

describe('orders', () => {
  it('rejects a duplicate cl_ord_id among open orders, accepts reuse of a closed one', async () => {
    const id = cid('dup');
    const first = await ex.addOrder(limit({ clientOrderId: id }));
    await expect(ex.addOrder(limit({ clientOrderId: id, price: '58000.0' }))).rejects.toBeInstanceOf(DuplicateClientOrderIdError);
    expect(await ex.cancelOrder({ clientOrderId: id })).toEqual({ count: 1 });
    expect(await ex.cancelOrder({ exchangeOrderId: first.exchangeOrderId })).toEqual({ count: 0 });
    expect(await ex.queryOrderByClientId(id)).toMatchObject({ exchangeOrderId: first.exchangeOrderId, status: 'cancelled' });
    const second = await ex.addOrder(limit({ clientOrderId: id, price: '58000.0' }));
    expect(second.exchangeOrderId).not.toBe(first.exchangeOrderId);
    expect(await ex.queryOrderByClientId(id)).toMatchObject({ exchangeOrderId: second.exchangeOrderId, status: 'open', limitPrice: '58000' });
    await ex.cancelOrder({ exchangeOrderId: second.exchangeOrderId });
    expect((await ex.queryOrderByClientId(id))!.exchangeOrderId).toBe(second.exchangeOrderId);
  });

  it('accept then drop the response: the order is found by client id, exactly once', async () => {
    const id = cid('drop');
    sim.inject({ kind: 'drop_response', method: 'AddOrder' });
    const err = await ex.addOrder(limit({ clientOrderId: id })).catch((e) => e);
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    const found = await ex.queryOrderByClientId(id);
    expect(found).toMatchObject({ clientOrderId: id, status: 'open', qty: '0.01' });
    const venue = sim.venue(creds.apiKey);
    const withId = [...venue.openOrders(), ...venue.closedOrders()].filter((o) => o.clOrdId === id);
    expect(withId.map((o) => o.txid)).toEqual([found!.exchangeOrderId]);
    // A blind resend would be refused while it is open: the engine must look first.
    await expect(ex.addOrder(limit({ clientOrderId: id }))).rejects.toBeInstanceOf(DuplicateClientOrderIdError);
    await ex.cancelOrder({ clientOrderId: id });
  });

  it('EService:Unavailable: reads are retried, AddOrder is not (and nothing was placed)', async () => {
    const id = cid('unav');
    sim.inject({ kind: 'unavailable', method: 'AddOrder' });
    await expect(ex.addOrder(limit({ clientOrderId: id }))).rejects.toBeInstanceOf(ServiceUnavailableError);
    sim.inject({ kind: 'unavailable', method: 'OpenOrders' });
    sim.inject({ kind: 'delay', method: 'ClosedOrders', ms: 20 });
    expect(await ex.queryOrderByClientId(id)).toBeNull();
    expect(sim.faults.pending()).toBe(0);
  });

  it('Kraken error strings for minimums, tick size and funds', async () => {
    const cases: [Partial<AddOrderRequest>, string][] = [
      [{ qty: '0.00001' }, 'EOrder:Order minimum not met'],
      [{ price: '59000.05' }, 'EOrder:Tick size check failed'],
      [{ price: '1.0', qty: '0.0001' }, 'EOrder:Cost minimum not met'],
      [{ qty: '100' }, 'EOrder:Insufficient funds'],
      [{ side: 'sell', price: '70000.0', qty: '11' }, 'EOrder:Insufficient funds'],
    ];
    for (const [o, text] of cases) {
      const e = await ex.addOrder(limit({ clientOrderId: cid('bad'), ...o })).catch((x) => x);
      expect(e).toBeInstanceOf(OrderRejectedError);
      expect((e as ExchangeError).krakenErrors).toEqual([text]);
      expect((e as ExchangeError).retryable).toBe(false);
    }
  });

  it('post-only that would take is accepted and cancelled: status rejected', async () => {
    const id = cid('po');
    await ex.addOrder(limit({ clientOrderId: id, price: '60000.1' }));
    expect(await ex.queryOrderByClientId(id)).toMatchObject({ status: 'rejected', reason: 'Post only order' });
  });
});

describe('fills', () => {
  it('limit orders fill when the price trades through, market orders at once; fills carry fees and liquidity', async () => {
    const start = await ex.fillsSince(null);
    const makerId = cid('mk');
    const takerId = cid('tk');
    const mk = await ex.addOrder(limit({ clientOrderId: makerId, price: '59990.0' }));
    prices.trade(S, { side: 'sell', price: '59995.0', qty: '3' }); // better level: queue ahead 10 → 7
    expect((await ex.queryOrderByClientId(makerId))!.status).toBe('open');
    prices.trade(S, { side: 'sell', price: '59980.0', qty: '0.001' }); // through our price
    expect(await ex.queryOrderByClientId(makerId)).toMatchObject({ status: 'filled', qtyExec: '0.01', cost: '599.9', fee: '1.49975' });
    const tk = await ex.addOrder({ clientOrderId: takerId, symbol: S, side: 'buy', orderType: 'market', qty: '0.02', postOnly: false });
    expect(await ex.queryOrderByClientId(takerId)).toMatchObject({ status: 'filled', cost: '1200.002', avgPrice: '60000.1', fee: '4.80001' });
    const page = await ex.fillsSince(start.cursor);
    expect(page.fills.map((f) => [f.exchangeOrderId, f.clientOrderId, f.symbol, f.side, f.price, f.qty, f.fee, f.liquidity])).toEqual([
      [mk.exchangeOrderId, makerId, S, 'buy', '59990', '0.01', '1.49975', 'maker'],
      [tk.exchangeOrderId, takerId, S, 'buy', '60000.1', '0.02', '4.80001', 'taker'],
    ]);
    expect((await ex.fillsSince(page.cursor)).fills).toEqual([]);
    // A new fill after the cursor shows up exactly once.
    const sellId = cid('sl');
    await ex.addOrder({ clientOrderId: sellId, symbol: S, side: 'sell', orderType: 'market', qty: '0.01', postOnly: false });
    const next = await ex.fillsSince(page.cursor);
    expect(next.fills.map((f) => f.clientOrderId)).toEqual([sellId]);
    expect((await ex.fillsSince(next.cursor)).fills).toEqual([]);
    // A client restarted after a crash (new process: no memory of the orders) sees the same fills.
    const fresh = createSimulatorExchange({ baseUrl: sim.url, ...creds });
    const replay = await fresh.fillsSince(start.cursor);
    expect(replay.fills.map((f) => [f.tradeId, f.clientOrderId, f.liquidity])).toEqual(
      [...page.fills, ...next.fills].map((f) => [f.tradeId, f.clientOrderId, f.liquidity]),
    );
  });

  it('balances follow fills; a websocket token is issued', async () => {
    const before = sim.balances(creds.apiKey);
    const id = cid('bal');
    await ex.addOrder({ clientOrderId: id, symbol: S, side: 'buy', orderType: 'market', qty: '0.01', postOnly: false });
    const o = (await ex.queryOrderByClientId(id))!;
    const after = sim.balances(creds.apiKey);
    const { Dec } = await import('../../../src/exchange/decimal.ts');
    expect(new Dec(after.BTC!).minus(new Dec(before.BTC!)).toFixed()).toBe('0.01');
    expect(new Dec(before.USD!).minus(new Dec(after.USD!)).toFixed()).toBe(new Dec(o.cost).plus(new Dec(o.fee)).toFixed());
    const res = await raw('GetWebSocketsToken', { nonce: nextNonce() });
    expect(res.error).toEqual([]);
    expect(res.result).toMatchObject({ token: expect.any(String), expires: 900 });
    const bal = await raw('Balance', { nonce: nextNonce() });
    expect(Object.keys(bal.result as object).sort()).toEqual(['XXBT', 'ZUSD']);
  });
});
