// Book, level3 and trade feeds over a real socket, verified with the protocol library, plus
// sentCounts against what the clients counted.
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../src/sim/index.ts';
import { L2Book } from '../../../src/kraken/l2-book.ts';
import { L3Book } from '../../../src/kraken/l3-book.ts';
import { compareDecimalText } from '../../../src/kraken/decimal-text.ts';
import type { KrakenWsMessage } from '../../../src/kraken/messages.ts';
import { TestClient } from './client.ts';

let sim: Simulator | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await sim?.close();
  sim = undefined;
});

const dataCount = (c: TestClient) => c.received.filter((r) => /^\{"channel":"(book|level3|trade|ticker|instrument)"/.test(r.raw)).length;
const sentData = (s: Simulator, i: number) => {
  const ch = s.sentCounts(i).channels;
  let n = 0;
  for (const bySym of Object.values(ch)) for (const c of Object.values(bySym)) n += c.messages;
  return n;
};

describe('simulator feeds over the wire', () => {
  it('book at every depth and level3 at every depth verify through L2Book/L3Book; counts match', async () => {
    // No heartbeats during this test: one sent to an idle connection just before the final count
    // would not have arrived yet, and the totals below compare frames sent with frames received.
    sim = await startSimulator({ seed: 'wire', paused: true, clock: 'sim', l3Token: 't', heartbeatMs: 3_600_000 });
    const symbols = sim.market.symbols();
    const bookDepths = [10, 25, 100, 500, 1000];
    const l3Depths = [10, 100, 1000];
    const bookClients = await Promise.all(bookDepths.map(() => TestClient.connect(sim!.url)));
    const l3Clients = await Promise.all(l3Depths.map(() => TestClient.connect(sim!.url)));
    clients.push(...bookClients, ...l3Clients);
    bookClients.forEach((c, i) => c.subscribe({ channel: 'book', symbol: symbols, depth: bookDepths[i] }));
    l3Clients.forEach((c, i) => c.subscribe({ channel: 'level3', symbol: symbols, depth: l3Depths[i], token: 't' }));
    for (const c of [...bookClients, ...l3Clients]) await c.until((x) => x.count((m) => m.kind === 'ack') === symbols.length);
    sim.market.step(4000);
    const all = [...bookClients, ...l3Clients];
    for (let i = 0; i < all.length; i++) await all[i]!.until((c) => dataCount(c) === sentData(sim!, i), 30_000, `client ${i} data`);

    let verified = 0;
    bookClients.forEach((c, i) => {
      const books = new Map(symbols.map((s) => [s, new L2Book(s, bookDepths[i]!)]));
      for (const m of c.messages()) {
        if (m.kind !== 'book') continue;
        const d = m.data[0]!;
        const r = books.get(d.symbol)!.apply(m.type, d);
        expect(r.ok, `${d.symbol} depth ${bookDepths[i]}`).toBe(true);
        verified++;
      }
      for (const s of symbols) {
        const simBook = sim!.market.book(s)!;
        expect(books.get(s)!.bids()).toEqual(simBook.topLevels('bid', bookDepths[i]!));
        expect(books.get(s)!.asks()).toEqual(simBook.topLevels('ask', bookDepths[i]!));
      }
    });
    l3Clients.forEach((c, i) => {
      const books = new Map(symbols.map((s) => [s, new L3Book(s, l3Depths[i]!)]));
      for (const m of c.messages()) {
        if (m.kind === 'level3_snapshot') expect(books.get(m.data[0]!.symbol)!.applySnapshot(m.data[0]!).ok).toBe(true);
        if (m.kind === 'level3_update') {
          const r = books.get(m.data[0]!.symbol)!.applyUpdate(m.data[0]!);
          expect(r.ok).toBe(true);
          expect(r.stats.anomalies).toBe(0);
          verified++;
        }
      }
      for (const s of symbols) expect(books.get(s)!.checksum()).toBe(sim!.market.checksums(s)!.level3);
    });
    expect(verified).toBeGreaterThan(20_000);

    // sentCounts per connection equals what that client counted, message by message and row by row.
    all.forEach((c, i) => {
      const counts = sim!.sentCounts(i);
      for (const s of symbols) {
        const ch = bookDepths[i] !== undefined && i < bookClients.length ? 'book' : 'level3';
        const msgs = c.messages().filter((m): m is Extract<KrakenWsMessage, { kind: 'book' | 'level3_snapshot' | 'level3_update' }> =>
          (m.kind === 'book' || m.kind === 'level3_snapshot' || m.kind === 'level3_update') && m.data[0]!.symbol === s);
        const rows = msgs.reduce((n, m) => n + m.data[0]!.bids.length + m.data[0]!.asks.length, 0);
        expect(counts.channels[ch]![s]).toEqual({ messages: msgs.length, snapshots: 1, updates: msgs.length - 1, rows });
      }
    });
    const total = sim.sentCounts();
    expect(total.messages).toBe(all.reduce((n, c) => n + c.received.length, 0));
  });

  it('trades are consistent with the book: each sweep starts at the touch before it', async () => {
    sim = await startSimulator({ seed: 'trades', paused: true, clock: 'sim' });
    const c = await TestClient.connect(sim.url);
    clients.push(c);
    const symbols = ['BTC/USD', 'SOL/USD', 'DOGE/USD'];
    c.subscribe({ channel: 'book', symbol: symbols, depth: 25 });
    c.subscribe({ channel: 'trade', symbol: symbols });
    await c.until((x) => x.count((m) => m.kind === 'ack') === 6);
    sim.market.step(6000);
    await c.until((x) => dataCount(x) === sentData(sim!, 0), 30_000, 'all data');
    const books = new Map(symbols.map((s) => [s, new L2Book(s, 25)]));
    const before = new Map<string, { bid: string; ask: string }>();
    let tradeRows = 0;
    for (const m of c.messages()) {
      if (m.kind === 'book') {
        const d = m.data[0]!;
        const b = books.get(d.symbol)!;
        before.set(d.symbol, { bid: b.bestBid()?.price ?? '', ask: b.bestAsk()?.price ?? '' });
        expect(b.apply(m.type, d).ok).toBe(true);
        const bb = b.bestBid(); const ba = b.bestAsk();
        if (bb && ba) expect(compareDecimalText(bb.price, ba.price)).toBe(-1);
      }
      if (m.kind === 'trade') {
        const sym = m.data[0]!.symbol;
        const touch = before.get(sym)!;
        const first = m.data[0]!;
        expect(first.price).toBe(first.side === 'buy' ? touch.ask : touch.bid);
        for (let i = 1; i < m.data.length; i++) {
          const t = m.data[i]!;
          expect(t.side).toBe(first.side);
          expect(compareDecimalText(t.price, m.data[i - 1]!.price) * (first.side === 'buy' ? 1 : -1)).toBeGreaterThanOrEqual(0);
          expect(t.trade_id).toBe(m.data[i - 1]!.trade_id + 1);
        }
        tradeRows += m.data.length;
      }
    }
    expect(tradeRows).toBeGreaterThan(500);
    const sentRows = symbols.reduce((n, s) => n + (sim!.sentCounts().channels.trade?.[s]?.rows ?? 0), 0);
    expect(sentRows).toBe(tradeRows);
  });

  it('ticker follows trades (default) or the best bid/offer', async () => {
    sim = await startSimulator({ seed: 'ticker', paused: true, clock: 'sim' });
    const c = await TestClient.connect(sim.url);
    clients.push(c);
    c.subscribe({ channel: 'ticker', symbol: ['BTC/USD'] });
    c.subscribe({ channel: 'ticker', symbol: ['ETH/USD'], event_trigger: 'bbo' });
    c.subscribe({ channel: 'trade', symbol: ['BTC/USD'] });
    await c.until((x) => x.count((m) => m.kind === 'ack') === 3);
    sim.market.step(2000);
    await c.until((x) => dataCount(x) === sentData(sim!, 0), 30_000, 'all data');
    const tickers = c.messages().filter((m) => m.kind === 'ticker' && m.type === 'update');
    const btcTrades = c.count((m) => m.kind === 'trade');
    expect(tickers.filter((m) => m.kind === 'ticker' && m.data[0]!.symbol === 'BTC/USD').length).toBe(btcTrades);
    expect(tickers.filter((m) => m.kind === 'ticker' && m.data[0]!.symbol === 'ETH/USD').length).toBeGreaterThan(10);
    for (const m of tickers) if (m.kind === 'ticker') expect(compareDecimalText(m.data[0]!.bid, m.data[0]!.ask)).toBe(-1);
  });

  it('rate max with 120 pairs keeps checksums valid and stops when a reader stops reading', async () => {
    sim = await startSimulator({ seed: 'max', pairs: 120, rate: 'max', highWaterBytes: 256 * 1024 });
    const symbols = sim.market.symbols();
    expect(symbols).toHaveLength(120);
    const c = await TestClient.connect(sim.url);
    clients.push(c);
    c.subscribe({ channel: 'book', symbol: symbols, depth: 10 });
    await c.until((x) => x.count((m) => m.kind === 'book') > 20_000, 60_000, '20k book messages');
    const books = new Map<string, L2Book>();
    let fails = 0;
    for (const m of c.messages()) {
      if (m.kind !== 'book') continue;
      const d = m.data[0]!;
      let b = books.get(d.symbol);
      if (!b) { b = new L2Book(d.symbol, 10); books.set(d.symbol, b); }
      if (!b.apply(m.type, d).ok) fails++;
    }
    expect(fails).toBe(0);
    expect(books.size).toBe(120);
    // Backpressure: with the client's socket paused the market must stop stepping (bounded memory).
    (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    let last = -1;
    let stable = 0;
    const deadline = Date.now() + 30_000;
    while (stable < 5 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const s = sim.market.steps;
      stable = s === last ? stable + 1 : 0;
      last = s;
    }
    expect(stable).toBe(5);
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await c.until(() => sim!.market.steps > last, 30_000, 'stepping resumes');
  });
});
