// The simulator's L3 order book for one pair: the single source of truth. Prices are integer
// ticks and quantities integer units (bigint, scaled by the pair's precisions). Every change is
// recorded as an order-level event with the level total after it, so L2 and L3 feeds and the
// trades all derive from the same mutations.
import { crc32 } from 'node:zlib';
import { formatScaled } from '../kraken/decimal-text.ts';

export type Side = 'bid' | 'ask';

export interface SimOrder {
  id: string;
  side: Side;
  price: bigint;
  qty: bigint;
  /** Placement time, ns since epoch. */
  ts: bigint;
  priceText: string;
  qtyText: string;
  /** Checksum digits of price and qty (the scaled integers), cached for the hot path. */
  ck: string;
  /** Position in SimBook.all, for O(1) random picks and removal. */
  slot: number;
}

export interface SimLevel {
  price: bigint;
  priceText: string;
  priceDigits: string;
  orders: SimOrder[];
  total: bigint;
  /** Checksum digits of price and total (priceDigits + total), cached until the total changes. */
  ck?: string | undefined;
  /** Its orders' checksum digits joined in queue order (level3 checksum), cached until an order changes. */
  ock?: string | undefined;
}

export interface SimEvent {
  side: Side;
  kind: 'add' | 'modify' | 'delete';
  id: string;
  price: bigint;
  priceText: string;
  /** Order quantity after the event (for delete: the quantity it had). */
  qtyText: string;
  ts: bigint;
  /** Aggregated level quantity after the event; 0 when the level is gone. */
  levelTotal: bigint;
}

export class SimSide {
  /** Best first: bids descending, asks ascending. */
  readonly prices: bigint[] = [];
  /** The levels in `prices` order (the checksums walk the top without a Map lookup per level). */
  readonly ordered: SimLevel[] = [];
  readonly levels = new Map<bigint, SimLevel>();
  constructor(readonly side: Side) {}

  /** Index of price in `prices`, or -(insertion point) - 1. */
  indexOf(price: bigint): number {
    const p = this.prices;
    let lo = 0;
    let hi = p.length - 1;
    const bid = this.side === 'bid';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = p[mid]!;
      if (v === price) return mid;
      if (bid ? v > price : v < price) lo = mid + 1; else hi = mid - 1;
    }
    return -lo - 1;
  }

  best(): bigint | undefined { return this.prices[0]; }
}

export class SimBook {
  readonly bids = new SimSide('bid');
  readonly asks = new SimSide('ask');
  readonly all: SimOrder[] = [];
  events: SimEvent[] = [];

  constructor(readonly pricePrecision: number, readonly qtyPrecision: number) {}

  side(s: Side): SimSide { return s === 'bid' ? this.bids : this.asks; }

  add(id: string, side: Side, price: bigint, qty: bigint, ts: bigint): SimOrder {
    const s = this.side(side);
    let level = s.levels.get(price);
    if (!level) {
      level = { price, priceText: formatScaled(price, this.pricePrecision), priceDigits: price.toString(), orders: [], total: 0n };
      s.levels.set(price, level);
      const at = -s.indexOf(price) - 1;
      s.prices.splice(at, 0, price);
      s.ordered.splice(at, 0, level);
    }
    const o: SimOrder = { id, side, price, qty, ts, priceText: level.priceText, qtyText: formatScaled(qty, this.qtyPrecision), ck: level.priceDigits + qty.toString(), slot: this.all.length };
    this.all.push(o);
    level.orders.push(o);
    level.total += qty;
    level.ck = undefined;
    level.ock = undefined;
    this.record(o, 'add', ts, level.total);
    return o;
  }

  /** Reduce (or change) an order's quantity in place: it keeps its queue position. */
  modify(o: SimOrder, qty: bigint, ts: bigint): void {
    const level = this.side(o.side).levels.get(o.price)!;
    level.total += qty - o.qty;
    level.ck = undefined;
    level.ock = undefined;
    o.qty = qty;
    o.qtyText = formatScaled(qty, this.qtyPrecision);
    o.ck = level.priceDigits + qty.toString();
    this.record(o, 'modify', ts, level.total);
  }

  remove(o: SimOrder, ts: bigint): void {
    const s = this.side(o.side);
    const level = s.levels.get(o.price)!;
    level.orders.splice(level.orders.indexOf(o), 1);
    level.total -= o.qty;
    level.ck = undefined;
    level.ock = undefined;
    if (level.orders.length === 0) {
      s.levels.delete(o.price);
      const at = s.indexOf(o.price);
      s.prices.splice(at, 1);
      s.ordered.splice(at, 1);
    }
    // Swap-remove from the flat list.
    const last = this.all.pop()!;
    if (last !== o) { this.all[o.slot] = last; last.slot = o.slot; }
    this.record(o, 'delete', ts, level.orders.length === 0 ? 0n : level.total);
  }

  private record(o: SimOrder, kind: SimEvent['kind'], ts: bigint, levelTotal: bigint): void {
    this.events.push({ side: o.side, kind, id: o.id, price: o.price, priceText: o.priceText, qtyText: o.qtyText, ts, levelTotal });
  }

  /** Takes the events recorded since the last call. */
  drainEvents(): SimEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  levelText(level: SimLevel): { price: string; qty: string } {
    return { price: level.priceText, qty: formatScaled(level.total, this.qtyPrecision) };
  }

  /** Top n levels of a side as decimal text, best first. */
  topLevels(side: Side, n: number): { price: string; qty: string }[] {
    const s = this.side(side);
    const out: { price: string; qty: string }[] = [];
    const m = Math.min(n, s.prices.length);
    for (let i = 0; i < m; i++) out.push(this.levelText(s.levels.get(s.prices[i]!)!));
    return out;
  }

  topOrderLevels(side: Side, n: number): SimLevel[] {
    const s = this.side(side);
    const out: SimLevel[] = [];
    const m = Math.min(n, s.prices.length);
    for (let i = 0; i < m; i++) out.push(s.levels.get(s.prices[i]!)!);
    return out;
  }

  get orderCount(): number { return this.all.length; }

  /**
   * Book checksum v2 straight from the integers: a price or qty formatted at its precision, with the
   * '.' removed and leading zeros stripped, is exactly the scaled integer's decimal digits.
   */
  l2Checksum(): number {
    let s = '';
    for (const side of [this.asks, this.bids]) {
      const n = Math.min(10, side.ordered.length);
      for (let i = 0; i < n; i++) { const l = side.ordered[i]!; s += (l.ck ??= l.priceDigits + l.total.toString()); }
    }
    return crc32(s) >>> 0;
  }

  /** Level3 checksum: every order of the top 10 levels, in queue order. */
  l3Checksum(): number {
    let s = '';
    for (const side of [this.asks, this.bids]) {
      const n = Math.min(10, side.ordered.length);
      for (let i = 0; i < n; i++) {
        const l = side.ordered[i]!;
        if (l.ock === undefined) { let ock = ''; for (const o of l.orders) ock += o.ck; l.ock = ock; }
        s += l.ock;
      }
    }
    return crc32(s) >>> 0;
  }
}
