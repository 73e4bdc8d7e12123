// In-memory L2 book for one symbol, fed by `book` channel messages. Keeps the exact decimal text
// for the checksum, applies every level in message order, then truncates to the subscribed depth
// (Kraken sends no delete for levels pushed out of range) and verifies the checksum.
import { crc32 } from 'node:zlib';
import { CHECKSUM_LEVELS, type TextLevel } from './checksum.ts';
import { checksumDigits, decimalKey, formatDecimalText, ZERO_KEY } from './decimal-text.ts';

export interface L2Level { readonly price: string; readonly qty: string }
export interface BookPayload { bids: readonly TextLevel[]; asks: readonly TextLevel[]; checksum: number }
export interface ChecksumResult { ok: boolean; expected: number; computed: number }
export interface L2BookOptions { pricePrecision?: number; qtyPrecision?: number }

/**
 * One side, best level first. `dir` = 1 for asks (ascending), -1 for bids (descending). Parallel to
 * the levels: their decimalKey (ordering and equality without re-parsing text) and their checksum
 * digits (computed once per level, not once per message).
 */
class Side {
  levels: L2Level[] = [];
  keys: string[] = [];
  cks: string[] = [];
  constructor(private readonly dir: 1 | -1) {}

  /** Index of the price with this key, or -(insertion point) - 1 when absent. */
  private find(key: string): number {
    const keys = this.keys;
    let lo = 0;
    let hi = keys.length - 1;
    const asc = this.dir === 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = keys[mid]!;
      if (k === key) return mid;
      if (asc ? k < key : k > key) lo = mid + 1; else hi = mid - 1;
    }
    return -lo - 1;
  }

  set(price: string, qty: string, key: string, deletes: boolean): void {
    const i = this.find(key);
    if (deletes) {
      if (i >= 0) {
        this.levels.splice(i, 1);
        this.keys.splice(i, 1);
        this.cks.splice(i, 1);
      }
      return;
    }
    const ck = checksumDigits(price) + checksumDigits(qty);
    if (i >= 0) {
      this.levels[i] = { price, qty };
      this.cks[i] = ck;
    } else {
      const at = -i - 1;
      this.levels.splice(at, 0, { price, qty });
      this.keys.splice(at, 0, key);
      this.cks.splice(at, 0, ck);
    }
  }

  truncate(depth: number): void {
    if (this.levels.length > depth) {
      this.levels.length = depth;
      this.keys.length = depth;
      this.cks.length = depth;
    }
  }

  clear(): void {
    this.levels = [];
    this.keys = [];
    this.cks = [];
  }

  checksumInput(): string {
    let s = '';
    const n = Math.min(CHECKSUM_LEVELS, this.cks.length);
    for (let i = 0; i < n; i++) s += this.cks[i]!;
    return s;
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
    this.bidSide.clear();
    this.askSide.clear();
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
    let qtyKey: string;
    let key: string;
    try {
      // decimalKey validates (throws on anything that is not decimal text).
      qtyKey = decimalKey(l.qty);
      key = decimalKey(l.price);
    } catch {
      throw new TypeError(`${this.symbol}: level is not decimal text (${String(l.price)}/${String(l.qty)})`);
    }
    const deletes = qtyKey === ZERO_KEY;
    const price = this.pricePrecision === undefined ? l.price : formatDecimalText(l.price, this.pricePrecision);
    const qty = this.qtyPrecision === undefined ? l.qty : formatDecimalText(l.qty, this.qtyPrecision);
    side.set(price, qty, key, deletes);
  }

  checksum(): number {
    return crc32(this.askSide.checksumInput() + this.bidSide.checksumInput()) >>> 0;
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
