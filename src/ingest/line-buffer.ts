// The pending COPY lines of one raw table, as UTF-8 bytes in large off-heap chunks.
//
// Why: a line kept as a JS string until its batch commits (about a second) survives the young
// generation's scavenges and gets copied and promoted, so the collector's garbage turned into work
// for V8's GC threads (~20 µs of CPU per row on the benchmark). Copied into a chunk as it arrives,
// the string dies young and the chunk's bytes are never scanned or moved by the GC.
const CHUNK_BYTES = 1 << 20;

export class LineBuffer {
  /** Full chunks (trimmed to their used bytes), then the chunk being filled. */
  private chunks: Buffer[] = [];
  private cur: Buffer | null = null;
  private used = 0;
  rows = 0;
  /** received_at of the first and last line (gap accounting when a batch is abandoned). */
  firstMs = Infinity;
  lastMs = -Infinity;

  append(line: string, receivedMs: number): void {
    // UTF-16 code units → at most 3 UTF-8 bytes each.
    const worst = line.length * 3;
    if (this.cur === null || this.used + worst > this.cur.length) {
      this.seal();
      this.cur = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, worst));
    }
    this.used += this.cur.write(line, this.used, 'utf8');
    this.rows++;
    if (receivedMs < this.firstMs) this.firstMs = receivedMs;
    if (receivedMs > this.lastMs) this.lastMs = receivedMs;
  }

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

  private seal(): void {
    if (this.cur !== null && this.used > 0) this.chunks.push(this.cur.subarray(0, this.used));
    this.cur = null;
    this.used = 0;
  }
}
