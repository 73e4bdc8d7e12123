// Kraken's TradesHistory can list a trade late, and not equally late for every pair: a later trade of
// another pair may already be listed. The fills cursor then moves past the late trade's time, and
// without a look-back that trade is never returned (a fill lost for good: position, P&L and the
// order's state wrong). The simulator's historyLagMs fault produces exactly that order of listing.
import pino from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KrakenExchange } from '../../../src/exchange/kraken-exchange.ts';
import { createSimulatorExchange } from '../../../src/exchange/simulator.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { Prng } from '../../../src/sim/prng.ts';

const creds = generateSimCredentials();
let sim: PrivateRestServer;
let prices: ManualPriceSource;
let clock = Date.parse('2026-11-26T00:00:00Z');
const exchanges: KrakenExchange[] = [];
let n = 0;

function exchange(opts: { fillsLookbackS?: number; tradePages?: number; tradeDeepReads?: number } = {}, log?: pino.Logger): KrakenExchange {
  const ex = createSimulatorExchange({ baseUrl: sim.url, ...creds, retryDelayMs: 1, log, ...opts });
  exchanges.push(ex);
  return ex;
}

async function buy(ex: KrakenExchange, symbol: string, qty: string): Promise<string> {
  const clientOrderId = `lag-${++n}`;
  await ex.addOrder({ clientOrderId, symbol, side: 'buy', orderType: 'market', qty, postOnly: false });
  return clientOrderId;
}

/** Calls fillsSince until its cursor stops moving; every fill's trade id (or client id) in call order. */
async function drain(ex: KrakenExchange, cursor: string | null, by: 'tradeId' | 'clientOrderId' = 'tradeId', calls = 60): Promise<{ got: string[]; cursor: string | null }> {
  const got: string[] = [];
  for (let call = 0; call < calls; call++) {
    const page = await ex.fillsSince(cursor);
    got.push(...page.fills.map((f) => f[by]!));
    if (page.cursor === cursor) break;
    cursor = page.cursor;
  }
  return { got, cursor };
}

/** A cursor after every trade so far: the clock moves on past the look-back first, nothing is returned again. */
function freshCursor(ex: KrakenExchange): string {
  clock += 120_000;
  return ex.fillsCursorAt(new Date(clock));
}

/**
 * A BTC trade TradesHistory lists 5 s late, then an ETH trade a second later: the first poll, a second
 * after that, returns only the ETH one.
 */
async function lateThenEarly(ex: KrakenExchange): Promise<{ late: string; p1: Awaited<ReturnType<KrakenExchange['fillsSince']>> }> {
  const start = freshCursor(ex);
  sim.faults.historyLagMs.set('BTC/USD', 5_000);
  const late = await buy(ex, 'BTC/USD', '0.01');
  clock += 1_000;
  const early = await buy(ex, 'ETH/USD', '0.1');
  clock += 1_000;
  const p1 = await ex.fillsSince(start);
  expect(p1.fills.map((f) => f.clientOrderId)).toEqual([early]);
  return { late, p1 };
}

function warnings(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => { lines.push(String(c)); cb(); } }));
  return { log, lines };
}

beforeAll(async () => {
  prices = new ManualPriceSource();
  sim = await startPrivateRestServer({
    accounts: [{ ...creds, balances: { USD: '100000000', BTC: '10', ETH: '100' } }],
    prices,
    now: () => clock,
  });
});
afterAll(async () => {
  for (const ex of exchanges) await ex.close();
  await sim?.close();
});
beforeEach(() => {
  sim.faults.clear();
  prices.setQuote('BTC/USD', '59999.9', '60000.1', '1000');
  prices.setQuote('ETH/USD', '2999.99', '3000.01', '100000');
});

describe('fills listed late by TradesHistory', () => {
  it('a trade listed after a later trade of another pair is still returned, exactly once (default look-back)', async () => {
    const ex = exchange();
    const { late, p1 } = await lateThenEarly(ex);
    clock += 5_000; // the BTC trade is listed now, one second before the cursor's time
    const p2 = await ex.fillsSince(p1.cursor);
    expect(p2.fills.map((f) => f.clientOrderId)).toEqual([late]);
    expect((await ex.fillsSince(p2.cursor)).fills).toEqual([]);
    // The cursor covers the window: a restart from it returns nothing again.
    expect((await exchange().fillsSince(p2.cursor)).fills).toEqual([]);
  });

  it('without a look-back the late trade is skipped for good (why the look-back exists)', async () => {
    const ex = exchange({ fillsLookbackS: 0 });
    const { p1 } = await lateThenEarly(ex);
    clock += 5_000;
    expect((await ex.fillsSince(p1.cursor)).fills).toEqual([]);
  });

  it('a lag longer than the look-back is not covered: the look-back bounds what it repairs', async () => {
    const ex = exchange({ fillsLookbackS: 2 });
    const start = freshCursor(ex);
    sim.faults.historyLagMs.set('BTC/USD', 10_000);
    await buy(ex, 'BTC/USD', '0.01');
    clock += 5_000;
    const early = await buy(ex, 'ETH/USD', '0.1');
    const p1 = await ex.fillsSince(start);
    expect(p1.fills.map((f) => f.clientOrderId)).toEqual([early]);
    clock += 10_000;
    expect((await ex.fillsSince(p1.cursor)).fills).toEqual([]);
  });

  it('more trades than one call fetches: catches up, every trade exactly once, without skipping the look-back', async () => {
    const { log, lines } = warnings();
    // Two pages a call: the oldest page taken can be a short remainder holding only trades of the
    // one-second overlap, the full page after it moves the cursor.
    const ex = exchange({ tradePages: 2 }, log);
    const cursor = freshCursor(ex);
    const placed: string[] = [];
    for (let i = 0; i < 160; i++) {
      placed.push(await buy(ex, 'ETH/USD', '0.01'));
      clock += 200; // Kraken's `start` is second-grained: fewer than a call's pages of trades per second
    }
    expect((await drain(ex, cursor, 'clientOrderId')).got).toEqual(placed);
    expect(lines).toEqual([]);
  });

  it('a burst bigger than one call with a trade listed late inside the look-back: the cursor returns it, once', async () => {
    // Before, a call with more trades since the look-back start than it fetches read from the cursor
    // itself: the late trade (one second before the cursor) was never read while the burst lasted.
    const ex = exchange({ tradePages: 2 });
    const { late, p1 } = await lateThenEarly(ex);
    const burst: string[] = [];
    for (let i = 0; i < 160; i++) {
      burst.push(await buy(ex, 'ETH/USD', '0.01'));
      clock += 200;
    }
    // The BTC trade is listed now; 162 trades since the look-back start, a call takes at most 100.
    const got = (await drain(ex, p1.cursor, 'clientOrderId')).got;
    expect(got.filter((id) => id === late)).toEqual([late]);
    expect(got.filter((id) => id !== late)).toEqual(burst);
  });

  it('a late trade behind more already-seen look-back trades than one call fetches is still found', async () => {
    // The oldest pages from the look-back start hold only trades returned before: the call reads on
    // from the newest of them instead of jumping to the cursor (which would skip the late trade).
    const ex = exchange({ tradePages: 2 });
    let cursor: string | null = freshCursor(ex);
    const burst: string[] = [];
    for (let i = 0; i < 150; i++) {
      burst.push(await buy(ex, 'ETH/USD', '0.01'));
      clock += 100;
    }
    const first = await drain(ex, cursor, 'clientOrderId');
    expect(first.got).toEqual(burst);
    cursor = first.cursor;
    sim.faults.historyLagMs.set('BTC/USD', 5_000);
    const late = await buy(ex, 'BTC/USD', '0.01');
    clock += 3_000; // more than Kraken's one-second overlap behind the next cursor
    const after = await buy(ex, 'ETH/USD', '0.1');
    clock += 1_000;
    const p = await ex.fillsSince(cursor);
    expect(p.fills.map((f) => f.clientOrderId)).toEqual([after]);
    clock += 5_000; // the BTC trade is listed now, behind 150 seen trades of the look-back window
    const rest = await drain(ex, p.cursor, 'clientOrderId');
    expect(rest.got).toEqual([late]);
  });

  // 80 trades within 0.08 s, then one a second: with small pages (100 trades a read) the look-back
  // window holds more trades within two seconds than one read takes.
  async function denseThenSparse(tradeDeepReads?: number): Promise<string[]> {
    const { log, lines } = warnings();
    const ex = exchange({ tradePages: 2, tradeDeepReads }, log);
    const cursor = freshCursor(ex);
    const placed: string[] = [];
    for (let i = 0; i < 80; i++) {
      placed.push(await buy(ex, 'ETH/USD', '0.01'));
      clock += 1;
    }
    const dense = await drain(ex, cursor, 'clientOrderId');
    expect(dense.got).toEqual(placed);
    const later: string[] = [];
    let c = dense.cursor;
    for (let i = 0; i < 40; i++) {
      clock += 1_000;
      later.push(await buy(ex, 'ETH/USD', '0.01'));
      const page = await drain(ex, c, 'clientOrderId');
      expect(page.got).toEqual(later.slice(-1));
      c = page.cursor;
    }
    return lines;
  }

  it('more trades within two seconds than one read takes: deeper reads by offset keep the look-back', async () => {
    const lines = await denseThenSparse();
    expect(lines.filter((l) => l.includes('cut short') || l.includes('cannot move'))).toEqual([]);
  });

  it('more trades within two seconds than tradeDeepReads reads take: the look-back is cut short for that call, and it says so', async () => {
    // Paging is by time, second-grained: past its deeper reads the call reads from the cursor itself
    // (a trade listed late between them is left to the reconcile task).
    const lines = await denseThenSparse(1);
    expect(lines.some((l) => l.includes('fills look-back cut short for one call'))).toBe(true);
  });

  // 120 trades within 0.12 s, the cursor among them.
  async function denseAtCursor(tradeDeepReads?: number): Promise<{ got: string[]; placed: string[]; lines: string[] }> {
    const { log, lines } = warnings();
    const ex = exchange({ tradePages: 2, tradeDeepReads }, log);
    const cursor = freshCursor(ex);
    const placed: string[] = [];
    for (let i = 0; i < 120; i++) {
      placed.push(await buy(ex, 'ETH/USD', '0.01'));
      clock += 1;
    }
    const got = (await drain(ex, cursor, 'clientOrderId')).got;
    clock += 120_000; // later tests start behind this burst
    return { got, placed, lines };
  }

  it('more trades within two seconds than one read takes, the cursor among them: deeper reads return every one, once', async () => {
    const { got, placed, lines } = await denseAtCursor();
    expect(got).toEqual(placed);
    expect(lines.filter((l) => l.includes('cut short') || l.includes('cannot move'))).toEqual([]);
  });

  it('more trades within two seconds than tradeDeepReads reads take, the cursor among them: it cannot move, and says so', async () => {
    // The limit of paging by time (raise tradeDeepReads or tradePages): FILL_MISSING's rewind re-reads the
    // same seconds and stops there too; the unbooked fills then show as BALANCE_DRIFT, which halts new entries.
    const { got, placed, lines } = await denseAtCursor(1);
    expect(got.length).toBeLessThan(placed.length);
    expect(got).toEqual(placed.slice(0, got.length));
    expect(lines.some((l) => l.includes('fills cursor cannot move'))).toBe(true);
  });

  it('random trades with a burst bigger than one call and a dense one, lags below the look-back, random polls: every trade returned exactly once', async () => {
    // Several seeds, small pages (a call takes at most 100 trades, the burst is bigger, so calls read on
    // through the look-back), and a dense burst (150-249 trades within half a second: more within two
    // seconds than one read takes, so calls page deeper by offset): the union of what the polls return
    // must be exactly the venue's trades, in no particular order, none twice.
    for (const seed of ['a', 'b', 'c']) {
      const rnd = new Prng(`fills-lag-${seed}`);
      const ex = exchange({ tradePages: 2 });
      let cursor: string | null = freshCursor(ex);
      const before = new Set(sim.venue(creds.apiKey).allTrades().map((t) => t.txid));
      for (const s of ['BTC/USD', 'ETH/USD', 'SOL/USD']) sim.faults.historyLagMs.set(s, rnd.int(30_000));
      prices.setQuote('SOL/USD', '149.99', '150.01', '1000000');
      const got: string[] = [];
      const burstAt = rnd.int(120);
      const burstLength = 110 + rnd.int(60);
      const denseAt = (burstAt + 1 + rnd.int(118)) % 120;
      const denseLength = 150 + rnd.int(100);
      let placed = 0;
      for (let i = 0; i < 120; i++) {
        const inBurst = i === burstAt ? burstLength : i === denseAt ? denseLength : 1;
        for (let j = 0; j < inBurst; j++) {
          const [symbol, qty] = ([['BTC/USD', '0.01'], ['ETH/USD', '0.01'], ['SOL/USD', '0.1']] as const)[rnd.int(3)]!;
          await buy(ex, symbol, qty);
          placed++;
          clock += i === denseAt ? rnd.int(3) : inBurst > 1 ? 50 + rnd.int(100) : rnd.int(1_500);
          if (rnd.chance(0.3)) {
            const page = await ex.fillsSince(cursor);
            got.push(...page.fills.map((f) => f.tradeId));
            cursor = page.cursor;
          }
        }
      }
      clock += 31_000; // every trade listed now
      got.push(...(await drain(ex, cursor)).got);
      const all = sim.venue(creds.apiKey).allTrades().map((t) => t.txid).filter((id) => !before.has(id));
      expect(all).toHaveLength(placed);
      expect(new Set(got).size).toBe(got.length);
      expect([...got].sort()).toEqual([...all].sort());
      sim.faults.clear();
    }
  });

  it('reads a cursor written before the look-back (ids without times: the trades at its time); refuses a malformed one', async () => {
    const ex = exchange();
    const start = freshCursor(ex);
    const a = await buy(ex, 'ETH/USD', '0.1');
    clock += 1_000;
    const b = await buy(ex, 'ETH/USD', '0.1');
    const page = await ex.fillsSince(start);
    expect(page.fills.map((f) => f.clientOrderId)).toEqual([a, b]);
    const m = /^t:([\d.]+):(.*)$/.exec(page.cursor)!;
    const entries = new Map(m[2]!.split(',').map((e) => e.split('@') as [string, string]));
    const [aId, bId] = page.fills.map((f) => f.tradeId);
    expect(entries.get(bId!)).toBe(m[1]); // every seen trade with its time; b is the newest
    expect(Number(entries.get(aId!))).toBeLessThan(Number(m[1]));
    // Old format: only the trade at the cursor's time (b), without '@time'. The trades inside the
    // look-back that it does not list (a among them) come once more, the inbox drops them; b does not.
    const again = (await ex.fillsSince(`t:${m[1]}:${bId}`)).fills.map((f) => f.tradeId);
    expect(again).toContain(aId);
    expect(again).not.toContain(bId);
    await expect(ex.fillsSince(`t:${m[1]}:${bId}@soon`)).rejects.toThrow(/malformed cursor/);
  });

  it('rejects a negative look-back', () => {
    expect(() => exchange({ fillsLookbackS: -1 })).toThrow(/fillsLookbackS/);
  });
});
