// The collector: Kraken WS v2 public data (instrument, ticker, trade, book; level3 when a token is
// configured) → verified in-memory books → raw rows (COPY text) → a RowSink (the CopyWriter).
//
// - Universe: instrument pairs filtered by quote and status, top N by 24 h quote volume from the
//   ticker channel; subscriptions follow instrument changes and a periodic re-ranking.
// - Books: checksum verified after every message; a mismatch logs DATA_INTEGRITY_CHECKSUM_MISMATCH,
//   stores a checksum_ok=false row, marks the book invalid and resubscribes that symbol only.
// - Trades: repeats after a reconnect (trade snapshot) are dropped by trade_id per symbol.
// - Backpressure: the sink's 'pressure' pauses socket reads; while the database is unreachable the
//   pause lasts at most maxPauseMs, after which reading resumes and the sink drops with accounting.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { InstrumentPair, KrakenWsMessage } from '../kraken/messages.ts';
import { mark } from '../log/logger.ts';
import type { RawTable } from '../ingest/raw-tables.ts';
import { writeL2, writeL3, writeTicker, writeTrade, type L2Row, type L3Row, type RowWriter } from '../ingest/rows.ts';
import { KrakenConnection, type ConnectionStats } from './connection.ts';
import { L2Tracker, type Sample } from './l2-tracker.ts';
import { L3Shards } from './l3-shards.ts';
import { L3Tracker } from './l3-tracker.ts';
import { MalformedCounter } from './malformed.ts';
import { TokenBucket } from './token-bucket.ts';
import { candidates, quoteVolume, selectUniverse, type UniversePair, type UniversePolicy } from './universe.ts';

/** Where rows go: the CopyWriter, or a test double. */
export interface RowSink {
  /** Encodes the row into the sink's buffer; false when it was dropped (accounted there); throws when it cannot be encoded. */
  pushRow<R>(table: RawTable, write: RowWriter<R>, runId: string, row: R, receivedMs: number): boolean;
  readonly healthy: boolean;
  readonly underPressure: boolean;
  on(event: 'pressure' | 'drain', listener: () => void): unknown;
  off(event: 'pressure' | 'drain', listener: () => void): unknown;
}

export interface CollectorOptions {
  runId: string;
  sink: RowSink;
  log: Logger;
  wsUrl: string;
  /** level3 endpoint (default: wsUrl). Level3 is subscribed only when l3Token is set. */
  l3Url?: string;
  l3Token?: string;
  /** Level3 symbols per connection (Kraken: at most 200); more symbols open more connections. */
  l3SymbolsPerConnection?: number;
  bookDepth: number;
  l3Depth: number;
  /** Price levels stored per side in each row. */
  storeLevels: number;
  /** At most one book/L3 row per symbol per sampleMs besides snapshots and mismatches; 0 = every message. */
  sampleMs: number;
  policy: UniversePolicy;
  /** How long to wait for tickers of every candidate before the first top-N ranking. */
  universeWarmupMs?: number;
  /** Re-rank the universe this often (0 = only on instrument changes). */
  universeRefreshMs?: number;
  /** Called with every quote-filtered pair after each universe decision (run_pairs). */
  onUniverse?: (pairs: UniversePair[]) => void | Promise<void>;
  subRatePerSec?: number;
  subBurst?: number;
  subBatch?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  pingMs?: number;
  idleMs?: number;
  /** While the sink is unhealthy, stop reading for at most this long before dropping instead (default 5 s). */
  maxPauseMs?: number;
}

export interface ChannelCounts {
  messages: number;
  snapshots: number;
  updates: number;
  rows: number;
}

export interface CollectorStats {
  received: Record<string, Record<string, ChannelCounts>>;
  duplicateTrades: number;
  bookIgnored: number;
  l3Ignored: number;
  l3SnapshotOrders: number;
  l3EventsApplied: number;
  checksumMismatches: Record<string, number>;
  resubscribes: Record<string, number>;
  malformed: Record<string, number>;
  unstorable: number;
  rowsPushed: Record<RawTable, number>;
  rowsRefused: number;
  connections: Record<string, ConnectionStats>;
  universe: string[];
  paused: boolean;
}

export class Collector extends EventEmitter {
  private readonly o: CollectorOptions;
  private readonly log: Logger;
  private readonly malformed: MalformedCounter;
  private readonly publicConn: KrakenConnection;
  /** Level3 connections: l3Shards decides which carries which symbol (at most 200 each). */
  private readonly l3Conns: KrakenConnection[] = [];
  private readonly l3Shards: L3Shards;
  private readonly newL3Conn: (i: number) => KrakenConnection;
  private started = false;
  private readonly pairs = new Map<string, InstrumentPair>();
  /** Latest 24 h volume and vwap text per symbol (the quote volume is computed only when ranking). */
  private readonly volumes = new Map<string, { volume: string; vwap: string; quote?: string }>();
  private readonly l2 = new Map<string, L2Tracker>();
  private readonly l3 = new Map<string, L3Tracker>();
  private readonly lastTradeId = new Map<string, number>();
  private selected = new Set<string>();
  private ranked = false;
  private warmupDeadline = 0;
  private warmupTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private pressureTimer: NodeJS.Timeout | null = null;
  private pausedSince: number | null = null;
  private readingThroughOutage = false;
  private stopped = false;
  private readonly received: Record<string, Record<string, ChannelCounts>> = {};
  private readonly counters = {
    duplicateTrades: 0, bookIgnored: 0, l3Ignored: 0, unstorable: 0, rowsRefused: 0,
    l3SnapshotOrders: 0, l3EventsApplied: 0,
  };
  private readonly rowsPushed: Record<RawTable, number> = {
    ticker_samples: 0, trade_samples: 0, l2_snap_metrics: 0, l3_queue_metrics: 0,
  };
  private readonly mismatches: Record<string, number> = {};
  private readonly resubscribes: Record<string, number> = {};
  private readonly onPressure = () => this.superviseBackpressure();
  private readonly onDrain = () => this.superviseBackpressure();

  constructor(options: CollectorOptions) {
    super();
    this.o = options;
    this.log = options.log;
    this.malformed = new MalformedCounter(this.log);
    const bucket = new TokenBucket(options.subRatePerSec ?? 5, options.subBurst ?? 10);
    const common = {
      log: this.log,
      bucket,
      malformed: this.malformed,
      batchSize: options.subBatch,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      pingMs: options.pingMs,
      idleMs: options.idleMs,
    };
    const defined = <T extends object>(x: T): T =>
      Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as T;
    this.publicConn = new KrakenConnection(defined({
      ...common, name: 'public', url: options.wsUrl, onMessage: (m: KrakenWsMessage, t: number) => this.onMessage(m, t),
      onOpen: () => this.onReconnect('public'),
    }));
    this.l3Shards = new L3Shards(options.l3SymbolsPerConnection);
    this.newL3Conn = (i: number) =>
      new KrakenConnection(defined({
        ...common, name: i === 0 ? 'level3' : `level3-${i + 1}`, url: options.l3Url ?? options.wsUrl,
        onMessage: (m: KrakenWsMessage, t: number) => this.onMessage(m, t), onOpen: () => this.onL3Reconnect(i),
      }));
    if (options.l3Token) this.l3Conns.push(this.newL3Conn(0));
  }

  start(): void {
    this.publicConn.setChannel('instrument', { snapshot: true }, null);
    this.publicConn.start();
    for (const c of this.l3Conns) c.start();
    this.started = true;
    this.o.sink.on('pressure', this.onPressure);
    this.o.sink.on('drain', this.onDrain);
    if (this.o.sampleMs > 0) this.sweepTimer = setInterval(() => this.sweep(false), Math.max(20, this.o.sampleMs));
    const refresh = this.o.universeRefreshMs ?? 0;
    if (refresh > 0) this.refreshTimer = setInterval(() => this.refreshUniverse('periodic re-ranking'), refresh);
  }

  /** Closes the sockets and emits every folded sample, so the sink holds everything received. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [this.sweepTimer, this.refreshTimer, this.pressureTimer]) if (t) clearInterval(t);
    if (this.warmupTimer) clearTimeout(this.warmupTimer);
    this.o.sink.off('pressure', this.onPressure);
    this.o.sink.off('drain', this.onDrain);
    await Promise.all([this.publicConn.stop(), ...this.l3Conns.map((c) => c.stop())]);
    this.sweep(true);
  }

  get universe(): string[] {
    return [...this.selected].sort();
  }

  /** The connections, for tests and operators (pause state, subscriptions). */
  get connections(): KrakenConnection[] {
    return [this.publicConn, ...this.l3Conns];
  }

  stats(): CollectorStats {
    const l3 = [...this.l3.values()];
    return {
      received: structuredClone(this.received),
      ...this.counters,
      bookIgnored: this.counters.bookIgnored,
      l3Ignored: this.counters.l3Ignored,
      l3SnapshotOrders: this.counters.l3SnapshotOrders + l3.reduce((a, t) => a + t.snapshotOrders, 0),
      l3EventsApplied: this.counters.l3EventsApplied + l3.reduce((a, t) => a + t.eventsApplied, 0),
      checksumMismatches: { ...this.mismatches },
      resubscribes: { ...this.resubscribes },
      malformed: this.malformed.byKind(),
      rowsPushed: { ...this.rowsPushed },
      connections: Object.fromEntries(this.connections.map((c) => [c.name, { ...c.stats }])),
      universe: this.universe,
      paused: this.pausedSince !== null,
    };
  }

  // ---- messages -------------------------------------------------------------------------------

  private count(channel: string, symbol: string, type: 'snapshot' | 'update', rows: number): void {
    const bySymbol = (this.received[channel] ??= {});
    const c = (bySymbol[symbol] ??= { messages: 0, snapshots: 0, updates: 0, rows: 0 });
    c.messages++;
    if (type === 'snapshot') c.snapshots++;
    else c.updates++;
    c.rows += rows;
  }

  private onMessage(msg: KrakenWsMessage, receivedMs: number): void {
    switch (msg.kind) {
      case 'ticker':
        for (const d of msg.data) {
          this.count('ticker', d.symbol, msg.type, 1);
          const v = this.volumes.get(d.symbol);
          if (v === undefined) this.volumes.set(d.symbol, { volume: d.volume, vwap: d.vwap });
          else if (v.volume !== d.volume || v.vwap !== d.vwap) { v.volume = d.volume; v.vwap = d.vwap; v.quote = undefined; }
          this.push('ticker_samples', writeTicker, d, receivedMs);
        }
        if (!this.ranked && this.pairs.size > 0) this.maybeFinishWarmup();
        return;
      case 'trade': {
        const sym = msg.data[0]?.symbol;
        if (sym) this.count('trade', sym, msg.type, msg.data.length);
        for (const d of msg.data) {
          const last = this.lastTradeId.get(d.symbol);
          if (last !== undefined && d.trade_id <= last) {
            this.counters.duplicateTrades++;
            continue;
          }
          this.lastTradeId.set(d.symbol, d.trade_id);
          this.push('trade_samples', writeTrade, d, receivedMs);
        }
        return;
      }
      case 'book':
        for (const d of msg.data) {
          this.count('book', d.symbol, msg.type, d.bids.length + d.asks.length);
          const t = this.l2.get(d.symbol);
          if (!t) {
            this.counters.bookIgnored++;
            continue;
          }
          const out = t.onMessage(msg.type, d, receivedMs);
          if (out.ignored) this.counters.bookIgnored++;
          this.pushL2(out.rows);
          if (out.mismatch) this.onMismatch('book', d.symbol, out.mismatch.expected, out.mismatch.computed, this.publicConn);
        }
        return;
      case 'level3_snapshot':
      case 'level3_update': {
        const type = msg.kind === 'level3_snapshot' ? 'snapshot' : 'update';
        for (const d of msg.data) {
          this.count('level3', d.symbol, type, d.bids.length + d.asks.length);
          const t = this.l3.get(d.symbol);
          if (!t) {
            this.counters.l3Ignored++;
            continue;
          }
          const out = t.onMessage(type, d, receivedMs);
          if (out.ignored) this.counters.l3Ignored++;
          this.pushL3(out.rows);
          if (out.mismatch) {
            const conn = this.l3Conns[this.l3Shards.shardOf(d.symbol) ?? -1];
            if (conn) this.onMismatch('level3', d.symbol, out.mismatch.expected, out.mismatch.computed, conn);
          }
        }
        return;
      }
      case 'instrument':
        this.count('instrument', '*', msg.type, msg.data.pairs.length);
        if (msg.type === 'snapshot') this.pairs.clear();
        for (const p of msg.data.pairs) this.pairs.set(p.symbol, p);
        this.refreshUniverse(`instrument ${msg.type}`);
        return;
      case 'status':
        for (const d of msg.data) this.log.info({ system: d.system, connection_id: d.connection_id, version: d.version }, 'exchange status');
        return;
      default:
        return; // heartbeat, pong, acks (failures are logged by the connection)
    }
  }

  private onMismatch(channel: 'book' | 'level3', symbol: string, expected: number, computed: number, conn: KrakenConnection): void {
    const key = `${channel}:${symbol}`;
    this.mismatches[key] = (this.mismatches[key] ?? 0) + 1;
    this.resubscribes[key] = (this.resubscribes[key] ?? 0) + 1;
    mark(this.log, 'DATA_INTEGRITY_CHECKSUM_MISMATCH', { channel, symbol, expected, computed },
      `${channel} checksum mismatch for ${symbol}: book invalid until a fresh snapshot; resubscribing ${symbol} only`);
    conn.resubscribe(channel, symbol);
  }

  private onReconnect(connection: 'public'): void {
    // A fresh connection sends fresh snapshots; books wait for them (updates before are ignored).
    for (const t of this.l2.values()) t.valid = false;
    // Folded samples of the old connection are stored before the new snapshots replace the books.
    this.sweep(true, 'book');
  }

  /** As onReconnect, for the symbols that level3 connection i carries. */
  private onL3Reconnect(i: number): void {
    const now = Date.now();
    for (const s of this.l3Shards.symbolsOf(i)) {
      const t = this.l3.get(s);
      if (!t) continue;
      t.valid = false;
      const swept = t.sweep(now, true);
      if (swept) this.pushL3([swept]);
    }
  }

  // ---- rows -----------------------------------------------------------------------------------

  /** Hands one row and its encoder to the sink, which encodes it in place (no closure, no line string per row). */
  private push<R>(table: RawTable, write: RowWriter<R>, row: R, receivedMs: number): void {
    let accepted: boolean;
    try {
      accepted = this.o.sink.pushRow(table, write, this.o.runId, row, receivedMs);
    } catch (err) {
      this.counters.unstorable++;
      this.malformed.record('collector', `unstorable ${table}: ${(err as Error).message}`, '');
      return;
    }
    this.rowsPushed[table]++;
    if (!accepted) this.counters.rowsRefused++;
  }

  private pushL2(rows: Sample<L2Row>[]): void {
    for (const s of rows) this.push('l2_snap_metrics', writeL2, s.row, s.receivedMs);
  }

  private pushL3(rows: Sample<L3Row>[]): void {
    for (const s of rows) this.push('l3_queue_metrics', writeL3, s.row, s.receivedMs);
  }

  private sweep(force: boolean, only?: 'book' | 'level3'): void {
    const now = Date.now();
    if (only !== 'level3') {
      for (const t of this.l2.values()) {
        const s = t.sweep(now, force);
        if (s) this.pushL2([s]);
      }
    }
    if (only !== 'book') {
      for (const t of this.l3.values()) {
        const s = t.sweep(now, force);
        if (s) this.pushL3([s]);
      }
    }
  }

  // ---- universe -------------------------------------------------------------------------------

  private maybeFinishWarmup(): void {
    const cands = candidates(this.pairs.values(), this.o.policy);
    if (cands.every((p) => this.volumes.has(p.symbol))) this.refreshUniverse('tickers of all candidates received');
  }

  private refreshUniverse(reason: string): void {
    if (this.stopped) return;
    const policy = this.o.policy;
    const cands = candidates(this.pairs.values(), policy);
    this.publicConn.setChannel('ticker', { snapshot: true }, cands.map((p) => p.symbol));
    const needRanking = policy.topN > 0 && cands.length > policy.topN;
    if (needRanking && !this.ranked) {
      if (this.warmupDeadline === 0) this.warmupDeadline = Date.now() + (this.o.universeWarmupMs ?? 5_000);
      const allKnown = cands.every((p) => this.volumes.has(p.symbol));
      if (!allKnown && Date.now() < this.warmupDeadline) {
        this.warmupTimer ??= setTimeout(() => this.refreshUniverse('ranking warm-up elapsed'), this.warmupDeadline - Date.now());
        return;
      }
    }
    this.ranked = true;
    if (this.warmupTimer) clearTimeout(this.warmupTimer);
    const quoteVolumes = new Map<string, string>();
    for (const [sym, v] of this.volumes) quoteVolumes.set(sym, (v.quote ??= quoteVolume(v.volume, v.vwap)));
    const pairs = selectUniverse(this.pairs.values(), quoteVolumes, policy, this.selected);
    this.apply(pairs, reason);
  }

  private apply(pairs: UniversePair[], reason: string): void {
    const next = new Set(pairs.filter((p) => p.inUniverse).map((p) => p.symbol));
    const added = [...next].filter((s) => !this.selected.has(s));
    const removed = [...this.selected].filter((s) => !next.has(s));
    const symbols = [...next].sort();
    this.selected = next;
    for (const s of added) {
      this.l2.set(s, new L2Tracker(s, this.o.bookDepth, this.o.storeLevels, this.o.sampleMs));
      if (this.o.l3Token) this.l3.set(s, new L3Tracker(s, this.o.l3Depth, this.o.storeLevels, this.o.sampleMs));
    }
    for (const s of removed) {
      const t2 = this.l2.get(s);
      const s2 = t2?.sweep(Date.now(), true);
      if (s2) this.pushL2([s2]);
      const t3 = this.l3.get(s);
      const s3 = t3?.sweep(Date.now(), true);
      if (s3) this.pushL3([s3]);
      if (t3) {
        this.counters.l3SnapshotOrders += t3.snapshotOrders;
        this.counters.l3EventsApplied += t3.eventsApplied;
      }
      this.l2.delete(s);
      this.l3.delete(s);
    }
    this.publicConn.setChannel('trade', { snapshot: true }, symbols);
    this.publicConn.setChannel('book', { depth: this.o.bookDepth, snapshot: true }, symbols);
    if (this.o.l3Token) this.applyL3(symbols);
    if (added.length || removed.length) {
      this.log.info({ reason, added, removed, universe: symbols.length }, 'universe changed');
    }
    this.emit('universe', pairs);
    if (this.o.onUniverse) {
      Promise.resolve(this.o.onUniverse(pairs)).catch((err: Error) =>
        this.log.error({ err: err.message }, 'could not record the universe (run_pairs)'));
    }
  }

  /** Spreads the level3 symbols over as many connections as Kraken's per-connection limit needs. */
  private applyL3(symbols: readonly string[]): void {
    this.l3Shards.assign(symbols);
    while (this.l3Conns.length < this.l3Shards.count) {
      const c = this.newL3Conn(this.l3Conns.length);
      this.l3Conns.push(c);
      if (this.started && !this.stopped) c.start();
      if (this.pausedSince !== null) c.pause();
      this.log.info({ connection: c.name, symbols: symbols.length }, `level3: opening connection ${c.name} (at most ${this.l3Shards.perConnection} symbols each)`);
    }
    const params = { depth: this.o.l3Depth, snapshot: true, token: this.o.l3Token! };
    this.l3Conns.forEach((c, i) => c.setChannel('level3', params, this.l3Shards.symbolsOf(i)));
  }

  // ---- backpressure ---------------------------------------------------------------------------

  private superviseBackpressure(): void {
    const sink = this.o.sink;
    if (!sink.underPressure) {
      this.readingThroughOutage = false;
      if (this.pausedSince !== null) {
        this.pausedSince = null;
        for (const c of this.connections) c.resume();
        this.log.debug('write buffer drained; reading the sockets again');
      }
      if (this.pressureTimer) clearInterval(this.pressureTimer);
      this.pressureTimer = null;
      return;
    }
    this.pressureTimer ??= setInterval(() => this.superviseBackpressure(), 250);
    if (sink.healthy) this.readingThroughOutage = false;
    const now = Date.now();
    if (this.pausedSince === null) {
      if (this.readingThroughOutage) return;
      this.pausedSince = now;
      for (const c of this.connections) c.pause();
      // With a healthy database this is ordinary flow control (a full batch waits behind the one being
      // committed) and happens every few batches when the feed is faster than PostgreSQL.
      if (sink.healthy) this.log.debug('write buffer above its high-water mark; pausing socket reads');
      else this.log.warn({ healthy: false }, 'write buffer above its high-water mark and the database unreachable; pausing socket reads');
      return;
    }
    const maxPause = this.o.maxPauseMs ?? 5_000;
    if (!sink.healthy && now - this.pausedSince > maxPause) {
      // The database is down: Kraken would drop a connection we do not read. Read on; the writer
      // drops what does not fit and reports it as DATA_INTEGRITY_GAP.
      this.pausedSince = null;
      this.readingThroughOutage = true;
      for (const c of this.connections) c.resume();
      this.log.warn({ max_pause_ms: maxPause },
        'database unreachable: reading the sockets again; rows beyond the buffer are dropped and reported');
    }
  }
}
