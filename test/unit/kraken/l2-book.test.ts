import { describe, expect, it } from 'vitest';
import { l2Checksum } from '../../../src/kraken/checksum.ts';
import { formatScaled } from '../../../src/kraken/decimal-text.ts';
import { L2Book } from '../../../src/kraken/l2-book.ts';
import { Prng } from '../../../src/sim/prng.ts';
import { VECTOR } from './vector.ts';

describe('L2Book', () => {
  it('verifies the public vector as a snapshot', () => {
    const b = new L2Book('BTC/USD', 10);
    expect(b.applySnapshot({ ...VECTOR, checksum: 3310070434 }).ok).toBe(true);
    expect(b.bestBid()).toEqual({ price: '45283.5', qty: '0.10000000' });
    expect(b.bestAsk()).toEqual({ price: '45285.2', qty: '0.00100000' });
  });

  it('re-formats lossy numbers when precisions are known', () => {
    const lossy = (ls: typeof VECTOR.asks) => ls.map((l) => ({ price: String(Number(l.price)), qty: String(Number(l.qty)) }));
    const b = new L2Book('BTC/USD', 10, { pricePrecision: 1, qtyPrecision: 8 });
    expect(b.applySnapshot({ asks: lossy(VECTOR.asks), bids: lossy(VECTOR.bids), checksum: 3310070434 }).ok).toBe(true);
  });

  it('deletes on qty 0, applies touches in order and truncates to depth', () => {
    const b = new L2Book('X/Y', 3);
    const snap = {
      bids: [{ price: '10.0', qty: '1.00' }, { price: '9.0', qty: '1.00' }, { price: '8.0', qty: '1.00' }],
      asks: [{ price: '11.0', qty: '1.00' }, { price: '12.0', qty: '1.00' }, { price: '13.0', qty: '1.00' }],
    };
    b.applySnapshot({ ...snap, checksum: l2Checksum(snap.asks, [...snap.bids]) });
    // A better bid pushes 8.0 out (no delete sent); 9.0 touched twice, last value wins; 12.0 deleted.
    const upd = {
      bids: [{ price: '10.5', qty: '2.00' }, { price: '9.0', qty: '0.50' }, { price: '9.0', qty: '0.70' }],
      asks: [{ price: '12.0', qty: '0.00' }, { price: '14.0', qty: '3.00' }],
    };
    const expBids = [{ price: '10.5', qty: '2.00' }, { price: '10.0', qty: '1.00' }, { price: '9.0', qty: '0.70' }];
    const expAsks = [{ price: '11.0', qty: '1.00' }, { price: '13.0', qty: '1.00' }, { price: '14.0', qty: '3.00' }];
    const r = b.applyUpdate({ ...upd, checksum: l2Checksum(expAsks, expBids) });
    expect(r.ok).toBe(true);
    expect(b.bids()).toEqual(expBids);
    expect(b.asks()).toEqual(expAsks);
    // A wrong checksum is reported, not thrown.
    const bad = b.applyUpdate({ bids: [], asks: [], checksum: 1 });
    expect(bad.ok).toBe(false);
    expect(b.checksumFailures).toBe(1);
  });

  it('stays in sync over 10,000 random updates (independent model)', () => {
    const rng = new Prng('l2-random');
    const model = new Map<bigint, bigint>(); // price ticks → qty units, both sides by sign of price vs mid
    const mid = 500_000n;
    const book = new L2Book('R/USD', 1000);
    const text = (m: Map<bigint, bigint>, side: 'bid' | 'ask') => [...m.entries()]
      .filter(([p]) => (side === 'bid' ? p < mid : p > mid))
      .sort(([a], [b]) => (side === 'bid' ? (a > b ? -1 : 1) : (a < b ? -1 : 1)))
      .map(([p, q]) => ({ price: formatScaled(p, 1), qty: formatScaled(q, 8) }));
    let ok = 0;
    for (let i = 0; i < 10_000; i++) {
      const touches: { bids: { price: string; qty: string }[]; asks: { price: string; qty: string }[] } = { bids: [], asks: [] };
      const n = 1 + rng.int(4);
      for (let k = 0; k < n; k++) {
        const side = rng.chance(0.5) ? 'bid' : 'ask';
        const p = side === 'bid' ? mid - 1n - BigInt(rng.int(200)) : mid + 1n + BigInt(rng.int(200));
        const q = rng.chance(0.3) ? 0n : BigInt(1 + rng.int(1_000_000_000)) * (rng.chance(0.2) ? 10n : 1n);
        if (q === 0n) model.delete(p); else model.set(p, q);
        (side === 'bid' ? touches.bids : touches.asks).push({ price: formatScaled(p, 1), qty: formatScaled(q, 8) });
      }
      const checksum = l2Checksum(text(model, 'ask'), text(model, 'bid'));
      if (book.applyUpdate({ ...touches, checksum }).ok) ok++;
    }
    expect(ok).toBe(10_000);
    expect(book.bids(1000)).toEqual(text(model, 'bid'));
    expect(book.asks(1000)).toEqual(text(model, 'ask'));
  });
});
