// The engine's executions feed against the simulator's private WebSocket: subscribes with a token from
// REST, receives reports, reconnects with a fresh token after the simulator drops the socket and keeps
// receiving; malformed frames are counted (logged once per kind), never fatal; the token is never logged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionReport } from '../../../src/exchange/executions-messages.ts';
import { ExecutionsFeed } from '../../../src/exchange/executions-feed.ts';
import { executionsFeedUrl } from '../../../src/exchange/executions-url.ts';
import type { KrakenExchange } from '../../../src/exchange/kraken-exchange.ts';
import { createSimulatorExchange } from '../../../src/exchange/simulator.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { captureLog } from '../decision/support.ts';

const S = 'BTC/USD';
const creds = generateSimCredentials();
const TOKEN = 'sim-ws-token-that-must-never-be-logged';
let sim: PrivateRestServer;
let prices: ManualPriceSource;
let ex: KrakenExchange;
let feed: ExecutionsFeed;
const reports: ExecutionReport[] = [];
const cap = captureLog();
let n = 0;

beforeAll(async () => {
  prices = new ManualPriceSource();
  prices.setBook(S, { bids: [{ price: '59999.9', qty: '1' }], asks: [{ price: '60000.1', qty: '1' }] });
  sim = await startPrivateRestServer({ accounts: [{ ...creds }], prices, wsToken: TOKEN });
  ex = createSimulatorExchange({ baseUrl: sim.url, ...creds, retryDelayMs: 1 });
  feed = new ExecutionsFeed({
    url: executionsFeedUrl('simulator', { KRAKEN_REST_URL: sim.url, KRAKEN_WS_AUTH_URL: undefined }),
    getToken: () => ex.webSocketsToken(),
    onExecution: (r) => reports.push(r),
    log: cap.log,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    idleMs: 3000, // the simulator sends a heartbeat every second
  });
  feed.start();
  await feed.whenSubscribed();
});
afterAll(async () => {
  await feed?.stop();
  await sim?.close();
});

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Places a resting order and cancels it: the feed must see its `canceled` report. */
async function placeAndCancel(): Promise<string> {
  const cl = `feed-${++n}`;
  const { exchangeOrderId } = await ex.addOrder({ clientOrderId: cl, symbol: S, side: 'buy', orderType: 'limit', price: '59000.0', qty: '0.002', postOnly: true });
  await ex.cancelOrder({ clientOrderId: cl });
  await until(() => reports.some((r) => r.order_id === exchangeOrderId && r.exec_type === 'canceled'), `canceled report of ${cl}`);
  return exchangeOrderId;
}

describe('executions feed', () => {
  it('derives the simulator URL from KRAKEN_REST_URL and subscribes with snapshots off', async () => {
    expect(executionsFeedUrl('simulator', { KRAKEN_REST_URL: 'http://127.0.0.1:4321', KRAKEN_WS_AUTH_URL: undefined })).toBe('ws://127.0.0.1:4321/v2');
    expect(executionsFeedUrl('live', { KRAKEN_REST_URL: 'https://api.kraken.com', KRAKEN_WS_AUTH_URL: undefined })).toBe('wss://ws-auth.kraken.com/v2');
    expect(() => executionsFeedUrl('simulator', { KRAKEN_REST_URL: 'http://127.0.0.1:1', KRAKEN_WS_AUTH_URL: 'wss://ws-auth.kraken.com/v2' })).toThrow(/KRAKEN_WS_AUTH_URL/);
    expect(() => executionsFeedUrl('live', { KRAKEN_REST_URL: 'https://api.kraken.com', KRAKEN_WS_AUTH_URL: 'ws://127.0.0.1:1/v2' })).toThrow(/wss/);
    expect(sim.ws.sent.get('executions:snapshot') ?? 0).toBe(0);
    expect(cap.markers()).toContain('EXECUTIONS_FEED_CONNECTED');
    await placeAndCancel();
    expect(reports.map((r) => r.exec_type)).toEqual(expect.arrayContaining(['new', 'canceled']));
  });

  it('reconnects with a fresh token after the simulator drops the socket, and events keep arriving', async () => {
    const tokensBefore = sim.calls.get('GetWebSocketsToken') ?? 0;
    const connects = feed.stats().connects;
    expect(sim.ws.dropConnections()).toBe(1);
    await until(() => feed.stats().reconnects >= 1 && feed.isSubscribed, 'resubscribed');
    expect(feed.stats().connects).toBe(connects + 1);
    expect(sim.calls.get('GetWebSocketsToken')).toBe(tokensBefore + 1);
    const down = cap.lines.filter((l) => l.marker === 'EXECUTIONS_FEED_DOWN');
    expect(down.length).toBeGreaterThanOrEqual(1);
    expect(String(down[0]!.msg)).toContain('REST polling');
    await placeAndCancel();
  });

  it('counts malformed frames per kind, logs each kind once, and keeps going', async () => {
    const before = feed.stats().malformed;
    sim.ws.sendRaw('{"channel":"executions","type":"update","data":[{"exec_type":"trade"');
    sim.ws.sendRaw('{"channel":"executions","type":"update","data":[{"exec_type":"bogus","order_id":"O1"}]}');
    sim.ws.sendRaw('{"channel":"executions","type":"update","data":[{"exec_type":"trade"}]}');
    sim.ws.sendRaw(`{"channel":"surprise","token":"${TOKEN}"}`);
    sim.ws.sendRaw('{"channel":"executions","type":"update","data":"not a list"}');
    // One bad report does not hide the good one beside it.
    sim.ws.sendRaw('{"channel":"executions","type":"update","data":[{"exec_type":"filled"},{"exec_type":"new","order_id":"O-MIXED"}]}');
    await until(() => feed.stats().malformed >= before + 6, 'six malformed frames or reports counted');
    expect(feed.stats().malformedByKind).toMatchObject({ 'invalid JSON': 1, 'invalid executions report': 3, 'unknown channel surprise': 1, 'invalid executions': 1 });
    expect(cap.lines.filter((l) => l.marker === 'DATA_INTEGRITY_MALFORMED_MESSAGE')).toHaveLength(4);
    await until(() => reports.some((r) => r.order_id === 'O-MIXED'), 'the valid report of the mixed message');
    expect(feed.isSubscribed).toBe(true);
    await placeAndCancel();
  });

  it('a stalled connection (not even heartbeats) is detected and replaced', async () => {
    const { stalls, connects } = feed.stats();
    sim.ws.setStalled(true);
    await until(() => feed.stats().stalls > stalls, 'stall detected');
    sim.ws.setStalled(false);
    await until(() => feed.isSubscribed && feed.stats().connects > connects, 'subscribed again');
    expect(cap.lines.some((l) => l.marker === 'EXECUTIONS_FEED_DOWN' && String(l.reason).startsWith('stalled'))).toBe(true);
    await placeAndCancel();
  });

  it('never logs the token', () => {
    expect(JSON.stringify(cap.lines)).not.toContain(TOKEN);
    expect(JSON.stringify(feed.stats())).not.toContain(TOKEN);
  });
});
