// In-memory L3 (order-by-order) book for one symbol, fed by `level3` messages. Orders queue in
// arrival order within a price level; the book is truncated to the subscribed depth in price
// levels after each message (Kraken re-publishes the orders of a level that comes into range);
// the checksum covers every order of the top 10 levels, so it also proves queue priority.
import { l3Checksum, CHECKSUM_LEVELS } from './checksum.ts';
import { compareDecimalText, formatDecimalText, formatScaled, normalizeDecimalText, parseScaled } from './decimal-text.ts';
import type { ChecksumResult } from './l2-book.ts';

export type BookSide = 'bid' | 'ask';
export interface L3OrderIn { order_id: string; limit_price: string; order_qty: string; timestamp: string }
export interface L3EventIn extends L3OrderIn { event: 'add' | 'modify' | 'delete' }
export interface L3Order extends L3OrderIn { side: BookSide }
export interface L3Level { readonly price: string; readonly orders: readonly L3Order[] }

/** What one message did to the book. Quantities are decimal text (exact). */
export interface L3MessageStats {
  adds: number;
  modifies: number;
  deletes: number;
  qtyAdded: string;
  qtyRemoved: string;
  /** Events that do not fit the book: add of a known id, modify/delete of an unknown one. */
  anomalies: number;
}
export interface L3ApplyResult extends ChecksumResult { stats: L3MessageStats }

export interface TouchQueue { price: string; orders: number; qty: string }

const SUM_SCALE = 18;

interface Level { price: string; orders: L3Order[] }

class Side {
  levels: Level[] = [];
  constructor(private readonly dir: 1 | -1) {}

  find(price: string): number {
    let lo = 0;
    let hi = this.levels.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.dir * compareDecimalText(this.levels[mid]!.price, price);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -lo - 1;
  }

  level(price: string, create: boolean): Level | undefined {
    const i = this.find(price);
    if (i >= 0) return this.levels[i];
    if (!create) return undefined;
    const l: Level = { price, orders: [] };
    this.levels.splice(-i - 1, 0, l);
    return l;
  }

  remove(o: L3Order): void {
    const i = this.find(o.limit_price);
    const l = i >= 0 ? this.levels[i] : undefined;
    if (!l) return;
    const at = l.orders.indexOf(o);
    if (at >= 0) l.orders.splice(at, 1);
    if (l.orders.length === 0) this.levels.splice(i, 1);
  }
}

export class L3Book {
  private readonly bidSide = new Side(-1);
  private readonly askSide = new Side(1);
  private readonly orders = new Map<string, L3Order>();
  private pricePrecision: number | undefined;
  private qtyPrecision: number | undefined;
  checksumFailures = 0;

  constructor(readonly symbol: string, readonly depth: number, opts: { pricePrecision?: number; qtyPrecision?: number } = {}) {
    this.pricePrecision = opts.pricePrecision;
    this.qtyPrecision = opts.qtyPrecision;
  }

  setPrecision(pricePrecision: number, qtyPrecision: number): void {
    this.pricePrecision = pricePrecision;
    this.qtyPrecision = qtyPrecision;
  }

  applySnapshot(data: { bids: readonly L3OrderIn[]; asks: readonly L3OrderIn[]; checksum: number }): L3ApplyResult {
    this.bidSide.levels = [];
    this.askSide.levels = [];
    this.orders.clear();
    const acc = new Acc();
    for (const o of data.bids) this.event('bid', { ...o, event: 'add' }, acc);
    for (const o of data.asks) this.event('ask', { ...o, event: 'add' }, acc);
    return this.finish(data.checksum, acc);
  }

  applyUpdate(data: { bids: readonly L3EventIn[]; asks: readonly L3EventIn[]; checksum: number }): L3ApplyResult {
    const acc = new Acc();
    for (const e of data.bids) this.event('bid', e, acc);
    for (const e of data.asks) this.event('ask', e, acc);
    return this.finish(data.checksum, acc);
  }

  private event(side: BookSide, e: L3EventIn, acc: Acc): void {
    const s = side === 'bid' ? this.bidSide : this.askSide;
    const price = this.pricePrecision === undefined ? e.limit_price : formatDecimalText(e.limit_price, this.pricePrecision);
    const qty = this.qtyPrecision === undefined ? e.order_qty : formatDecimalText(e.order_qty, this.qtyPrecision);
    const existing = this.orders.get(e.order_id);
    if (e.event === 'delete') {
      acc.deletes++;
      if (!existing) { acc.anomalies++; return; }
      acc.removed += scaled(existing.order_qty);
      this.sideOf(existing).remove(existing);
      this.orders.delete(e.order_id);
      return;
    }
    if (e.event === 'add') {
      acc.adds++;
      acc.added += scaled(qty);
      if (existing) {
        // A repeated add: keep one order (the newest text) and flag it.
        acc.anomalies++;
        acc.removed += scaled(existing.order_qty);
        this.sideOf(existing).remove(existing);
      }
    } else {
      acc.modifies++;
      if (!existing) { acc.anomalies++; acc.added += scaled(qty); } else {
        const delta = scaled(qty) - scaled(existing.order_qty);
        if (delta >= 0n) acc.added += delta; else acc.removed -= delta;
        if (existing.side === side && normalizeDecimalText(existing.limit_price) === normalizeDecimalText(price)) {
          // Same price: the order keeps its place in the queue.
          existing.order_qty = qty;
          existing.timestamp = e.timestamp;
          return;
        }
        this.sideOf(existing).remove(existing);
      }
    }
    const o: L3Order = { order_id: e.order_id, limit_price: price, order_qty: qty, timestamp: e.timestamp, side };
    this.orders.set(o.order_id, o);
    s.level(price, true)!.orders.push(o);
  }

  private sideOf(o: L3Order): Side {
    return o.side === 'bid' ? this.bidSide : this.askSide;
  }

  private finish(expected: number, acc: Acc): L3ApplyResult {
    this.truncate(this.bidSide);
    this.truncate(this.askSide);
    const computed = this.checksum();
    const ok = computed === expected >>> 0;
    if (!ok) this.checksumFailures++;
    return {
      ok, expected: expected >>> 0, computed,
      stats: {
        adds: acc.adds, modifies: acc.modifies, deletes: acc.deletes, anomalies: acc.anomalies,
        qtyAdded: trimScaled(acc.added), qtyRemoved: trimScaled(acc.removed),
      },
    };
  }

  private truncate(s: Side): void {
    while (s.levels.length > this.depth) {
      const l = s.levels.pop()!;
      for (const o of l.orders) this.orders.delete(o.order_id);
    }
  }

  checksum(): number {
    return l3Checksum(
      this.askSide.levels.slice(0, CHECKSUM_LEVELS).map(toText),
      this.bidSide.levels.slice(0, CHECKSUM_LEVELS).map(toText),
    );
  }

  /** Order count and total quantity at the best bid and best ask. */
  queueAtTouch(): { bid: TouchQueue | undefined; ask: TouchQueue | undefined } {
    return { bid: touch(this.bidSide.levels[0]), ask: touch(this.askSide.levels[0]) };
  }

  levels(side: BookSide, n = this.depth): readonly L3Level[] {
    return (side === 'bid' ? this.bidSide : this.askSide).levels.slice(0, n);
  }

  order(id: string): Readonly<L3Order> | undefined { return this.orders.get(id); }
  get orderCount(): number { return this.orders.size; }
}

class Acc {
  adds = 0; modifies = 0; deletes = 0; anomalies = 0;
  added = 0n; removed = 0n;
}

function scaled(text: string): bigint {
  return parseScaled(text, SUM_SCALE);
}

function trimScaled(v: bigint): string {
  return normalizeDecimalText(formatScaled(v, SUM_SCALE));
}

function toText(l: Level): { orders: readonly { limit_price: string; order_qty: string }[] } {
  return { orders: l.orders };
}

function touch(l: Level | undefined): TouchQueue | undefined {
  if (!l) return undefined;
  let sum = 0n;
  for (const o of l.orders) sum += scaled(o.order_qty);
  return { price: l.price, orders: l.orders.length, qty: trimScaled(sum) };
}
