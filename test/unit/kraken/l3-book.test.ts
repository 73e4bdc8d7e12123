import { describe, expect, it } from 'vitest';
import { l3Checksum } from '../../../src/kraken/checksum.ts';
import { L3Book } from '../../../src/kraken/l3-book.ts';

const o = (id: string, p: string, q: string) => ({ order_id: id, limit_price: p, order_qty: q, timestamp: '2025-01-01T00:00:00.000000000Z' });
const lvl = (...os: { limit_price: string; order_qty: string }[]) => ({ orders: os });

describe('L3Book', () => {
  it('keeps queue order, counts events and verifies checksums', () => {
    const b = new L3Book('X/Y', 10);
    const a1 = o('A1', '10.1', '1.000'); const a2 = o('A2', '10.1', '2.000'); const a3 = o('A3', '10.2', '1.500');
    const b1 = o('B1', '10.0', '0.500'); const b2 = o('B2', '9.9', '4.000');
    const snap = b.applySnapshot({ bids: [b1, b2], asks: [a1, a2, a3], checksum: l3Checksum([lvl(a1, a2), lvl(a3)], [lvl(b1), lvl(b2)]) });
    expect(snap.ok).toBe(true);
    expect(snap.stats.adds).toBe(5);
    expect(b.queueAtTouch()).toEqual({ bid: { price: '10.0', orders: 1, qty: '0.5' }, ask: { price: '10.1', orders: 2, qty: '3' } });

    // A1 partly filled (modify keeps its place), B1 filled (delete), new bid B3 queues behind nothing at 10.0.
    const a1m = o('A1', '10.1', '0.250');
    const b3 = o('B3', '10.0', '1.000');
    const upd = b.applyUpdate({
      bids: [{ ...b1, event: 'delete' as const }, { ...b3, event: 'add' as const }],
      asks: [{ ...a1m, event: 'modify' as const }],
      checksum: l3Checksum([lvl(a1m, a2), lvl(a3)], [lvl(b3), lvl(b2)]),
    });
    expect(upd.ok).toBe(true);
    const { adds, modifies, deletes, qtyAdded, qtyRemoved, anomalies } = upd.stats;
    expect({ adds, modifies, deletes, qtyAdded, qtyRemoved, anomalies }).toEqual({ adds: 1, modifies: 1, deletes: 1, qtyAdded: '1', qtyRemoved: '1.25', anomalies: 0 });
    expect(b.levels('ask')[0]!.orders.map((x) => x.order_id)).toEqual(['A1', 'A2']);
    expect(b.queueAtTouch().ask).toEqual({ price: '10.1', orders: 2, qty: '2.25' });

    // Wrong queue order → checksum mismatch.
    expect(b.applyUpdate({ bids: [], asks: [], checksum: l3Checksum([lvl(a2, a1m), lvl(a3)], [lvl(b3), lvl(b2)]) }).ok).toBe(false);
  });

  it('flags anomalies: unknown delete, repeated add', () => {
    const b = new L3Book('X/Y', 10);
    b.applySnapshot({ bids: [o('B1', '1.0', '1')], asks: [], checksum: 0 });
    const r = b.applyUpdate({ bids: [{ ...o('Z', '1.0', '1'), event: 'delete' }, { ...o('B1', '1.0', '1'), event: 'add' }], asks: [], checksum: 0 });
    expect(r.stats.anomalies).toBe(2);
    expect(b.orderCount).toBe(1);
  });

  it('truncates to depth in price levels', () => {
    const b = new L3Book('X/Y', 2);
    b.applySnapshot({ bids: [o('1', '3', '1'), o('2', '2', '1'), o('3', '1', '1')], asks: [], checksum: 0 });
    expect(b.levels('bid').map((l) => l.price)).toEqual(['3', '2']);
    expect(b.order('3')).toBeUndefined();
    expect(b.orderCount).toBe(2);
  });
});
