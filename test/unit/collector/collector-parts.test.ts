// Pure parts of the collector: token-bucket pacing, universe selection, L2 sampling accounting.
import { describe, expect, it } from 'vitest';
import { L2Tracker } from '../../../src/collector/l2-tracker.ts';
import { kindOf } from '../../../src/collector/malformed.ts';
import { TokenBucket } from '../../../src/collector/token-bucket.ts';
import { selectUniverse } from '../../../src/collector/universe.ts';
import { l2Checksum } from '../../../src/kraken/checksum.ts';
import type { InstrumentPair } from '../../../src/kraken/messages.ts';

describe('TokenBucket', () => {
  it('allows a burst, then paces at the rate', () => {
    let now = 0;
    const b = new TokenBucket(5, 3, () => now);
    expect([b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([0, 0, 0]);
    expect(b.tryTake()).toBe(200);
    now += 200;
    expect(b.tryTake()).toBe(0);
    expect(b.tryTake()).toBeGreaterThan(0);
  });
});

const pair = (symbol: string, status: InstrumentPair['status'] = 'online'): InstrumentPair => ({
  symbol, base: symbol.split('/')[0]!, quote: symbol.split('/')[1]!, status, qty_precision: 8, qty_increment: '0.00000001',
  price_precision: 2, price_increment: '0.01', cost_precision: 5, cost_min: '0.5', qty_min: '0.1',
});

describe('selectUniverse', () => {
  it('filters by quote and status and keeps the top N by quote volume, exactly', () => {
    const pairs = [pair('A/USD'), pair('B/USD'), pair('C/USD', 'cancel_only'), pair('D/EUR'), pair('E/USD')];
    // 0.30000000000000001 vs 0.3: decimal, not float, comparison.
    const vol = new Map([['A/USD', '0.30000000000000001'], ['B/USD', '0.3'], ['C/USD', '99'], ['D/EUR', '99']]);
    const u = selectUniverse(pairs, vol, { quotes: ['usd'], topN: 2 });
    expect(u.map((p) => [p.symbol, p.inUniverse, p.liquidityRank])).toEqual([
      ['A/USD', true, 1], ['B/USD', true, 2], ['C/USD', false, null], ['E/USD', false, 3],
    ]);
    expect(selectUniverse(pairs, vol, { quotes: [], topN: 0 }).filter((p) => p.inUniverse).map((p) => p.symbol))
      .toEqual(['A/USD', 'B/USD', 'D/EUR', 'E/USD']);
  });
});

describe('L2Tracker sampling', () => {
  const lv = (price: string, qty: string) => ({ price, qty });
  const snap = { bids: [lv('10.0', '1.00')], asks: [lv('11.0', '2.00')] };
  const cs = (bids: { price: string; qty: string }[], asks: { price: string; qty: string }[]) => l2Checksum(asks, bids);

  it('folds updates within the interval and accounts for every message', () => {
    const t = new L2Tracker('X/USD', 10, 10, 250);
    const r0 = t.onMessage('snapshot', { ...snap, checksum: cs(snap.bids, snap.asks) }, 1000);
    expect(r0.rows.map((r) => [r.row.isSnapshot, r.row.updatesApplied, r.receivedMs])).toEqual([[true, 1, 1000]]);
    let bids = snap.bids;
    let n = 0;
    for (let i = 1; i <= 5; i++) {
      bids = [lv('10.0', `${i}.00`)];
      n += t.onMessage('update', { bids, asks: [], checksum: cs(bids, snap.asks) }, 1000 + i * 10).rows.length;
    }
    expect(n).toBe(0);
    const swept = t.sweep(1300)!;
    expect(swept).toMatchObject({ receivedMs: 1050, row: { updatesApplied: 5, checksumOk: true, bids: [{ price: '10.0', qty: '5.00' }] } });
    expect(t.sweep(1600)).toBeNull();
  });

  it('stores a mismatch at once, then ignores updates until a snapshot', () => {
    const t = new L2Tracker('X/USD', 10, 10, 250);
    t.onMessage('snapshot', { ...snap, checksum: cs(snap.bids, snap.asks) }, 0);
    const bad = t.onMessage('update', { bids: [lv('9.0', '1.00')], asks: [], checksum: 1 }, 10);
    expect(bad.mismatch).toBeDefined();
    expect(bad.rows.map((r) => [r.row.checksumOk, r.row.updatesApplied])).toEqual([[false, 1]]);
    expect(t.onMessage('update', { bids: [], asks: [], checksum: 1 }, 20)).toMatchObject({ ignored: true, rows: [] });
    expect(t.onMessage('snapshot', { ...snap, checksum: cs(snap.bids, snap.asks) }, 30).rows[0]!.row).toMatchObject({ isSnapshot: true, checksumOk: true });
    expect(t.valid).toBe(true);
  });
});

describe('malformed kinds', () => {
  it('groups parser errors into stable kinds', () => {
    expect(kindOf('invalid JSON: Unexpected end of JSON input')).toBe('invalid JSON');
    expect(kindOf('unknown message (channel foo)')).toBe('unknown channel foo');
    expect(kindOf('book: data.0.checksum: Expected number')).toBe('invalid book');
  });
});
