// The verified L3 (order-level) book of one symbol and its sampling into l3_queue_metrics rows:
// per price level the total quantity and the number of resting orders, plus the order flow since
// the previous row (adds, modifies, deletes, quantity added/removed, adds and deletes at the touch).
// Sampling follows the L2 rule: every snapshot and mismatch is a row, updates at most once per
// sampleMs. Snapshot rows carry no flow: flow counts only update events, so the sum of
// adds + modifies + deletes over rows equals the update events applied.
import { decimalKey, formatScaledTrimmed } from '../kraken/decimal-text.ts';
import { L3Book, type L3EventIn, type L3OrderIn } from '../kraken/l3-book.ts';
import type { L3Row, QueueLevel } from '../ingest/rows.ts';
import type { Sample } from './l2-tracker.ts';

const SCALE = 18;

export interface L3Outcome {
  rows: Sample<L3Row>[];
  mismatch?: { expected: number; computed: number };
  ignored?: boolean;
}

interface Flow {
  adds: number;
  modifies: number;
  deletes: number;
  added: bigint;
  removed: bigint;
  touchAdds: number;
  touchDeletes: number;
  messages: number;
}

const noFlow = (): Flow => ({ adds: 0, modifies: 0, deletes: 0, added: 0n, removed: 0n, touchAdds: 0, touchDeletes: 0, messages: 0 });

export class L3Tracker {
  private book: L3Book;
  valid = false;
  private flow = noFlow();
  private lastEmitMs = 0;
  private lastReceivedMs = 0;
  private lastExchangeTs: string | undefined;
  private lastChecksum = 0;
  ignored = 0;
  /** Update events applied (snapshot orders excluded). */
  eventsApplied = 0;
  snapshotOrders = 0;
  mismatches = 0;

  constructor(
    readonly symbol: string,
    readonly depth: number,
    private readonly storeLevels: number,
    private readonly sampleMs: number,
  ) {
    this.book = new L3Book(symbol, depth);
  }

  onMessage(
    type: 'snapshot' | 'update',
    data: { bids: readonly (L3OrderIn | L3EventIn)[]; asks: readonly (L3OrderIn | L3EventIn)[]; checksum: number; timestamp?: string },
    receivedMs: number,
  ): L3Outcome {
    const rows: Sample<L3Row>[] = [];
    let ok: boolean;
    let computed = -1;
    if (type === 'snapshot') {
      const pendingRow = this.takePending();
      if (pendingRow) rows.push(pendingRow);
      this.book = new L3Book(this.symbol, this.depth);
      try {
        const r = this.book.applySnapshot(data as { bids: L3OrderIn[]; asks: L3OrderIn[]; checksum: number });
        ok = r.ok;
        computed = r.computed;
      } catch {
        ok = false;
      }
      this.snapshotOrders += data.bids.length + data.asks.length;
    } else {
      if (!this.valid) {
        this.ignored++;
        return { rows, ignored: true };
      }
      const bestBid = this.book.bestKey('bid');
      const bestAsk = this.book.bestKey('ask');
      const events = data as { bids: L3EventIn[]; asks: L3EventIn[]; checksum: number };
      try {
        const r = this.book.applyUpdate(events);
        ok = r.ok;
        computed = r.computed;
        const f = this.flow;
        f.adds += r.stats.adds;
        f.modifies += r.stats.modifies;
        f.deletes += r.stats.deletes;
        f.added += r.unitsAdded;
        f.removed += r.unitsRemoved;
        f.messages++;
        for (const e of events.bids) this.touch(e, bestBid, -1);
        for (const e of events.asks) this.touch(e, bestAsk, 1);
        this.eventsApplied += events.bids.length + events.asks.length;
      } catch {
        ok = false;
      }
    }
    this.lastReceivedMs = receivedMs;
    this.lastExchangeTs = data.timestamp;
    this.lastChecksum = data.checksum;
    if (!ok) {
      this.valid = false;
      this.mismatches++;
      rows.push(this.emit(false));
      return { rows, mismatch: { expected: data.checksum >>> 0, computed } };
    }
    this.valid = true;
    if (type === 'snapshot' || this.sampleMs === 0 || receivedMs - this.lastEmitMs >= this.sampleMs) rows.push(this.emit(true));
    return { rows };
  }

  sweep(nowMs: number, force = false): Sample<L3Row> | null {
    if (this.flow.messages === 0) return null;
    if (!force && nowMs - this.lastEmitMs < this.sampleMs) return null;
    return this.takePending();
  }

  /**
   * Adds at or better than the touch (before the message) and deletes at the touch. `dir` -1 bids,
   * 1 asks; `best` is the decimalKey of the best price before the message.
   */
  private touch(e: L3EventIn, best: string | undefined, dir: -1 | 1): void {
    if (best === undefined) {
      if (e.event === 'add') this.flow.touchAdds++;
      return;
    }
    if (e.event !== 'add' && e.event !== 'delete') return;
    const k = decimalKey(e.limit_price);
    const c = (k < best ? -1 : k > best ? 1 : 0) * dir; // <= 0: at or better than the touch
    if (e.event === 'add' && c <= 0) this.flow.touchAdds++;
    else if (e.event === 'delete' && c === 0) this.flow.touchDeletes++;
  }

  private takePending(): Sample<L3Row> | null {
    if (this.flow.messages === 0) return null;
    return this.emit(this.valid);
  }

  private emit(ok: boolean): Sample<L3Row> {
    const f = this.flow;
    const row: L3Row = {
      symbol: this.symbol,
      bids: this.levels('bid'),
      asks: this.levels('ask'),
      adds: f.adds,
      modifies: f.modifies,
      deletes: f.deletes,
      addedQty: text(f.added),
      removedQty: text(f.removed),
      touchAdds: f.touchAdds,
      touchDeletes: f.touchDeletes,
      checksum: this.lastChecksum,
      checksumOk: ok,
      exchangeTs: this.lastExchangeTs,
    };
    this.flow = noFlow();
    this.lastEmitMs = this.lastReceivedMs;
    return { row, receivedMs: this.lastReceivedMs };
  }

  private levels(side: 'bid' | 'ask'): QueueLevel[] {
    return this.book.queueLevels(side, this.storeLevels);
  }
}

function text(v: bigint): string {
  return formatScaledTrimmed(v, SCALE);
}
