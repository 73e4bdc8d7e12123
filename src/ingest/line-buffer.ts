// The pending COPY lines of one raw table, as UTF-8 bytes in large off-heap chunks, and the writer
// of those bytes: rows are encoded straight into the chunk (rows.ts), never built as a JS string.
//
// Why bytes: a line kept as a JS string until its batch commits (about a second) survives the young
// generation's scavenges and gets copied and promoted, so the collector's garbage turned into work
// for V8's GC threads (~20 µs of CPU per row on the benchmark). Why written in place (round 3): the
// string concatenation of a line and its UTF-8 copy into the chunk cost about twice the byte writes
// (an L2 row 5.1 → 2.7 µs), and the pieces were garbage too.
import { isDecimalText } from '../kraken/decimal-text.ts';

const CHUNK_BYTES = 1 << 20;
const EMPTY = Buffer.alloc(0);

export class LineBuffer {
  /** Full chunks (trimmed to their used bytes), then the chunk being filled. */
  private chunks: Buffer[] = [];
  private cur: Buffer = EMPTY;
  private used = 0;
  /** Where the row being written starts in `cur` (rows never span chunks). */
  private rowStart = 0;
  rows = 0;
  /** received_at of the first and last line (gap accounting when a batch is abandoned). */
  firstMs = Infinity;
  lastMs = -Infinity;

  /** Appends a whole line (text ending in '\n', written as UTF-8 as it is). */
  append(line: string, receivedMs: number): void {
    this.beginRow();
    this.utf8(line);
    this.endRow(receivedMs);
  }

  // ---- writing one row: beginRow, the writes, then endRow (kept) or abortRow (discarded) ----------

  beginRow(): void {
    this.rowStart = this.used;
  }

  /** Bytes written so far for the current row. */
  get rowBytes(): number {
    return this.used - this.rowStart;
  }

  endRow(receivedMs: number): void {
    this.rowStart = this.used;
    this.rows++;
    if (receivedMs < this.firstMs) this.firstMs = receivedMs;
    if (receivedMs > this.lastMs) this.lastMs = receivedMs;
  }

  abortRow(): void {
    this.used = this.rowStart;
  }

  /** One byte (an ASCII delimiter: tab, newline, comma, brace). */
  byte(c: number): void {
    if (this.used >= this.cur.length) this.room(1);
    this.cur[this.used++] = c;
  }

  /** Text known to be ASCII without COPY specials (validated timestamps, formatted numbers). */
  ascii(s: string): void {
    const n = s.length;
    if (this.used + n > this.cur.length) this.room(n);
    const b = this.cur;
    let p = this.used;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.used = p;
  }

  /** Text as it is, UTF-8 (no escaping: a whole line). */
  utf8(s: string): void {
    this.room(s.length * 3); // UTF-16 code units → at most 3 UTF-8 bytes each
    this.used += this.cur.write(s, this.used, 'utf8');
  }

  /** A COPY text value: backslash, tab, newline and carriage return escaped; UTF-8. */
  text(s: string): void {
    const n = s.length;
    if (this.used + 2 * n > this.cur.length) this.room(2 * n);
    const b = this.cur;
    let p = this.used;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.used = p;
        this.textSlow(s.slice(i));
        return;
      }
      if (c === 92 || c === 9 || c === 10 || c === 13) {
        b[p++] = 92;
        b[p++] = c === 92 ? 92 : c === 9 ? 116 : c === 10 ? 110 : 114;
      } else b[p++] = c;
    }
    this.used = p;
  }

  private textSlow(s: string): void {
    const escaped = s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
    this.utf8(escaped);
  }

  /**
   * Decimal text (a numeric value, or an element of a numeric[] literal), copied as it is. Throws on
   * anything that is not a finite decimal number, so it can never smuggle a delimiter into the row.
   */
  decimal(s: string): void {
    if (typeof s !== 'string') throw new TypeError(`not decimal text: ${JSON.stringify(s)}`);
    if (this.used + s.length > this.cur.length) this.room(s.length);
    this.used = this.putDecimal(s, this.used);
  }

  /**
   * A numeric[] literal of one field of each level ({p1,p2,…}): each element as decimal(), with one
   * bounds check for the whole array (the L2/L3 rows' arrays are most of their bytes).
   */
  decimalField(levels: readonly { readonly price: string; readonly qty: string }[], price: boolean): void {
    const m = levels.length;
    let total = 2 + m;
    for (let j = 0; j < m; j++) {
      const s = price ? levels[j]!.price : levels[j]!.qty;
      if (typeof s !== 'string') throw new TypeError(`not decimal text: ${JSON.stringify(s)}`);
      total += s.length;
    }
    if (this.used + total > this.cur.length) this.room(total);
    const b = this.cur;
    let p = this.used;
    b[p++] = 123;
    for (let j = 0; j < m; j++) {
      if (j > 0) b[p++] = 44;
      p = this.putDecimal(price ? levels[j]!.price : levels[j]!.qty, p);
    }
    b[p++] = 125;
    this.used = p;
  }

  /**
   * Copies the string s (room already made) to `cur` at p and returns the end. Hot path: \d+(\.\d+)?
   * is checked while copying; anything else must pass isDecimalText or the row is refused.
   */
  private putDecimal(s: string, p: number): number {
    const b = this.cur;
    const n = s.length;
    let odd = n === 0;
    let dot = -1;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c < 48 || c > 57) {
        if (c === 46 && dot < 0 && k > 0) dot = k;
        else odd = true;
      }
      b[p++] = c;
    }
    if ((odd || dot === n - 1) && !isDecimalText(s)) throw new TypeError(`not decimal text: ${JSON.stringify(s)}`);
    return p;
  }

  /** A safe integer in decimal digits. */
  int(v: number): void {
    if (!Number.isSafeInteger(v)) throw new TypeError(`not an integer: ${v}`);
    if (v < 0) {
      this.byte(45);
      v = -v;
    }
    let len = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) len++;
    if (this.used + len > this.cur.length) this.room(len);
    const b = this.cur;
    let p = this.used + len;
    do {
      const q = Math.floor(v / 10);
      b[--p] = 48 + (v - q * 10);
      v = q;
    } while (v > 0);
    this.used += len;
  }

  /** Makes room for n more bytes, moving the row written so far into a new chunk when this one is full. */
  private room(n: number): void {
    if (this.used + n <= this.cur.length) return;
    const partial = this.used - this.rowStart;
    const next = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, 2 * (partial + n)));
    if (partial > 0) this.cur.copy(next, 0, this.rowStart, this.used);
    if (this.rowStart > 0) this.chunks.push(this.cur.subarray(0, this.rowStart));
    this.cur = next;
    this.used = partial;
    this.rowStart = 0;
  }

  // ---- the batch ---------------------------------------------------------------------------------

  /** All lines in order as one buffer (the COPY payload of this table). */
  bytes(): Buffer {
    this.seal();
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  /** Moves `earlier`'s lines in front of this buffer's (a batch given back to the pending lines). */
  prepend(earlier: LineBuffer): void {
    earlier.seal();
    this.seal();
    this.chunks = earlier.chunks.concat(this.chunks);
    this.rows += earlier.rows;
    this.firstMs = Math.min(this.firstMs, earlier.firstMs);
    this.lastMs = Math.max(this.lastMs, earlier.lastMs);
  }

  /** Closes the chunk being filled (between rows only). */
  private seal(): void {
    if (this.used > 0) this.chunks.push(this.cur.subarray(0, this.used));
    this.cur = EMPTY;
    this.used = 0;
    this.rowStart = 0;
  }
}
