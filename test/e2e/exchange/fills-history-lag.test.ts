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

function exchange(opts: { fillsLookbackS?: number; tradePages?: number } = {}, log?: pino.Logger): KrakenExchange {
  const ex = createSimulatorExchange({ baseUrl: sim.url, ...creds, retryDelayMs: 1, log, ...opts });
  exchanges.push(ex);
  return ex;
}

async function buy(ex: KrakenExchange, symbol: string, qty: string): Promise<string> {
  const clientOrderId = `lag-${++n}`;
  await ex.addOrder({ clientOrderId, symbol, side: 'buy', orderType: 'market', qty, postOnly: false });
  return clientOrderId;
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
    const start = (await ex.fillsSince(null)).cursor;
    sim.faults.historyLagMs.set('BTC/USD', 5_000);
    const late = await buy(ex, 'BTC/USD', '0.01');
    clock += 1_000;
    const early = await buy(ex, 'ETH/USD', '0.1');
    clock += 1_000;
    const p1 = await ex.fillsSince(start);
    expect(p1.fills.map((f) => f.clientOrderId)).toEqual([early]);
    clock += 5_000; // the BTC trade is listed now, one second before the cursor's time
    const p2 = await ex.fillsSince(p1.cursor);
    expect(p2.fills.map((f) => f.clientOrderId)).toEqual([late]);
    expect((await ex.fillsSince(p2.cursor)).fills).toEqual([]);
    // The cursor covers the window: a restart from it returns nothing again.
    expect((await exchange().fillsSince(p2.cursor)).fills).toEqual([]);
  });

  it('without a look-back the late trade is skipped for good (why the look-back exists)', async () => {
    const ex = exchange({ fillsLookbackS: 0 });
    const start = (await ex.fillsSince(null)).cursor;
    sim.faults.historyLagMs.set('BTC/USD', 5_000);
    await buy(ex, 'BTC/USD', '0.01');
    clock += 1_000;
    const early = await buy(ex, 'ETH/USD', '0.1');
    clock += 1_000;
    const p1 = await ex.fillsSince(start);
    expect(p1.fills.map((f) => f.clientOrderId)).toEqual([early]);
    clock += 5_000;
    expect((await ex.fillsSince(p1.cursor)).fills).toEqual([]);
  });

  it('a lag longer than the look-back is not covered: the look-back bounds what it repairs', async () => {
    const ex = exchange({ fillsLookbackS: 2 });
    const start = (await ex.fillsSince(null)).cursor;
    sim.faults.historyLagMs.set('BTC/USD', 10_000);
    await buy(ex, 'BTC/USD', '0.01');
    clock += 5_000;
    const early = await buy(ex, 'ETH/USD', '0.1');
    const p1 = await ex.fillsSince(start);
    expect(p1.fills.map((f) => f.clientOrderId)).toEqual([early]);
    clock += 10_000;
    expect((await ex.fillsSince(p1.cursor)).fills).toEqual([]);
  });

  it('more trades than one call fetches: catches up from the cursor, every trade exactly once, and says so', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => { lines.push(String(c)); cb(); } }));
    // Two pages a call: the oldest page taken can be a short remainder holding only trades of the
    // one-second overlap, the full page after it moves the cursor.
    const ex = exchange({ tradePages: 2 }, log);
    let cursor = (await ex.fillsSince(null)).cursor;
    const placed: string[] = [];
    for (let i = 0; i < 160; i++) {
      placed.push(await buy(ex, 'ETH/USD', '0.01'));
      clock += 200; // Kraken's `start` is second-grained: a catch-up needs fewer than a page of trades per second
    }
    const got: string[] = [];
    for (let call = 0; call < 20; call++) {
      const page = await ex.fillsSince(cursor);
      got.push(...page.fills.map((f) => f.clientOrderId!));
      if (page.cursor === cursor) break;
      cursor = page.cursor;
    }
    expect(got).toEqual(placed);
    expect(lines.some((l) => l.includes('fills look-back skipped for one call'))).toBe(true);
  });

  it('random trades, lags below the look-back and polls at random times: every trade returned exactly once', async () => {
    // Several seeds, small pages (so the catch-up path runs too): the union of what the polls return
    // must be exactly the venue's trades, in no particular order, none twice.
    for (const seed of ['a', 'b', 'c']) {
      const rnd = new Prng(`fills-lag-${seed}`);
      const ex = exchange({ tradePages: 2 });
      // Catch up with the earlier tests' trades first (a call takes at most two pages).
      let cursor: string | null = null;
      for (let call = 0; call < 30; call++) {
        const page: { cursor: string } = await ex.fillsSince(cursor);
        if (page.cursor === cursor) break;
        cursor = page.cursor;
      }
      const before = new Set(sim.venue(creds.apiKey).allTrades().map((t) => t.txid));
      for (const s of ['BTC/USD', 'ETH/USD', 'SOL/USD']) sim.faults.historyLagMs.set(s, rnd.int(30_000));
      prices.setQuote('SOL/USD', '149.99', '150.01', '1000000');
      const got: string[] = [];
      for (let i = 0; i < 120; i++) {
        const [symbol, qty] = ([['BTC/USD', '0.01'], ['ETH/USD', '0.01'], ['SOL/USD', '0.1']] as const)[rnd.int(3)]!;
        await buy(ex, symbol, qty);
        clock += rnd.int(1_500);
        if (rnd.chance(0.3)) {
          const page = await ex.fillsSince(cursor);
          got.push(...page.fills.map((f) => f.tradeId));
          cursor = page.cursor;
        }
      }
      clock += 31_000; // every trade listed now
      for (let call = 0; call < 30; call++) {
        const page = await ex.fillsSince(cursor);
        got.push(...page.fills.map((f) => f.tradeId));
        if (page.cursor === cursor) break;
        cursor = page.cursor;
      }
      const all = sim.venue(creds.apiKey).allTrades().map((t) => t.txid).filter((id) => !before.has(id));
      expect(all).toHaveLength(120);
      expect(new Set(got).size).toBe(got.length);
      expect([...got].sort()).toEqual([...all].sort());
      sim.faults.clear();
    }
  });

  it('reads a cursor written before the look-back (ids without times: the trades at its time); refuses a malformed one', async () => {
    const ex = exchange();
    const start = (await ex.fillsSince(null)).cursor;
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
