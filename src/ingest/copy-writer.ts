// Buffered COPY writer for the raw tables. Rows arrive as COPY text lines; they are batched and
// written in one transaction per batch (COPY per table + a claim row in ingest_write_batches, so a
// batch retried after a lost commit acknowledgement is never stored twice), flushed on size or time.
//
// Memory is bounded: pending plus in-flight lines never exceed maxBufferBytes. Above half of it the
// writer emits 'pressure' (the collector stops reading its sockets) and 'drain' below a quarter.
// Flow control: 'pressure' also when a whole next batch (maxPendingRows, default flushRows) waits
// behind the one in flight, 'drain' when that batch is taken. The producer then runs only as far
// ahead as PostgreSQL commits, instead of burning the CPU the database needs to fill memory.
// When the buffer is full anyway (the database is unreachable), new rows are dropped and accounted
// for per table as a gap (received_at range and row count): logged as DATA_INTEGRITY_GAP and written
// to ingest_gaps once the database is back. A batch PostgreSQL rejects as data is retried row by row
// (bisection under savepoints) so one bad row costs one row, reported the same way.
// The transaction itself is batch-sql.ts; with ioThread it runs in a worker (batch-thread.ts) so its
// round trips never wait for the producer's busy event loop. Buffering and accounting stay here.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { mark } from '../log/logger.ts';
import { MARKERS } from '../log/markers.ts';
import { BatchSql, errText, isDataError, type BatchRequest, type BatchWriterLike, type GapRecord } from './batch-sql.ts';
import { ThreadBatchSql } from './batch-thread.ts';
import { LineBuffer } from './line-buffer.ts';
import { RAW_TABLES, type RawTable } from './raw-tables.ts';
import type { RowWriter } from './rows.ts';

export type { GapRecord };

export interface CopyWriterOptions {
  connectionString: string;
  runId: string;
  log: Logger;
  /** Flush when this many rows are pending (default 10 000). */
  flushRows?: number;
  /** Flush pending rows at least this often (default 200 ms). */
  flushMs?: number;
  /** Hard bound on buffered line bytes, pending plus in flight (default 64 MiB). */
  maxBufferBytes?: number;
  /** Emit 'pressure' when this many rows wait behind the batch in flight (default flushRows). */
  maxPendingRows?: number;
  /** Retry backoff after a database error (defaults 200 ms … 5 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  connectTimeoutMs?: number;
  /**
   * Run the database I/O in its own thread (default false). Measured on 2 saturated cores it did not
   * lower the collector thread's CPU per row and cost the process ~5-9 µs a row more (docs/INGEST.md).
   */
  ioThread?: boolean;
  now?: () => number;
}

export interface TableCounters {
  accepted: number;
  written: number;
  dropped: number;
}

export interface WriterStats {
  tables: Record<RawTable, TableCounters>;
  batches: number;
  retries: number;
  bufferedBytes: number;
  bufferedRows: number;
  healthy: boolean;
  gaps: GapRecord[];
}

interface Batch {
  no: number;
  lines: Map<RawTable, LineBuffer>;
  rows: number;
  bytes: number;
  gaps: GapRecord[];
  attempts: number;
  careful: boolean;
  /** The lines' bytes per table, made at the first attempt. */
  text?: BatchRequest['tables'];
}

/** Per-line overhead counted against the buffer bound (kept from when lines were strings in an array). */
const LINE_OVERHEAD = 40;

/** A whole line given as text. */
const writeLine: RowWriter<string> = (out, _runId, line) => out.utf8(line);

export class CopyWriter extends EventEmitter {
  readonly runId: string;
  private readonly opts: Required<Omit<CopyWriterOptions, 'log' | 'runId' | 'connectionString'>>;
  private readonly log: Logger;
  private readonly connectionString: string;
  private pending = newPending();
  private pendingRows = 0;
  private pendingBytes = 0;
  private inflightBytes = 0;
  private inflightRows = 0;
  private batchNo = 0;
  private readonly sql: BatchWriterLike;
  private pumping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pressured = false;
  private closing = false;
  private closeDeadline = Infinity;
  private unhealthySince: number | null = null;
  private lastError = '';
  private readonly openGaps = new Map<RawTable, GapRecord>();
  private gapsToRecord: GapRecord[] = [];
  private readonly allGaps: GapRecord[] = [];
  private readonly counters: Record<RawTable, TableCounters>;
  private batches = 0;
  private retries = 0;
  /** Commit latency of each batch in ms (begin → commit acknowledged), for benchmarks. */
  readonly commitLatencies: number[] = [];

  constructor(options: CopyWriterOptions) {
    super();
    this.runId = options.runId;
    this.log = options.log;
    this.connectionString = options.connectionString;
    this.opts = {
      flushRows: options.flushRows ?? 10_000,
      flushMs: options.flushMs ?? 200,
      maxBufferBytes: options.maxBufferBytes ?? 64 * 2 ** 20,
      maxPendingRows: options.maxPendingRows ?? options.flushRows ?? 10_000,
      retryMinMs: options.retryMinMs ?? 200,
      retryMaxMs: options.retryMaxMs ?? 5_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
      ioThread: options.ioThread ?? false,
      now: options.now ?? Date.now,
    };
    const sqlOptions = { connectionString: this.connectionString, runId: this.runId, connectTimeoutMs: this.opts.connectTimeoutMs };
    this.sql = this.opts.ioThread ? new ThreadBatchSql(sqlOptions) : new BatchSql(sqlOptions);
    this.counters = Object.fromEntries(RAW_TABLES.map((t) => [t, { accepted: 0, written: 0, dropped: 0 }])) as Record<
      RawTable,
      TableCounters
    >;
    this.timer = setInterval(() => {
      if (this.pendingRows > 0 || this.gapsToRecord.length > 0) this.kick();
    }, this.opts.flushMs);
  }

  /** True while the last database operation succeeded. */
  get healthy(): boolean {
    return this.unhealthySince === null;
  }

  /** True above the high-water mark until the buffer drains below the low-water mark. */
  get underPressure(): boolean {
    return this.pressured;
  }

  get bufferedBytes(): number {
    return this.pendingBytes + this.inflightBytes;
  }

  /**
   * Buffers one COPY line (ending in '\n') for `table`. Returns false when the row was dropped because
   * the buffer is full; the drop is accounted for as a gap of that table.
   */
  push(table: RawTable, line: string, receivedMs: number): boolean {
    return this.pushRow(table, writeLine, this.runId, line, receivedMs);
  }

  /**
   * Encodes one row straight into the pending bytes of `table` (the collector's hot path: no line
   * string). Same contract as push; a row `write` throws on is discarded and the error rethrown
   * (nothing buffered, nothing counted).
   */
  pushRow<R>(table: RawTable, write: RowWriter<R>, runId: string, row: R, receivedMs: number): boolean {
    const out = this.pending.get(table)!;
    out.beginRow();
    try {
      write(out, runId, row, receivedMs);
    } catch (err) {
      out.abortRow();
      throw err;
    }
    const size = out.rowBytes + LINE_OVERHEAD;
    const c = this.counters[table];
    if (this.closing && this.closeDeadline !== Infinity && this.opts.now() > this.closeDeadline) {
      out.abortRow();
      this.drop(table, receivedMs, 'arrived after the shutdown flush deadline');
      return false;
    }
    if (this.bufferedBytes + size > this.opts.maxBufferBytes) {
      out.abortRow();
      this.drop(
        table,
        receivedMs,
        this.healthy
          ? 'write buffer full: the database is slower than the feed'
          : this.unreachableReason(),
      );
      return false;
    }
    if (this.openGaps.size > 0 && this.openGaps.has(table)) this.endGap(table);
    out.endRow(receivedMs);
    this.pendingRows++;
    this.pendingBytes += size;
    c.accepted++;
    if (!this.pressured && (this.bufferedBytes >= this.opts.maxBufferBytes / 2 || this.pendingRows >= this.opts.maxPendingRows)) {
      this.pressured = true;
      this.emit('pressure');
    }
    if (this.pendingRows >= this.opts.flushRows) this.kick();
    return true;
  }

  /** Writes everything buffered now; resolves when the buffer (as of the call) is committed or given up. */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
    if (this.pendingRows > 0 || this.gapsToRecord.length > 0) {
      this.kick();
      while (this.pumping) await this.pumping;
    }
  }

  /**
   * Stops the timer, ends open gaps and writes everything buffered, retrying until `timeoutMs`. Rows
   * still unwritten then are reported as gaps (the database never came back). Returns the final stats.
   */
  async close(timeoutMs = 30_000): Promise<WriterStats> {
    this.closing = true;
    this.closeDeadline = this.opts.now() + timeoutMs;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of [...this.openGaps.keys()]) this.endGap(t);
    for (;;) {
      while (this.pumping) await this.pumping;
      if (this.pendingRows === 0 && this.gapsToRecord.length === 0) break;
      if (this.opts.now() > this.closeDeadline) break;
      this.kick();
    }
    if (this.pendingRows > 0) {
      const lines = this.pending;
      this.pending = newPending();
      this.pendingRows = 0;
      this.pendingBytes = 0;
      this.abandon(lines, `the database was unreachable until the shutdown flush deadline (${this.lastError || 'no answer'})`);
    }
    if (this.gapsToRecord.length > 0) {
      this.log.error({ gaps: this.gapsToRecord.length }, 'gaps could not be written to ingest_gaps (logged above)');
    }
    await this.sql.close();
    return this.stats();
  }

  stats(): WriterStats {
    return {
      tables: structuredClone(this.counters),
      batches: this.batches,
      retries: this.retries,
      bufferedBytes: this.bufferedBytes,
      bufferedRows: this.pendingRows + this.inflightRows,
      healthy: this.healthy,
      gaps: [...this.allGaps],
    };
  }

  // ---- internals ------------------------------------------------------------------------------

  private unreachableReason(): string {
    return `write buffer full while the database is unreachable (${this.lastError})`;
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      if (!this.closing && this.pendingRows >= this.opts.flushRows) this.kick();
    });
  }

  private cut(): Batch | null {
    if (this.pendingRows === 0 && this.gapsToRecord.length === 0) return null;
    const batch: Batch = {
      no: ++this.batchNo,
      lines: this.pending,
      rows: this.pendingRows,
      bytes: this.pendingBytes,
      gaps: this.gapsToRecord,
      attempts: 0,
      careful: false,
    };
    this.pending = newPending();
    this.gapsToRecord = [];
    this.inflightBytes = batch.bytes;
    this.inflightRows = batch.rows;
    this.pendingRows = 0;
    this.pendingBytes = 0;
    return batch;
  }

  /** Ends 'pressure' once the buffer is below a quarter and no full batch is waiting. */
  private maybeDrain(): void {
    if (this.pressured && this.bufferedBytes <= this.opts.maxBufferBytes / 4 && this.pendingRows < this.opts.maxPendingRows) {
      this.pressured = false;
      this.emit('drain');
    }
  }

  private async pump(): Promise<void> {
    const batch = this.cut();
    if (!batch) return;
    this.maybeDrain();
    let delay = this.opts.retryMinMs;
    for (;;) {
      batch.attempts++;
      try {
        await this.write(batch);
        if (this.unhealthySince !== null) {
          this.log.info(
            { down_ms: this.opts.now() - this.unhealthySince, attempts: batch.attempts },
            'database reachable again; buffered rows written',
          );
        }
        this.unhealthySince = null;
        break;
      } catch (err) {
        if (isDataError(err) && !batch.careful) {
          this.log.warn({ err: errText(err), batch: batch.no }, 'PostgreSQL rejected a batch as data; retrying row by row');
          batch.careful = true;
          continue;
        }
        this.retries++;
        this.lastError = errText(err);
        if (this.unhealthySince === null) {
          this.unhealthySince = this.opts.now();
          // Rows already being dropped were dropped because of this outage, not a slow database.
          for (const g of this.openGaps.values()) g.reason = this.unreachableReason();
          this.emit('unhealthy');
          this.log.error(
            { err: this.lastError, buffered_bytes: this.bufferedBytes, max_buffer_bytes: this.opts.maxBufferBytes },
            'database write failed; keeping rows in the bounded buffer and retrying',
          );
        }
        if (this.closing && this.opts.now() + delay > this.closeDeadline) {
          // Give the batch back: close() reports it with whatever else is pending, as one gap per table.
          this.requeue(batch);
          break;
        }
        await sleep(delay * (0.5 + Math.random() * 0.5));
        delay = Math.min(this.opts.retryMaxMs, delay * 2);
      }
    }
    this.inflightBytes = 0;
    this.inflightRows = 0;
    this.maybeDrain();
  }

  private requeue(batch: Batch): void {
    for (const [t, lines] of batch.lines) this.pending.get(t)!.prepend(lines);
    this.pendingRows += batch.rows;
    this.pendingBytes += batch.bytes;
    this.gapsToRecord = batch.gaps.concat(this.gapsToRecord);
  }

  private async write(batch: Batch): Promise<void> {
    // One buffer per table and batch (it crosses to the I/O thread as one copy).
    batch.text ??= [...batch.lines].map(([table, lines]) => ({ table, text: lines.bytes(), rows: lines.rows }));
    const req: BatchRequest = { no: batch.no, attempts: batch.attempts, careful: batch.careful, tables: batch.text, gaps: batch.gaps };
    const res = await this.sql.write(req);
    const written = new Map(res.written);
    if (!res.claimed) {
      // Committed by an earlier attempt whose acknowledgement was lost: this copy is a duplicate.
      this.log.warn({ batch: batch.no }, 'batch was already committed by an earlier attempt; duplicate discarded');
      this.account(batch, written, res.rejected);
      return;
    }
    this.commitLatencies.push(res.latencyMs);
    this.account(batch, written, res.rejected);
  }

  private account(batch: Batch, written: Map<RawTable, number>, rejected: GapRecord[]): void {
    this.batches++;
    for (const [t, n] of written) this.counters[t].written += n;
    for (const g of rejected) {
      this.counters[g.table].dropped += g.rows;
      this.allGaps.push(g);
      mark(this.log, 'DATA_INTEGRITY_GAP', gapFields(g));
    }
    this.emit('batch', batch.no);
  }

  private drop(table: RawTable, receivedMs: number, reason: string): void {
    this.counters[table].dropped++;
    const g = this.openGaps.get(table);
    if (g) {
      g.rows++;
      g.lastMs = Math.max(g.lastMs, receivedMs);
      return;
    }
    this.openGaps.set(table, { table, firstMs: receivedMs, lastMs: receivedMs, rows: 1, reason });
    this.log.warn(
      { marker: MARKERS.DATA_INTEGRITY_GAP, table, state: 'started', from: new Date(receivedMs).toISOString(), reason },
      `dropping ${table} rows from ${new Date(receivedMs).toISOString()}: ${reason}`,
    );
  }

  private endGap(table: RawTable): void {
    const g = this.openGaps.get(table);
    if (!g) return;
    this.openGaps.delete(table);
    this.allGaps.push(g);
    this.gapsToRecord.push(g);
    mark(this.log, 'DATA_INTEGRITY_GAP', gapFields(g), `dropped ${g.rows} ${table} rows received ${iso(g.firstMs)} … ${iso(g.lastMs)}: ${g.reason}`);
  }

  /** Reports buffered lines that will never be written as gaps (per table). */
  private abandon(lines: Map<RawTable, LineBuffer>, reason: string): void {
    for (const [table, ls] of lines) {
      if (ls.rows === 0) continue;
      const g: GapRecord = { table, firstMs: ls.firstMs, lastMs: ls.lastMs, rows: ls.rows, reason };
      this.counters[table].dropped += ls.rows;
      this.allGaps.push(g);
      mark(this.log, 'DATA_INTEGRITY_GAP', gapFields(g), `dropped ${g.rows} ${table} rows received ${iso(g.firstMs)} … ${iso(g.lastMs)}: ${reason}`);
    }
  }
}

function newPending(): Map<RawTable, LineBuffer> {
  return new Map(RAW_TABLES.map((t) => [t, new LineBuffer()]));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function gapFields(g: GapRecord): Record<string, unknown> {
  return { table: g.table, from: iso(g.firstMs), to: iso(g.lastMs), rows: g.rows, reason: g.reason };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
