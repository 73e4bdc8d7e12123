// The simulator over a real socket: envelope, acks, errors, ping/pong, heartbeat, status, idle close.
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../src/sim/index.ts';
import type { KrakenWsMessage } from '../../../src/kraken/messages.ts';
import { TestClient } from './client.ts';

type Ack = Extract<KrakenWsMessage, { kind: 'ack' }>;
const isAck = (m: KrakenWsMessage): m is Ack => m.kind === 'ack';

let sim: Simulator | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await sim?.close();
  sim = undefined;
});
async function connect(s: Simulator): Promise<TestClient> {
  const c = await TestClient.connect(s.url);
  clients.push(c);
  return c;
}

describe('simulator protocol', () => {
  it('listens on loopback and sends status with a connection_id above 2^53 as a bare integer', async () => {
    sim = await startSimulator({ seed: 'p1', paused: true });
    expect(sim.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v2$/);
    const c = await connect(sim);
    const st = await c.waitFor((m) => m.kind === 'status');
    if (st.kind !== 'status') throw new Error('status');
    const id = st.data[0]!.connection_id;
    expect(BigInt(id) > 2n ** 53n).toBe(true);
    expect(c.received[0]!.raw).toContain(`"connection_id":${id},`);
    expect(st.data[0]!.system).toBe('online');
  });

  it('acks per symbol echoing req_id, with failures for unknown pairs', async () => {
    sim = await startSimulator({ seed: 'p2', paused: true });
    const c = await connect(sim);
    c.send({ method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/USD', 'FOO/BAR', 'ETH/USD'] }, req_id: 42 });
    await c.until((x) => x.count(isAck) >= 3, 10_000, 'three acks');
    const acks = c.messages().filter(isAck);
    expect(acks.every((a) => a.req_id === 42 && a.method === 'subscribe')).toBe(true);
    const ok = acks.filter((a) => a.success);
    expect(ok.map((a) => a.success && a.result.symbol)).toEqual(['BTC/USD', 'ETH/USD']);
    const bad = acks.find((a) => !a.success);
    expect(bad && !bad.success && bad.error).toBe('Currency pair not supported FOO/BAR');
    // Ticker snapshots follow the successful acks.
    await c.until((x) => x.count((m) => m.kind === 'ticker' && m.type === 'snapshot') === 2, 10_000, 'ticker snapshots');
    // Subscribing again is an error; unsubscribing acks.
    c.send({ method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/USD'] }, req_id: 43 });
    c.send({ method: 'unsubscribe', params: { channel: 'ticker', symbol: ['BTC/USD'] }, req_id: 44 });
    c.send({ method: 'unsubscribe', params: { channel: 'ticker', symbol: ['BTC/USD'] }, req_id: 45 });
    await c.until((x) => x.count((m) => isAck(m) && (m.req_id ?? 0) >= 43) >= 3, 10_000, 'acks 43-45');
    const later = c.messages().filter(isAck).filter((a) => (a.req_id ?? 0) >= 43);
    expect(later.map((a) => [a.req_id, a.success, a.success ? '' : a.error])).toEqual([
      [43, false, 'Already subscribed'], [44, true, ''], [45, false, 'Subscription Not Found'],
    ]);
  });

  it('rejects bad params: unsupported depth, level3 without token, unknown channel', async () => {
    sim = await startSimulator({ seed: 'p3', paused: true, l3Token: 'secret' });
    const c = await connect(sim);
    c.subscribe({ channel: 'book', symbol: ['BTC/USD'], depth: 15 });
    c.subscribe({ channel: 'level3', symbol: ['BTC/USD'] });
    c.subscribe({ channel: 'level3', symbol: ['BTC/USD'], token: 'wrong' });
    c.subscribe({ channel: 'level3', symbol: ['BTC/USD'], depth: 25, token: 'secret' });
    c.subscribe({ channel: 'ohlc', symbol: ['BTC/USD'] });
    c.subscribe({ channel: 'level3', symbol: ['BTC/USD'], token: 'secret' });
    await c.until((x) => x.count(isAck) >= 6, 10_000, 'six acks');
    const acks = c.messages().filter(isAck);
    const byId = (id: number) => acks.find((a) => a.req_id === id)!;
    const err = (id: number) => { const a = byId(id); return a.success ? 'success' : a.error; };
    expect(err(1)).toMatch(/depth/);
    expect(err(2)).toMatch(/[Tt]oken/);
    expect(err(3)).toMatch(/[Tt]oken/);
    expect(err(4)).toMatch(/depth/);
    expect(err(5)).toMatch(/ohlc/);
    expect(byId(6).success).toBe(true);
    await c.waitFor((m) => m.kind === 'level3_snapshot', 10_000, 'level3 snapshot');
  });

  it('answers ping with pong (req_id, time_in, time_out) and sends heartbeats when idle', async () => {
    sim = await startSimulator({ seed: 'p4', paused: true, heartbeatMs: 200 });
    const c = await connect(sim);
    c.send({ method: 'ping', req_id: 7 });
    const pong = await c.waitFor((m) => m.kind === 'pong');
    if (pong.kind !== 'pong') throw new Error('pong');
    expect(pong.req_id).toBe(7);
    expect(Date.parse(pong.time_out)).toBeGreaterThanOrEqual(Date.parse(pong.time_in));
    await c.until((x) => x.count((m) => m.kind === 'heartbeat') >= 2, 10_000, 'heartbeats');
  });

  it('closes a connection without client traffic after the idle timeout', async () => {
    sim = await startSimulator({ seed: 'p5', paused: true, idleTimeoutMs: 300 });
    const c = await connect(sim);
    await c.until((x) => x.closed, 10_000, 'idle close');
    expect(sim.connections()).toBe(0);
  });

  it('sends instrument data with precisions, and numbers with trailing zeros', async () => {
    sim = await startSimulator({ seed: 'p6', paused: true });
    const c = await connect(sim);
    c.subscribe({ channel: 'instrument' });
    c.subscribe({ channel: 'book', symbol: ['BTC/USD'], depth: 10 });
    const inst = await c.waitFor((m) => m.kind === 'instrument');
    if (inst.kind !== 'instrument') throw new Error('instrument');
    expect(inst.data.pairs.map((p) => p.symbol)).toEqual(sim.market.symbols());
    const btc = inst.data.pairs.find((p) => p.symbol === 'BTC/USD')!;
    expect(btc).toMatchObject({ base: 'BTC', quote: 'USD', status: 'online', price_precision: 1, qty_precision: 8, price_increment: '0.1', qty_increment: '0.00000001' });
    expect(inst.data.assets.map((a) => a.id)).toContain('BTC');
    await c.waitFor((m) => m.kind === 'book');
    const raw = c.received.find((r) => r.raw.startsWith('{"channel":"book"'))!.raw;
    // Every qty is written with exactly 8 decimals, every BTC/USD price with 1.
    const qtys = [...raw.matchAll(/"qty":([0-9.]+)/g)].map((x) => x[1]!);
    expect(qtys.length).toBeGreaterThan(10);
    for (const q of qtys) expect(q).toMatch(/^\d+\.\d{8}$/);
    expect(qtys.some((q) => q.endsWith('0'))).toBe(true);
    for (const p of raw.matchAll(/"price":([0-9.]+)/g)) expect(p[1]).toMatch(/^\d+\.\d$/);
  });

  it('sends a trade snapshot only when asked for', async () => {
    sim = await startSimulator({ seed: 'p7', paused: true });
    sim.market.step(3000);
    const c = await connect(sim);
    c.subscribe({ channel: 'trade', symbol: ['BTC/USD'] });
    c.subscribe({ channel: 'trade', symbol: ['ETH/USD'], snapshot: true });
    await c.until((x) => x.count(isAck) >= 2);
    const snap = await c.waitFor((m) => m.kind === 'trade' && m.type === 'snapshot');
    if (snap.kind !== 'trade') throw new Error('trade');
    expect(snap.data.length).toBe(50);
    expect(snap.data.every((t) => t.symbol === 'ETH/USD')).toBe(true);
    c.send({ method: 'ping', req_id: 99 });
    await c.waitFor((m) => m.kind === 'pong');
    expect(c.count((m) => m.kind === 'trade' && m.type === 'snapshot')).toBe(1);
  });
});
