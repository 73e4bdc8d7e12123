import { describe, expect, it } from 'vitest';
import { l2Checksum, l2ChecksumInput, l3Checksum } from '../../../src/kraken/checksum.ts';
import { VECTOR } from './vector.ts';

describe('book checksum v2', () => {
  it('matches the public test vector', () => {
    expect(l2Checksum(VECTOR.asks, VECTOR.bids)).toBe(3310070434);
    expect(l2ChecksumInput(VECTOR.asks, VECTOR.bids).startsWith('452852100000')).toBe(true);
  });

  it('fails when trailing zeros are lost (JSON.parse)', () => {
    const lossy = (ls: typeof VECTOR.asks) => ls.map((l) => ({ price: String(Number(l.price)), qty: String(Number(l.qty)) }));
    expect(l2Checksum(lossy(VECTOR.asks), lossy(VECTOR.bids))).not.toBe(3310070434);
  });

  it('only hashes the top 10 levels per side', () => {
    const more = [...VECTOR.asks, { price: '45300.0', qty: '1.00000000' }];
    expect(l2Checksum(more, VECTOR.bids)).toBe(3310070434);
  });

  it('L3 with one order per level equals L2, and queue order matters', () => {
    const asL3 = (ls: typeof VECTOR.asks) => ls.map((l) => ({ orders: [{ limit_price: l.price, order_qty: l.qty }] }));
    expect(l3Checksum(asL3(VECTOR.asks), asL3(VECTOR.bids))).toBe(3310070434);
    const a = { limit_price: '45285.2', order_qty: '0.00100000' };
    const b = { limit_price: '45285.2', order_qty: '0.20000000' };
    const bids = asL3(VECTOR.bids);
    expect(l3Checksum([{ orders: [a, b] }], bids)).not.toBe(l3Checksum([{ orders: [b, a] }], bids));
  });
});
