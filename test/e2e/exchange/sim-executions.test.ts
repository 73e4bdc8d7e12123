// The simulator's private WebSocket v2 `executions` channel: token checks in the public side's ack format,
// ping/pong, and Kraken-shaped execution reports for an order placed over REST and filled by the price
// source, whose ids match TradesHistory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KrakenRestClient } from '../../../src/exchange/kraken-rest.ts';
import { LocalNonceSource } from '../../../src/exchange/nonce.ts';
import { KrakenRateLimiter } from '../../../src/exchange/rate-limit.ts';
import { SIMULATOR_TIER } from '../../../src/exchange/simulator.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { openWs, type TestWs } from './ws-client.ts';

const S = 'BTC/USD';
const creds = generateSimCredentials();
const other = generateSimCredentials();
let sim: PrivateRestServer;
let prices: ManualPriceSource;
let client: KrakenRestClient;
let otherClient: KrakenRestClient;
const sockets: TestWs[] = [];

const restClient = (c: { apiKey: string; apiSecret: string }) =>
  new KrakenRestClient({ baseUrl: sim.url, credentials: c, nonces: new LocalNonceSource(), limiter: new KrakenRateLimiter(SIMULATOR_TIER) });

beforeAll(async () => {
  prices = new ManualPriceSource();
  prices.setBook(S, { bids: [{ price: '59999.9', qty: '2' }], asks: [{ price: '60000.1', qty: '2' }] });
  sim = await startPrivateRestServer({ accounts: [{ ...creds, balances: { USD: '1000000', BTC: '10' } }, { ...other }], prices });
  client = restClient(creds);
  otherClient = restClient(other);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await sim?.close();
});

async function ws(): Promise<TestWs> {
  const s = await openWs(sim.wsUrl);
  sockets.push(s);
  await s.next((m) => m.channel === 'status', 'status on connect');
  return s;
}

const ack = (s: TestWs, reqId: number) => s.next((m) => m.method === 'subscribe' && m.req_id === reqId, `ack ${reqId}`);

describe('sim private WS: subscription', () => {
  it('refuses executions without a token, with an unknown token and other channels; answers ping', async () => {
    const s = await ws();
    s.send({ method: 'subscribe', params: { channel: 'executions' }, req_id: 1 });
    expect(await ack(s, 1)).toMatchObject({ success: false, error: 'EAuth:Token required' });
    s.send({ method: 'subscribe', params: { channel: 'executions', token: 'not-a-token' }, req_id: 2 });
    expect(await ack(s, 2)).toMatchObject({ success: false, error: 'EAuth:Invalid token' });
    s.send({ method: 'subscribe', params: { channel: 'book', symbol: [S] }, req_id: 3 });
    expect(await ack(s, 3)).toMatchObject({ success: false, error: 'Channel not supported book' });
    s.send({ method: 'ping', req_id: 4 });
    expect(await s.next((m) => m.method === 'pong', 'pong')).toMatchObject({ req_id: 4 });
  });

  it('a good token subscribes; a second subscribe on the connection is refused; unsubscribe acks', async () => {
    const s = await ws();
    const { token } = await client.getWebSocketsToken();
    s.send({ method: 'subscribe', params: { channel: 'executions', token, snap_orders: false, snap_trades: false }, req_id: 5 });
    const ok = await ack(s, 5);
    expect(ok).toMatchObject({ success: true, result: { channel: 'executions', snapshot: false, snap_trades: false } });
    expect(JSON.stringify(ok)).not.toContain(token);
    s.send({ method: 'subscribe', params: { channel: 'executions', token }, req_id: 6 });
    expect(await ack(s, 6)).toMatchObject({ success: false, error: 'Already subscribed' });
    s.send({ method: 'unsubscribe', params: { channel: 'executions' }, req_id: 7 });
    expect(await s.next((m) => m.method === 'unsubscribe', 'unsubscribe ack')).toMatchObject({ success: true, req_id: 7 });
  });
});

describe('sim private WS: execution reports', () => {
  it('a resting order filled by the price source produces new, trade and filled reports matching TradesHistory', async () => {
    const mine = await ws();
    const theirs = await ws();
    mine.send({ method: 'subscribe', params: { channel: 'executions', token: (await client.getWebSocketsToken()).token, snap_orders: false, snap_trades: false }, req_id: 1 });
    theirs.send({ method: 'subscribe', params: { channel: 'executions', token: (await otherClient.getWebSocketsToken()).token, snap_orders: false }, req_id: 1 });
    await ack(mine, 1);
    await ack(theirs, 1);
    const placed = await client.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59990.0', volume: '0.003', cl_ord_id: 'exec-test-1', oflags: 'post' });
    const orderId = placed.txid![0]!;
    const isOurs = (m: Record<string, any>) => m.channel === 'executions' && m.data?.[0]?.order_id === orderId;
    const n = await mine.next((m) => isOurs(m) && m.data[0].exec_type === 'new', 'new');
    expect(n).toMatchObject({ type: 'update', data: [{ order_status: 'new', cl_ord_id: 'exec-test-1', symbol: S, side: 'buy', order_qty: 0.003 }] });

    // Queue ahead at entry: the 2 bid at 59999.9 (better than ours). 2.001 at our price leaves 0.001 for us;
    // then a trade through our price sweeps the level and fills the rest.
    prices.trade(S, { side: 'sell', price: '59990.0', qty: '2.001' });
    prices.trade(S, { side: 'sell', price: '59980.0', qty: '1' });
    const trade = await mine.next((m) => isOurs(m) && m.data[0].exec_type !== 'new', 'trade');
    const fill = await mine.next((m) => isOurs(m), 'filled');
    expect(trade.data[0]).toMatchObject({ exec_type: 'trade', order_status: 'partially_filled', last_qty: 0.001, last_price: 59990, liquidity_ind: 'm' });
    expect(fill.data[0]).toMatchObject({ exec_type: 'filled', order_status: 'filled', cl_ord_id: 'exec-test-1', last_qty: 0.002, cum_qty: 0.003 });
    const reports = [trade, fill];

    const history = await client.tradesHistory();
    const ours = Object.entries(history.trades).filter(([, x]) => x.ordertxid === orderId);
    expect(ours.length).toBe(reports.length);
    for (const r of reports) {
      const hit = ours.find(([txid]) => txid === r.data[0].exec_id);
      expect(hit, `TradesHistory has ${r.data[0].exec_id}`).toBeDefined();
      expect(r.data[0].trade_id).toBe(hit![1].trade_id);
      expect(r.data[0].last_qty).toBe(Number(hit![1].vol));
      expect(r.data[0].cl_ord_id).toBe('exec-test-1');
    }
    // Sequence numbers grow per subscription; the other account saw nothing of this order.
    expect(reports.map((r) => r.sequence)).toEqual([...reports.map((r) => r.sequence)].sort((a, b) => a - b));
    expect(theirs.frames.some(isOurs)).toBe(false);
  });

  it('a cancel over REST produces a canceled report with the reason; a post-only order that would take is canceled at once', async () => {
    const s = await ws();
    s.send({ method: 'subscribe', params: { channel: 'executions', token: (await client.getWebSocketsToken()).token, snap_orders: false }, req_id: 1 });
    await ack(s, 1);
    const { txid } = await client.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.002', cl_ord_id: 'exec-test-2' });
    await client.cancelOrder({ cl_ord_id: 'exec-test-2' }, undefined);
    const c = await s.next((m) => m.channel === 'executions' && m.data[0].order_id === txid![0] && m.data[0].exec_type === 'canceled', 'canceled');
    expect(c.data[0]).toMatchObject({ order_status: 'canceled', reason: 'User requested', cum_qty: 0 });
    const post = await client.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '60000.1', volume: '0.002', oflags: 'post' });
    const p = await s.next((m) => m.channel === 'executions' && m.data[0].order_id === post.txid![0] && m.data[0].exec_type === 'canceled', 'post-only canceled');
    expect(p.data[0].reason).toBe('Post only order');
  });

  it('snap_orders sends the open orders as a snapshot', async () => {
    const { txid } = await client.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59100.0', volume: '0.002', cl_ord_id: 'exec-snap' });
    const s = await ws();
    s.send({ method: 'subscribe', params: { channel: 'executions', token: (await client.getWebSocketsToken()).token }, req_id: 1 });
    expect(await ack(s, 1)).toMatchObject({ success: true, result: { snapshot: true } });
    const snap = await s.next((m) => m.channel === 'executions' && m.type === 'snapshot', 'snapshot');
    expect(snap.data.map((d: { order_id: string }) => d.order_id)).toContain(txid![0]);
  });
});
