// The WebSocket frames of a burst of steps, encoded into one buffer and written to the socket once.
//
// Why: ws.send per frame (an options object, Buffer.byteLength, a header buffer, two socket writes,
// then writev over every chunk at uncork) was ~20 % of the simulator thread at full speed. The bytes
// are exactly what ws writes for ws.send(text) on a server socket without compression: one final,
// unmasked text frame (RFC 6455 §5.2) per message.
const INITIAL_BYTES = 1 << 16;

export class FrameBatch {
  private buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private used = 0;

  /** Bytes waiting to be written. */
  get pending(): number {
    return this.used;
  }

  /** Appends one text frame carrying `text` as UTF-8. */
  addText(text: string): void {
    const units = text.length;
    const worst = 10 + 3 * units; // UTF-16 code units → at most 3 UTF-8 bytes each
    if (this.used + worst > this.buf.length) this.grow(worst);
    const b = this.buf;
    const at = this.used;
    // UTF-8 bytes ≥ code units and ≤ 3 × code units: the header size is mostly known before writing.
    let h = 3 * units < 126 ? 2 : units >= 126 && 3 * units < 65536 ? 4 : 10;
    let n = b.write(text, at + h, 'utf8');
    const need = n < 126 ? 2 : n < 65536 ? 4 : 10;
    if (need !== h) {
      b.copyWithin(at + need, at + h, at + h + n);
      h = need;
    }
    b[at] = 0x81; // FIN, opcode 1 (text)
    if (h === 2) b[at + 1] = n;
    else if (h === 4) {
      b[at + 1] = 126;
      b.writeUInt16BE(n, at + 2);
    } else {
      b[at + 1] = 127;
      b.writeUInt32BE(Math.floor(n / 2 ** 32), at + 2);
      b.writeUInt32BE(n >>> 0, at + 6);
    }
    n += h;
    this.used = at + n;
  }

  /** The frames so far (a buffer the caller may keep), leaving the batch empty. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafeSlow(Math.max(INITIAL_BYTES, this.buf.length));
    this.used = 0;
    return out;
  }

  private grow(extra: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.used + extra));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}
