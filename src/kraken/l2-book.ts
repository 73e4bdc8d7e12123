// In-memory L2 book for one symbol, fed by `book` channel messages. Keeps the exact decimal text
// for the checksum, applies every level in message order, then truncates to the subscribed depth
// (Kraken sends no delete for levels pushed out of range) and verifies the checksum.
import { l2Checksum, CHECKSUM_LEVELS, type TextLevel } from './checksum.ts';
import { compareDecimalText, formatDecimalText, isDecimalText } from './decimal-text.ts';

export interface L2Level { readonly price: string; readonly qty: string }
export interface BookPayload { bids: readonly TextLevel[]; asks: readonly TextLevel[]; checksum: number }
export interface ChecksumResult { ok: boolean; expected: number; computed: number }
export interface L2BookOptions { pricePrecision?: number; qtyPrecision?: number }

/** One side, best level first. `dir` = 1 for asks (ascending), -1 for bids (descending). */
class Side {
  levels: L2Level[] = [];
  constructor(private readonly dir: 1 | -1) {}

  /** Index of `price`, or -(insertion point) - 1 when absent. */
  private find(price: string): number {
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

  set(price: string, qty: string, deletes: boolean): void {
    const i = this.find(price);
    if (deletes) {
      if (i >= 0) this.levels.splice(i, 1);
    } else if (i >= 0) {
      this.levels[i] = { price, qty };
    } else {
      this.levels.splice(-i - 1, 0, { price, qty });
    }
  }

  truncate(depth: number): void {
    if (this.levels.length > depth) this.levels.length = depth;
  }
}

export class L2Book {
  private readonly bidSide = new Side(-1);
  private readonly askSide = new Side(1);
  private pricePrecision: number | undefined;
  private qtyPrecision: number | undefined;
  /** Messages applied since the last snapshot, and checksum failures seen since construction. */
  updates = 0;
  checksumFailures = 0;

  constructor(readonly symbol: string, readonly depth: number, opts: L2BookOptions = {}) {
    this.pricePrecision = opts.pricePrecision;
    this.qtyPrecision = opts.qtyPrecision;
  }

  /** With precisions set, incoming text is re-formatted (trailing zeros) before it is stored. */
  setPrecision(pricePrecision: number, qtyPrecision: number): void {
    this.pricePrecision = pricePrecision;
    this.qtyPrecision = qtyPrecision;
  }

  applySnapshot(data: BookPayload): ChecksumResult {
    this.bidSide.levels = [];
    this.askSide.levels = [];
    this.updates = 0;
    return this.applyLevels(data);
  }

  applyUpdate(data: BookPayload): ChecksumResult {
    this.updates++;
    return this.applyLevels(data);
  }

  apply(type: 'snapshot' | 'update', data: BookPayload): ChecksumResult {
    return type === 'snapshot' ? this.applySnapshot(data) : this.applyUpdate(data);
  }

  private applyLevels(data: BookPayload): ChecksumResult {
    for (const l of data.bids) this.touch(this.bidSide, l);
    for (const l of data.asks) this.touch(this.askSide, l);
    this.bidSide.truncate(this.depth);
    this.askSide.truncate(this.depth);
    const computed = this.checksum();
    const ok = computed === data.checksum >>> 0;
    if (!ok) this.checksumFailures++;
    return { ok, expected: data.checksum >>> 0, computed };
  }

  private touch(side: Side, l: TextLevel): void {
    if (!isDecimalText(l.price) || !isDecimalText(l.qty)) {
      throw new TypeError(`${this.symbol}: level is not decimal text (${String(l.price)}/${String(l.qty)})`);
    }
    const deletes = compareDecimalText(l.qty, '0') === 0;
    const price = this.pricePrecision === undefined ? l.price : formatDecimalText(l.price, this.pricePrecision);
    const qty = this.qtyPrecision === undefined ? l.qty : formatDecimalText(l.qty, this.qtyPrecision);
    side.set(price, qty, deletes);
  }

  checksum(): number {
    return l2Checksum(this.asks(CHECKSUM_LEVELS), this.bids(CHECKSUM_LEVELS));
  }

  /** Best first; a copy of at most n levels. */
  bids(n = this.depth): readonly L2Level[] {
    return this.bidSide.levels.slice(0, n);
  }

  asks(n = this.depth): readonly L2Level[] {
    return this.askSide.levels.slice(0, n);
  }

  bestBid(): L2Level | undefined { return this.bidSide.levels[0]; }
  bestAsk(): L2Level | undefined { return this.askSide.levels[0]; }
  get bidCount(): number { return this.bidSide.levels.length; }
  get askCount(): number { return this.askSide.levels.length; }
}
