// The verified L2 book of one symbol and its sampling into l2_snap_metrics rows.
//
// Sampling: every snapshot and every checksum mismatch is a row; updates are folded and a row is
// emitted at most once per sampleMs (0 = a row per message), by the message that crosses the
// interval or by the periodic sweep. `updatesApplied` counts the messages a row stands for, so the
// sum over rows equals the book messages applied. Updates that arrive while the book is invalid
// (before the first snapshot, after a mismatch until the fresh snapshot) are not applied and only
// counted (`ignored`).
import { L2Book, type BookPayload, type ChecksumResult } from '../kraken/l2-book.ts';
import type { L2Row } from '../ingest/rows.ts';

/** A row and the received_at it carries (the newest message it stands for). */
export interface Sample<T> {
  row: T;
  receivedMs: number;
}

export interface L2Outcome {
  rows: Sample<L2Row>[];
  mismatch?: ChecksumResult;
  ignored?: boolean;
}

export class L2Tracker {
  private book: L2Book;
  /** False until a snapshot arrives, and from a mismatch until the next snapshot. */
  valid = false;
  private pending = 0;
  private lastEmitMs = 0;
  private lastReceivedMs = 0;
  private lastExchangeTs: string | undefined;
  private lastChecksum = 0;
  ignored = 0;
  applied = 0;
  mismatches = 0;

  constructor(
    readonly symbol: string,
    readonly depth: number,
    private readonly storeLevels: number,
    private readonly sampleMs: number,
  ) {
    this.book = new L2Book(symbol, depth);
  }

  onMessage(type: 'snapshot' | 'update', data: BookPayload & { timestamp?: string }, receivedMs: number): L2Outcome {
    const rows: Sample<L2Row>[] = [];
    if (type === 'snapshot') {
      const pendingRow = this.takePending();
      if (pendingRow) rows.push(pendingRow);
      this.book = new L2Book(this.symbol, this.depth);
    } else if (!this.valid) {
      this.ignored++;
      return { rows, ignored: true };
    }
    let result: ChecksumResult;
    try {
      result = this.book.apply(type, data);
    } catch {
      // Not decimal text (the schema should have caught it): the book can no longer be trusted.
      result = { ok: false, expected: data.checksum >>> 0, computed: -1 };
    }
    this.applied++;
    this.pending++;
    this.lastReceivedMs = receivedMs;
    this.lastExchangeTs = data.timestamp;
    this.lastChecksum = data.checksum;
    if (!result.ok) {
      this.valid = false;
      this.mismatches++;
      rows.push(this.emit(type === 'snapshot', false));
      return { rows, mismatch: result };
    }
    this.valid = true;
    if (type === 'snapshot' || this.sampleMs === 0 || receivedMs - this.lastEmitMs >= this.sampleMs) {
      rows.push(this.emit(type === 'snapshot', true));
    }
    return { rows };
  }

  /** The folded updates as one row, if any are waiting and the interval has passed (or `force`). */
  sweep(nowMs: number, force = false): Sample<L2Row> | null {
    if (this.pending === 0) return null;
    if (!force && nowMs - this.lastEmitMs < this.sampleMs) return null;
    return this.takePending();
  }

  private takePending(): Sample<L2Row> | null {
    if (this.pending === 0) return null;
    return this.emit(false, this.valid);
  }

  private emit(isSnapshot: boolean, ok: boolean): Sample<L2Row> {
    const row: L2Row = {
      symbol: this.symbol,
      depth: this.depth,
      isSnapshot,
      bids: this.book.bids(this.storeLevels),
      asks: this.book.asks(this.storeLevels),
      checksum: this.lastChecksum,
      checksumOk: ok,
      updatesApplied: this.pending,
      exchangeTs: this.lastExchangeTs,
    };
    this.pending = 0;
    this.lastEmitMs = this.lastReceivedMs;
    return { row, receivedMs: this.lastReceivedMs };
  }
}
