// In-process: the simulator's market and feed, applied through the protocol library's books.
import { describe, expect, it } from 'vitest';
import { L2Book } from '../../../src/kraken/l2-book.ts';
import { L3Book } from '../../../src/kraken/l3-book.ts';
import { l2Checksum, l3Checksum } from '../../../src/kraken/checksum.ts';
import { l2Touches, l3Events } from '../../../src/sim/feed.ts';
import { PairMarket } from '../../../src/sim/market.ts';
import { defaultPairs } from '../../../src/sim/pairs.ts';
import type { SimBook } from '../../../src/sim/book.ts';

const simL2 = (b: SimBook) => l2Checksum(b.topLevels('ask', 10), b.topLevels('bid', 10));
const simL3 = (b: SimBook) => {
  const v = (s: 'bid' | 'ask') => b.topOrderLevels(s, 10).map((l) => ({ orders: l.orders.map((o) => ({ limit_price: o.priceText, order_qty: o.qtyText })) }));
  return l3Checksum(v('ask'), v('bid'));
};
const ts = (n: bigint) => `${n}`;

describe('sim feed through L2Book / L3Book', () => {
  // One pair of each price process: ranging, trending, volatile, thin.
  const specs = defaultPairs(5).filter((_, i) => [0, 1, 2, 4].includes(i));

  for (const spec of specs) {
    it(`${spec.symbol} (${spec.process}): 10,000 steps keep every depth in sync`, () => {
      const m = new PairMarket(spec, 0, 'feed-test');
      const depths = [10, 25, 100, 500, 1000];
      const l3Depths = [10, 100, 1000];
      const l2 = depths.map((d) => new L2Book(spec.symbol, d));
      const l3 = l3Depths.map((d) => new L3Book(spec.symbol, d));
      const b = m.book;
      const cs2 = simL2(b);
      const cs3 = simL3(b);
      l2.forEach((book, i) => expect(book.applySnapshot({ bids: b.topLevels('bid', depths[i]!), asks: b.topLevels('ask', depths[i]!), checksum: cs2 }).ok).toBe(true));
      l3.forEach((book, i) => {
        const orders = (s: 'bid' | 'ask') => b.topOrderLevels(s, l3Depths[i]!).flatMap((l) => l.orders.map((o) => ({ order_id: o.id, limit_price: o.priceText, order_qty: o.qtyText, timestamp: ts(o.ts) })));
        expect(book.applySnapshot({ bids: orders('bid'), asks: orders('ask'), checksum: cs3 }).ok).toBe(true);
      });
      let failures = 0;
      let updates = 0;
      let trades = 0;
      let truncationsSeen = 0;
      for (let step = 1; step <= 10_000; step++) {
        const res = m.step(BigInt(step), 1000);
        if (res.events.length === 0) continue;
        trades += res.trades.length;
        const c2 = simL2(b);
        const c3 = simL3(b);
        depths.forEach((d, i) => {
          const bids = l2Touches(b, res, 'bid', d);
          const asks = l2Touches(b, res, 'ask', d);
          if (bids.length + asks.length === 0) return;
          updates++;
          if (!l2[i]!.applyUpdate({ bids, asks, checksum: c2 }).ok) failures++;
        });
        l3Depths.forEach((d, i) => {
          const conv = (os: ReturnType<typeof l3Events>) => os.map((o) => ({ event: o.event, order_id: o.order_id, limit_price: o.limit_price, order_qty: o.order_qty, timestamp: ts(o.ts) }));
          const bids = conv(l3Events(b, res, 'bid', d));
          const asks = conv(l3Events(b, res, 'ask', d));
          if (bids.length + asks.length === 0) return;
          const r = l3[i]!.applyUpdate({ bids, asks, checksum: c3 });
          if (!r.ok || r.stats.anomalies > 0) failures++;
        });
        if (b.bids.prices.length > 10) truncationsSeen++;
      }
      expect(failures).toBe(0);
      expect(updates).toBeGreaterThan(10_000);
      if (spec.process !== 'thin') { expect(trades).toBeGreaterThan(100); expect(truncationsSeen).toBeGreaterThan(0); }
      // Beyond the checksum (top 10): every level inside each depth is exactly the simulator's.
      depths.forEach((d, i) => {
        expect(l2[i]!.bids(d)).toEqual(b.topLevels('bid', d));
        expect(l2[i]!.asks(d)).toEqual(b.topLevels('ask', d));
      });
      l3Depths.forEach((d, i) => {
        const ids = (s: 'bid' | 'ask') => b.topOrderLevels(s, d).flatMap((l) => l.orders.map((o) => o.id));
        expect(l3[i]!.levels('bid', d).flatMap((l) => l.orders.map((o) => o.order_id))).toEqual(ids('bid'));
        expect(l3[i]!.levels('ask', d).flatMap((l) => l.orders.map((o) => o.order_id))).toEqual(ids('ask'));
      });
    });
  }

  it('trades consume resting orders from the touch, never cross the book', () => {
    const m = new PairMarket(defaultPairs(3)[2]!, 2, 'trades');
    let checked = 0;
    for (let step = 1; step <= 5000; step++) {
      const bestBid = m.book.bids.best();
      const bestAsk = m.book.asks.best();
      const res = m.step(BigInt(step), 0);
      const t0 = res.trades[0];
      if (t0) {
        expect(t0.price).toBe(t0.side === 'buy' ? bestAsk : bestBid);
        for (let i = 1; i < res.trades.length; i++) {
          const prev = res.trades[i - 1]!.price;
          const p = res.trades[i]!.price;
          expect(res.trades[i]!.side).toBe(t0.side);
          expect(t0.side === 'buy' ? p >= prev : p <= prev).toBe(true);
        }
        checked++;
      }
      const bb = m.book.bids.best();
      const ba = m.book.asks.best();
      if (bb !== undefined && ba !== undefined) expect(bb < ba).toBe(true);
    }
    expect(checked).toBeGreaterThan(200);
  });
});
