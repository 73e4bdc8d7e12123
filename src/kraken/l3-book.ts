// In-memory L3 (order-by-order) book for one symbol, fed by `level3` messages. Orders queue in
// arrival order within a price level; the book is truncated to the subscribed depth in price
// levels after each message (Kraken re-publishes the orders of a level that comes into range);
// the checksum covers every order of the top 10 levels, so it also proves queue priority.
import { crc32 } from 'node:zlib';
import { CHECKSUM_LEVELS } from './checksum.ts';
import { checksumDigits, decimalKey, formatDecimalText, formatScaledTrimmed, parseScaled } from './decimal-text.ts';
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
export interface L3ApplyResult extends ChecksumResult {
  stats: L3MessageStats;
  /** stats.qtyAdded / qtyRemoved as integers scaled by 10^18 (for exact sums without re-parsing). */
  unitsAdded: bigint;
  unitsRemoved: bigint;
}

export interface TouchQueue { price: string; orders: number; qty: string }

const SUM_SCALE = 18;

/** A resting order with what the hot path needs cached: its price key, scaled quantity and checksum digits. */
interface Ord extends L3Order { key: string; units: bigint; ck: string }

/**
 * A price level: its orders in queue order and their total (scaled by 10^SUM_SCALE), text cached;
 * `ck` caches its orders' checksum digits joined (null after any change to its orders).
 */
interface Level { price: string; key: string; orders: Ord[]; total: bigint; qtyText: string | null; ck: string | null }

/** Per level total quantity (exact decimal text) and order count, best level first. */
export interface QueueLevelText { price: string; qty: string; orders: number }

class Side {
  levels: Level[] = [];
  constructor(private readonly dir: 1 | -1) {}

  /** Index of the level with this price key, or -(insertion point) - 1. */
  find(key: string): number {
    const levels = this.levels;
    let lo = 0;
    let hi = levels.length - 1;
    const asc = this.dir === 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = levels[mid]!.key;
      if (k === key) return mid;
      if (asc ? k < key : k > key) lo = mid + 1; else hi = mid - 1;
    }
    return -lo - 1;
  }

  level(price: string, key: string): Level {
    const i = this.find(key);
    if (i >= 0) return this.levels[i]!;
    const l: Level = { price, key, orders: [], total: 0n, qtyText: null, ck: null };
    this.levels.splice(-i - 1, 0, l);
    return l;
  }

  remove(o: Ord): void {
    const i = this.find(o.key);
    const l = i >= 0 ? this.levels[i] : undefined;
    if (!l) return;
    const at = l.orders.indexOf(o);
    if (at >= 0) {
      l.orders.splice(at, 1);
      l.total -= o.units;
      l.qtyText = null;
      l.ck = null;
    }
    if (l.orders.length === 0) this.levels.splice(i, 1);
  }
}

export class L3Book {
  private readonly bidSide = new Side(-1);
  private readonly askSide = new Side(1);
  private readonly orders = new Map<string, Ord>();
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
    for (const o of data.bids) this.event('bid', 'add', o, acc);
    for (const o of data.asks) this.event('ask', 'add', o, acc);
    return this.finish(data.checksum, acc);
  }

  applyUpdate(data: { bids: readonly L3EventIn[]; asks: readonly L3EventIn[]; checksum: number }): L3ApplyResult {
    const acc = new Acc();
    for (const e of data.bids) this.event('bid', e.event, e, acc);
    for (const e of data.asks) this.event('ask', e.event, e, acc);
    return this.finish(data.checksum, acc);
  }

  private event(side: BookSide, kind: L3EventIn['event'], e: L3OrderIn, acc: Acc): void {
    const s = side === 'bid' ? this.bidSide : this.askSide;
    const existing = this.orders.get(e.order_id);
    if (kind === 'delete') {
      acc.deletes++;
      if (!existing) { acc.anomalies++; return; }
      acc.removed += existing.units;
      this.sideOf(existing).remove(existing);
      this.orders.delete(e.order_id);
      return;
    }
    const price = this.pricePrecision === undefined ? e.limit_price : formatDecimalText(e.limit_price, this.pricePrecision);
    const qty = this.qtyPrecision === undefined ? e.order_qty : formatDecimalText(e.order_qty, this.qtyPrecision);
    const units = scaled(qty);
    if (kind === 'add') {
      acc.adds++;
      acc.added += units;
      if (existing) {
        // A repeated add: keep one order (the newest text) and flag it.
        acc.anomalies++;
        acc.removed += existing.units;
        this.sideOf(existing).remove(existing);
      }
    } else {
      acc.modifies++;
      if (!existing) { acc.anomalies++; acc.added += units; } else {
        const delta = units - existing.units;
        if (delta >= 0n) acc.added += delta; else acc.removed -= delta;
        if (existing.side === side && existing.key === decimalKey(price)) {
          // Same price: the order keeps its place in the queue.
          const l = s.level(existing.limit_price, existing.key);
          l.total += delta;
          l.qtyText = null;
          l.ck = null;
          existing.order_qty = qty;
          existing.units = units;
          existing.ck = checksumDigits(existing.limit_price) + checksumDigits(qty);
          existing.timestamp = e.timestamp;
          return;
        }
        this.sideOf(existing).remove(existing);
      }
    }
    const key = decimalKey(price);
    const o: Ord = {
      order_id: e.order_id, limit_price: price, order_qty: qty, timestamp: e.timestamp, side,
      key, units, ck: checksumDigits(price) + checksumDigits(qty),
    };
    this.orders.set(o.order_id, o);
    const l = s.level(price, key);
    l.orders.push(o);
    l.total += units;
    l.qtyText = null;
    l.ck = null;
  }

  private sideOf(o: Ord): Side {
    return o.side === 'bid' ? this.bidSide : this.askSide;
  }

  private finish(expected: number, acc: Acc): L3ApplyResult {
    this.truncate(this.bidSide);
    this.truncate(this.askSide);
    const computed = this.checksum();
    const ok = computed === expected >>> 0;
    if (!ok) this.checksumFailures++;
    return { ok, expected: expected >>> 0, computed, stats: new MessageStats(acc), unitsAdded: acc.added, unitsRemoved: acc.removed };
  }

  private truncate(s: Side): void {
    while (s.levels.length > this.depth) {
      const l = s.levels.pop()!;
      for (const o of l.orders) this.orders.delete(o.order_id);
    }
  }

  /** Level3 checksum: every order of the top 10 levels per side (asks first), digits cached per order and level. */
  checksum(): number {
    return crc32(checksumInput(this.askSide) + checksumInput(this.bidSide)) >>> 0;
  }

  /** Order count and total quantity at the best bid and best ask. */
  queueAtTouch(): { bid: TouchQueue | undefined; ask: TouchQueue | undefined } {
    return { bid: touch(this.bidSide.levels[0]), ask: touch(this.askSide.levels[0]) };
  }

  /** Top n levels of a side as (price, total quantity text, order count); totals are cached per level. */
  queueLevels(side: BookSide, n = this.depth): QueueLevelText[] {
    const levels = (side === 'bid' ? this.bidSide : this.askSide).levels;
    const m = Math.min(n, levels.length);
    const out: QueueLevelText[] = new Array(m);
    for (let i = 0; i < m; i++) {
      const l = levels[i]!;
      out[i] = { price: l.price, qty: (l.qtyText ??= trimScaled(l.total)), orders: l.orders.length };
    }
    return out;
  }

  /** decimalKey of the best price of a side (undefined when the side is empty). */
  bestKey(side: BookSide): string | undefined {
    return (side === 'bid' ? this.bidSide : this.askSide).levels[0]?.key;
  }

  levels(side: BookSide, n = this.depth): readonly L3Level[] {
    return (side === 'bid' ? this.bidSide : this.askSide).levels.slice(0, n);
  }

  order(id: string): Readonly<L3Order> | undefined { return this.orders.get(id); }
  get orderCount(): number { return this.orders.size; }
}

function checksumInput(s: Side): string {
  let out = '';
  const n = Math.min(CHECKSUM_LEVELS, s.levels.length);
  for (let i = 0; i < n; i++) {
    const l = s.levels[i]!;
    if (l.ck === null) {
      let ck = '';
      for (const o of l.orders) ck += o.ck;
      l.ck = ck;
    }
    out += l.ck;
  }
  return out;
}

class Acc {
  adds = 0; modifies = 0; deletes = 0; anomalies = 0;
  added = 0n; removed = 0n;
}

/** The quantities' text is formatted only when read (the collector sums unitsAdded/unitsRemoved instead). */
class MessageStats implements L3MessageStats {
  readonly adds: number;
  readonly modifies: number;
  readonly deletes: number;
  readonly anomalies: number;
  readonly #acc: Acc;
  constructor(acc: Acc) {
    this.adds = acc.adds;
    this.modifies = acc.modifies;
    this.deletes = acc.deletes;
    this.anomalies = acc.anomalies;
    this.#acc = acc;
  }
  get qtyAdded(): string { return trimScaled(this.#acc.added); }
  get qtyRemoved(): string { return trimScaled(this.#acc.removed); }
}

function scaled(text: string): bigint {
  return parseScaled(text, SUM_SCALE);
}

function trimScaled(v: bigint): string {
  return formatScaledTrimmed(v, SUM_SCALE);
}

function touch(l: Level | undefined): TouchQueue | undefined {
  if (!l) return undefined;
  return { price: l.price, orders: l.orders.length, qty: (l.qtyText ??= trimScaled(l.total)) };
}
