// Each fault is observable by a client using the protocol library.
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../src/sim/index.ts';
import { parseFaultSpec } from '../../../src/sim/faults.ts';
import { L2Book } from '../../../src/kraken/l2-book.ts';
import { L3Book } from '../../../src/kraken/l3-book.ts';
import { TestClient } from './client.ts';

let sim: Simulator | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await sim?.close();
  sim = undefined;
});
async function setup(opts: Parameters<typeof startSimulator>[0], subs: Record<string, unknown>[]): Promise<TestClient> {
  sim = await startSimulator({ paused: true, clock: 'sim', ...opts });
  const c = await TestClient.connect(sim.url);
  clients.push(c);
  let acks = 0;
  for (const s of subs) { c.subscribe(s); acks += Array.isArray(s.symbol) ? s.symbol.length : 1; }
  await c.until((x) => x.count((m) => m.kind === 'ack') === acks);
  return c;
}
const bookFailures = (c: TestClient, symbol?: string) => {
  const books = new Map<string, L2Book>();
  let fails = 0;
  for (const m of c.messages()) {
    if (m.kind !== 'book') continue;
    const d = m.data[0]!;
    if (symbol && d.symbol !== symbol) continue;
    let b = books.get(d.symbol);
    if (!b) { b = new L2Book(d.symbol, 10); books.set(d.symbol, b); }
    if (!b.apply(m.type, d).ok) fails++;
  }
  return fails;
};
const settle = async (c: TestClient) => {
  const id = Math.floor(Math.random() * 1e6);
  c.send({ method: 'ping', req_id: id });
  await c.waitFor((m) => m.kind === 'pong' && m.req_id === id);
};

describe('fault injection', () => {
  it('corrupt-checksum hits only the chosen symbol', async () => {
    const c = await setup({ seed: 'f1', faults: { corruptChecksum: ['BTC/USD'] } }, [{ channel: 'book', symbol: ['BTC/USD', 'ETH/USD'] }]);
    sim!.market.step(1000);
    await settle(c);
    expect(bookFailures(c, 'BTC/USD')).toBeGreaterThan(50);
    expect(bookFailures(c, 'ETH/USD')).toBe(0);
    sim!.setFaults({ corruptChecksum: [] });
    expect(sim!.sentCounts().faults.corrupted).toBeGreaterThan(50);
  });

  it('stall sends nothing at all (no heartbeats, no pongs) until lifted', async () => {
    const c = await setup({ seed: 'f2', heartbeatMs: 100 }, [{ channel: 'book', symbol: ['BTC/USD'] }]);
    sim!.setFaults({ stall: true });
    const n = c.received.length;
    sim!.market.step(500);
    c.send({ method: 'ping', req_id: 1 });
    await new Promise((r) => setTimeout(r, 600));
    expect(c.received.length).toBe(n);
    expect(sim!.sentCounts().faults.suppressed).toBeGreaterThan(10);
    sim!.setFaults({ stall: false });
    await c.until((x) => x.count((m) => m.kind === 'heartbeat') > 0, 10_000, 'heartbeat after stall');
  });

  it('malformed JSON frames are injected and fail to parse; the rest still verifies', async () => {
    const c = await setup({ seed: 'f3', faults: { malformedEvery: 10 } }, [{ channel: 'book', symbol: ['ETH/USD'] }]);
    sim!.market.step(3000);
    sim!.injectMalformed();
    await settle(c);
    const bad = c.received.filter((r) => !r.parsed.ok);
    expect(bad.length).toBe(sim!.sentCounts().faults.malformed);
    expect(bad.length).toBeGreaterThan(5);
    expect(bad.every((r) => !r.parsed.ok && r.parsed.error.startsWith('invalid JSON'))).toBe(true);
    expect(bookFailures(c)).toBe(0);
  });

  it('repeat duplicates messages (duplicate trade ids, L3 anomalies)', async () => {
    const c = await setup({ seed: 'f4', faults: { repeatEvery: 5 } }, [
      { channel: 'trade', symbol: ['SOL/USD'] }, { channel: 'level3', symbol: ['SOL/USD'], token: 'x' },
    ]);
    sim!.market.step(1500);
    await settle(c);
    const ids = c.messages().flatMap((m) => (m.kind === 'trade' ? m.data.map((t) => t.trade_id) : []));
    expect(new Set(ids).size).toBeLessThan(ids.length);
    const book = new L3Book('SOL/USD', 10);
    let anomalies = 0;
    for (const m of c.messages()) {
      if (m.kind === 'level3_snapshot') book.applySnapshot(m.data[0]!);
      if (m.kind === 'level3_update') anomalies += book.applyUpdate(m.data[0]!).stats.anomalies;
    }
    expect(anomalies).toBeGreaterThan(0);
    expect(sim!.sentCounts().faults.repeated).toBeGreaterThan(0);
  });

  it('reorder swaps updates (timestamps go backwards, checksums fail)', async () => {
    const c = await setup({ seed: 'f5', faults: { reorderEvery: 7 } }, [{ channel: 'book', symbol: ['BTC/USD'] }]);
    sim!.market.step(1000);
    await settle(c);
    const stamps = c.messages().flatMap((m) => (m.kind === 'book' && m.type === 'update' ? [m.data[0]!.timestamp!] : []));
    let backwards = 0;
    for (let i = 1; i < stamps.length; i++) if (stamps[i]! < stamps[i - 1]!) backwards++;
    expect(backwards).toBeGreaterThan(5);
    expect(bookFailures(c)).toBeGreaterThan(0);
  });

  it('unknown fields are tolerated by the parser and checksums still verify', async () => {
    const c = await setup({ seed: 'f6', faults: { unknownFields: true } }, [{ channel: 'book', symbol: ['XRP/USD'] }, { channel: 'trade', symbol: ['XRP/USD'] }]);
    sim!.market.step(2000);
    await settle(c);
    expect(c.received.filter((r) => r.raw.includes('x_sim_extra')).length).toBeGreaterThan(50);
    expect(c.received.every((r) => r.parsed.ok)).toBe(true);
    expect(bookFailures(c)).toBe(0);
  });

  it('drop: immediate, and after N data messages', async () => {
    const c = await setup({ seed: 'f7' }, [{ channel: 'book', symbol: ['BTC/USD'] }]);
    expect(sim!.dropConnections()).toBe(1);
    await c.until((x) => x.closed, 10_000, 'drop');
    expect(c.closeCode).toBe(1006);
    sim!.setFaults({ dropAfterMessages: 20 });
    const d = await TestClient.connect(sim!.url);
    clients.push(d);
    d.subscribe({ channel: 'book', symbol: ['BTC/USD', 'ETH/USD'] });
    await d.until((x) => x.count((m) => m.kind === 'ack') === 2);
    sim!.market.step(2000);
    await d.until((x) => x.closed, 10_000, 'drop after 20');
    expect(d.count((m) => m.kind === 'book')).toBe(20);
  });

  it('pair status cancel_only: instrument update, and the pair stops trading', async () => {
    const c = await setup({ seed: 'f8' }, [{ channel: 'instrument' }, { channel: 'trade', symbol: ['BTC/USD', 'ETH/USD'] }]);
    sim!.setPairStatus('BTC/USD', 'cancel_only');
    const upd = await c.waitFor((m) => m.kind === 'instrument' && m.type === 'update');
    if (upd.kind !== 'instrument') throw new Error('instrument');
    expect(upd.data.pairs).toEqual([expect.objectContaining({ symbol: 'BTC/USD', status: 'cancel_only' })]);
    const before = c.count((m) => m.kind === 'trade');
    sim!.market.step(3000);
    sim!.setSystemStatus('maintenance');
    await c.waitFor((m) => m.kind === 'status' && m.data[0]!.system === 'maintenance');
    const trades = c.messages().slice(0).filter((m) => m.kind === 'trade');
    expect(trades.length).toBeGreaterThan(before);
    expect(trades.every((m) => m.kind === 'trade' && m.data[0]!.symbol === 'ETH/USD')).toBe(true);
  });

  it('parses --fault specs', () => {
    expect(parseFaultSpec('corrupt-checksum:BTC/USD').faults).toEqual({ corruptChecksum: ['BTC/USD'] });
    expect(parseFaultSpec('malformed:50').faults).toEqual({ malformedEvery: 50 });
    expect(parseFaultSpec('cancel-only:ETH/USD').pairStatus).toEqual({ symbol: 'ETH/USD', status: 'cancel_only' });
    expect(() => parseFaultSpec('explode')).toThrow(/unknown fault/);
    expect(() => parseFaultSpec('repeat:x')).toThrow(/positive integer/);
  });
});
