// `kapitaal sim`: a local Kraken public WebSocket v2 server on 127.0.0.1. One PairMarket per pair
// is the source of truth; every step is fanned out to the subscribers of that pair as book,
// level3, trade and ticker messages. Deterministic from the seed when the clock is `sim`.
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { AddressInfo } from 'node:net';
import { BOOK_DEPTHS, L3_DEPTHS, SubscribeRequest } from '../kraken/messages.ts';
import { Counter, type SentCounts } from './counts.ts';
import * as enc from './encode.ts';
import { FrameBatch } from './frames.ts';
import { rawSocketOf, type RawSocket } from './raw-socket.ts';
import { NO_FAULTS, type FaultConfig } from './faults.ts';
import { l2Touches, l3Events, type L3Out } from './feed.ts';
import { PairMarket, type StepResult } from './market.ts';
import { defaultPairs, type PairSpec, type PairStatus } from './pairs.ts';
import { Prng } from './prng.ts';
import type { SimBook } from './book.ts';

export type SimRate = 'realistic' | 'max' | number;
export type SystemStatus = 'online' | 'cancel_only' | 'maintenance' | 'post_only';

export interface SimulatorOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  seed?: string | number;
  /** Number of pairs from the default catalogue (extended synthetically), or explicit specs. */
  pairs?: number | PairSpec[];
  /** Market steps per second over all pairs; `realistic` ≈ 3 per liquid pair, `max` = as fast as sockets drain. */
  rate?: SimRate;
  /** `sim`: timestamps from a simulated clock (fully deterministic); `wall` (default): real time. */
  clock?: 'sim' | 'wall';
  /** Start with the market not advancing; drive it with market.step() or market.resume(). */
  paused?: boolean;
  heartbeatMs?: number;
  /** Close a connection after this long without client traffic (default 60 s). */
  idleTimeoutMs?: number;
  /** If set, level3 subscriptions must carry exactly this token; otherwise any non-empty token. */
  l3Token?: string;
  faults?: Partial<FaultConfig>;
  /** Pair statuses to apply at start, e.g. { 'BTC/USD': 'cancel_only' }. */
  pairStatus?: Record<string, PairStatus>;
  /** Stop stepping while any socket has more than this many bytes queued (default 4 MiB). */
  highWaterBytes?: number;
  /**
   * Write each burst's frames with one socket write (default true). false: every frame through
   * ws.send, the path taken anyway when ws's socket cannot be reached (raw-socket.ts).
   */
  batchFrames?: boolean;
}

export interface SimMarketControl {
  symbols(): string[];
  pair(symbol: string): { spec: PairSpec; status: PairStatus } | undefined;
  /** The pair's L3 book (read only!). */
  book(symbol: string): SimBook | undefined;
  /** Checksums of the current book, as the feed would send them (uncorrupted). */
  checksums(symbol: string): { book: number; level3: number } | undefined;
  /** Run n market steps now, synchronously (works while paused). */
  step(n?: number): void;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  readonly steps: number;
}

export interface Simulator {
  readonly url: string;
  readonly port: number;
  readonly market: SimMarketControl;
  close(): Promise<void>;
  /** Totals since start (closed connections included), or for one connection by its index (0-based, connect order). */
  sentCounts(connection?: number): SentCounts;
  connections(): number;
  faults(): FaultConfig;
  setFaults(f: Partial<FaultConfig>): void;
  /** Terminate every connection now (no close frame). Returns how many. */
  dropConnections(): number;
  /** Send one malformed JSON frame to every connection. */
  injectMalformed(): void;
  /** Change a pair's status: the market follows it and instrument subscribers get an update. */
  setPairStatus(symbol: string, status: PairStatus): void;
  /** Change the system status: every connection gets a `status` update. */
  setSystemStatus(status: SystemStatus): void;
}

interface SubInfo { depth: number; eventTrigger: 'bbo' | 'trades' }

interface Conn {
  ws: WebSocket;
  index: number;
  id: bigint;
  subs: Map<string, Map<string, SubInfo>>;
  lastSent: number;
  lastRecv: number;
  counter: Counter;
  dataSeq: number;
  updateSeq: number;
  held: Map<string, { text: string; channel: string; symbol: string; rows: number }>;
  /** Frames of the current burst of steps, written to the socket when the burst ends (see cork). */
  frames: FrameBatch;
  /** The socket under ws (raw-socket.ts); null: no batching, frames go through ws.send. */
  raw: RawSocket | null;
}

interface PairSubs {
  book: Map<number, Set<Conn>>;
  level3: Map<number, Set<Conn>>;
  trade: Set<Conn>;
  tickerTrades: Set<Conn>;
  tickerBbo: Set<Conn>;
}

const SIM_EPOCH_NS = 1_735_689_600_000_000_000n; // 2025-01-01T00:00:00Z
const L3_MAX_SYMBOLS = 200;
const STEPS_PER_PAIR_PER_SECOND = 3;
const MAX_BATCH = 256;

/** `book:update` etc., built once per channel: a fresh string per frame cost a concatenation and two hashings. */
const FRAME_TYPES = new Map<string, { snapshot: string; update: string }>();
function frameType(channel: string, kind: 'snapshot' | 'update'): string {
  let t = FRAME_TYPES.get(channel);
  if (!t) { t = { snapshot: `${channel}:snapshot`, update: `${channel}:update` }; FRAME_TYPES.set(channel, t); }
  return t[kind];
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const server = new SimServer(opts);
  await server.listen(opts.port ?? 0);
  return server.api();
}

class SimServer {
  private readonly seed: string | number;
  private readonly markets: PairMarket[];
  private readonly bySymbol = new Map<string, PairMarket>();
  private readonly subs = new Map<PairMarket, PairSubs>();
  private readonly conns = new Set<Conn>();
  /** Inside a burst of steps: data frames go to each connection's FrameBatch (see cork). */
  private batching = false;
  /** Per-connection counters in connect order (kept after close; the sockets are not). */
  private readonly connCounters: Counter[] = [];
  private readonly counter = new Counter();
  private readonly schedRng: Prng;
  private readonly connRng: Prng;
  private readonly cumWeights: number[] = [];
  private faultCfg: FaultConfig;
  private systemStatus: SystemStatus = 'online';
  private wss: WebSocketServer | undefined;
  private port = 0;
  private paused: boolean;
  private steps = 0;
  private readonly rate: SimRate;
  private readonly stepNs: bigint;
  private readonly clock: 'sim' | 'wall';
  private readonly wallBase = { ms: Date.now(), hr: process.hrtime.bigint() };
  private readonly timers: NodeJS.Timeout[] = [];
  private runTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private closed = false;
  private l3Subscribed = 0;
  private dataSubscribed = 0;

  constructor(private readonly opts: SimulatorOptions) {
    this.seed = opts.seed ?? 1;
    const specs = Array.isArray(opts.pairs) ? opts.pairs : defaultPairs(opts.pairs ?? 10);
    if (specs.length === 0) throw new Error('the simulator needs at least one pair');
    this.clock = opts.clock ?? 'wall';
    const startNs = this.clock === 'sim' ? SIM_EPOCH_NS : BigInt(Date.now()) * 1_000_000n;
    this.markets = specs.map((s, i) => new PairMarket(s, i, this.seed, startNs));
    let cum = 0;
    for (const m of this.markets) {
      this.bySymbol.set(m.spec.symbol, m);
      this.subs.set(m, { book: new Map(), level3: new Map(), trade: new Set(), tickerTrades: new Set(), tickerBbo: new Set() });
      cum += m.activity;
      this.cumWeights.push(cum);
    }
    for (const [sym, st] of Object.entries(opts.pairStatus ?? {})) {
      const m = this.bySymbol.get(sym);
      if (!m) throw new Error(`pairStatus: unknown pair ${sym}`);
      m.status = st;
    }
    this.schedRng = Prng.derive(this.seed, 'scheduler');
    this.connRng = Prng.derive(this.seed, 'connections');
    this.faultCfg = { ...NO_FAULTS, ...opts.faults };
    this.paused = opts.paused ?? false;
    this.rate = opts.rate ?? 'realistic';
    const perSecond = this.stepsPerSecond();
    this.stepNs = perSecond === undefined ? 1_000_000n : BigInt(Math.max(1, Math.round(1e9 / perSecond)));
  }

  private stepsPerSecond(): number | undefined {
    if (this.rate === 'max') return undefined;
    if (this.rate === 'realistic') return STEPS_PER_PAIR_PER_SECOND * (this.cumWeights.at(-1) ?? 1);
    if (!(this.rate > 0)) throw new Error(`rate must be realistic, max or a positive number, got ${String(this.rate)}`);
    return this.rate;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  async listen(port: number): Promise<void> {
    // Loopback only, always: this is a test double, never a public service.
    const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => this.onConnection(ws));
    const hb = this.opts.heartbeatMs ?? 1000;
    this.timers.push(setInterval(() => this.housekeeping(), Math.max(10, Math.min(250, hb / 2))));
    this.scheduleDropEvery();
    this.scheduleRun();
  }

  private dropTimer: NodeJS.Timeout | undefined;
  private scheduleDropEvery(): void {
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.dropTimer = undefined;
    const ms = this.faultCfg.dropEveryMs;
    if (ms > 0 && !this.closed) this.dropTimer = setInterval(() => this.dropAll(), ms);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.cancelRun();
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
  }

  // ---- the market clock ---------------------------------------------------------------------

  private nowNs(): bigint {
    if (this.clock === 'sim') return SIM_EPOCH_NS + BigInt(this.steps) * this.stepNs;
    return BigInt(this.wallBase.ms) * 1_000_000n + (process.hrtime.bigint() - this.wallBase.hr);
  }

  private cancelRun(): void {
    if (this.runTimer === undefined) return;
    if ('hasRef' in this.runTimer && 'refresh' in this.runTimer) clearTimeout(this.runTimer);
    else clearImmediate(this.runTimer as NodeJS.Immediate);
    this.runTimer = undefined;
  }

  private scheduleRun(): void {
    this.cancelRun();
    if (this.closed || this.paused) return;
    const perSecond = this.stepsPerSecond();
    if (perSecond === undefined) { this.runTimer = setImmediate(() => this.runMax()); return; }
    let last = performance.now();
    let owed = 0;
    const tick = (): void => {
      const now = performance.now();
      owed += ((now - last) * perSecond) / 1000;
      last = now;
      // Never catch up more than half a second of steps in one go.
      owed = Math.min(owed, Math.max(1, perSecond / 2));
      if (!this.backpressured() && owed >= 1) {
        this.cork(true);
        while (owed >= 1) { this.stepOnce(); owed -= 1; }
        this.cork(false);
      }
      if (!this.closed && !this.paused) this.runTimer = setTimeout(tick, 20);
    };
    this.runTimer = setTimeout(tick, 20);
  }

  private runMax(): void {
    this.runTimer = undefined;
    if (this.closed || this.paused) return;
    if (this.dataSubscribed === 0 || this.faultCfg.stall) { this.runTimer = setTimeout(() => this.runMax(), 20); return; }
    if (this.backpressured()) { this.runTimer = setTimeout(() => this.runMax(), 2); return; }
    this.cork(true);
    for (let i = 0; i < MAX_BATCH && !this.backpressured(); i++) this.stepOnce();
    this.cork(false);
    this.runTimer = setImmediate(() => this.runMax());
  }

  /**
   * A burst of steps: between cork(true) and cork(false) the data frames of each connection are
   * collected in its FrameBatch and written with one socket write at the end (same bytes as ws.send;
   * nothing else is sent to the connection in between: the burst is synchronous).
   */
  private cork(on: boolean): void {
    this.batching = on;
    if (!on) for (const c of this.conns) this.flushFrames(c);
  }

  private flushFrames(c: Conn): void {
    if (c.frames.pending === 0) return;
    const out = c.frames.take();
    if (c.raw && !c.raw.destroyed && c.ws.readyState === WebSocket.OPEN) c.raw.write(out);
  }

  private backpressured(): boolean {
    const hw = this.opts.highWaterBytes ?? 4 * 1024 * 1024;
    for (const c of this.conns) if (c.ws.bufferedAmount + c.frames.pending > hw) return true;
    return false;
  }

  private pickMarket(): PairMarket {
    const w = this.cumWeights;
    const x = this.schedRng.next() * w[w.length - 1]!;
    let lo = 0;
    let hi = w.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (w[mid]! > x) hi = mid; else lo = mid + 1; }
    return this.markets[lo]!;
  }

  stepOnce(): void {
    const m = this.pickMarket();
    this.steps++;
    const ps = this.subs.get(m)!;
    let capture = 0;
    for (const d of ps.book.keys()) capture = Math.max(capture, d);
    for (const d of ps.level3.keys()) capture = Math.max(capture, d);
    const res = m.step(this.nowNs(), capture);
    this.publish(m, ps, res);
  }

  // ---- fan-out ------------------------------------------------------------------------------

  private corrupt(symbol: string, checksum: number): number {
    const c = this.faultCfg.corruptChecksum;
    if (c.length === 0 || !(c.includes('*') || c.includes(symbol))) return checksum;
    this.counter.fault('corrupted');
    return (checksum ^ 0x5a5a5a5a) >>> 0;
  }

  private bookChecksum(b: SimBook): number { return b.l2Checksum(); }

  private l3Checksum(b: SimBook): number { return b.l3Checksum(); }

  private publish(m: PairMarket, ps: PairSubs, res: StepResult): void {
    const sym = m.spec.symbol;
    const b = m.book;
    const extra = this.faultCfg.unknownFields;
    if (ps.book.size > 0 && res.events.length > 0) {
      // Checksums only for messages that go out (a step that changed only deep levels sends none).
      let cs: number | undefined;
      for (const [depth, conns] of ps.book) {
        if (conns.size === 0) continue;
        const bids = l2Touches(b, res, 'bid', depth);
        const asks = l2Touches(b, res, 'ask', depth);
        if (bids.length + asks.length === 0) continue;
        cs ??= this.corrupt(sym, this.bookChecksum(b));
        const text = enc.bookMessage('update', sym, bids, asks, cs, res.ts, extra);
        for (const c of conns) this.sendData(c, text, 'book', sym, 'update', bids.length + asks.length);
      }
    }
    if (ps.level3.size > 0 && res.events.length > 0) {
      let cs: number | undefined;
      for (const [depth, conns] of ps.level3) {
        if (conns.size === 0) continue;
        const bids = l3Events(b, res, 'bid', depth);
        const asks = l3Events(b, res, 'ask', depth);
        if (bids.length + asks.length === 0) continue;
        cs ??= this.corrupt(sym, this.l3Checksum(b));
        const text = enc.l3Message('update', sym, bids, asks, cs, res.ts, extra);
        for (const c of conns) this.sendData(c, text, 'level3', sym, 'update', bids.length + asks.length);
      }
    }
    if (res.trades.length > 0 && ps.trade.size > 0) {
      const text = enc.tradeMessage('update', sym, res.trades, extra);
      for (const c of ps.trade) this.sendData(c, text, 'trade', sym, 'update', res.trades.length);
    }
    const tick = (res.trades.length > 0 ? ps.tickerTrades.size : 0) + (res.bboChanged ? ps.tickerBbo.size : 0);
    if (tick > 0) {
      const text = enc.tickerMessage('update', sym, m.ticker(), res.ts, extra);
      if (res.trades.length > 0) for (const c of ps.tickerTrades) this.sendData(c, text, 'ticker', sym, 'update', 1);
      if (res.bboChanged) for (const c of ps.tickerBbo) this.sendData(c, text, 'ticker', sym, 'update', 1);
    }
  }

  // ---- sending ------------------------------------------------------------------------------

  private sendFrame(c: Conn, text: string, type: string): boolean {
    if (this.faultCfg.stall) { this.counter.fault('suppressed'); c.counter.fault('suppressed'); return false; }
    if (c.ws.readyState !== WebSocket.OPEN) return false;
    if (this.batching && c.raw) c.frames.addText(text);
    else c.ws.send(text);
    c.lastSent = Date.now();
    this.counter.frame(type);
    c.counter.frame(type);
    return true;
  }

  private sendData(c: Conn, text: string, channel: string, symbol: string, kind: 'snapshot' | 'update', rows: number): void {
    const f = this.faultCfg;
    if (f.stall) { this.sendFrame(c, text, frameType(channel, kind)); return; }
    if (c.ws.readyState !== WebSocket.OPEN) return;
    const seq = ++c.dataSeq;
    if (f.malformedEvery > 0 && seq % f.malformedEvery === 0) this.sendMalformed(c);
    // The held-message key only when the reorder fault is on (a string and a Map lookup per frame otherwise).
    const key = f.reorderEvery > 0 || c.held.size > 0 ? `${channel}\u0000${symbol}` : '';
    if (kind === 'update' && f.reorderEvery > 0 && ++c.updateSeq % f.reorderEvery === 0 && !c.held.has(key)) {
      c.held.set(key, { text, channel, symbol, rows });
      this.noteFault(c, 'reordered');
      return;
    }
    this.deliver(c, text, channel, symbol, kind, rows);
    const held = key === '' ? undefined : c.held.get(key);
    if (held && kind === 'update') {
      c.held.delete(key);
      this.deliver(c, held.text, held.channel, held.symbol, 'update', held.rows);
    }
    if (f.repeatEvery > 0 && seq % f.repeatEvery === 0) {
      this.noteFault(c, 'repeated');
      this.deliver(c, text, channel, symbol, kind, rows);
    }
    if (f.dropAfterMessages > 0 && seq >= f.dropAfterMessages) this.dropConn(c);
  }

  private deliver(c: Conn, text: string, channel: string, symbol: string, kind: 'snapshot' | 'update', rows: number): void {
    if (!this.sendFrame(c, text, frameType(channel, kind))) return;
    this.counter.data(channel, symbol, kind, rows);
    c.counter.data(channel, symbol, kind, rows);
  }

  private sendMalformed(c: Conn): void {
    if (this.sendFrame(c, '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.0,', 'malformed')) {
      this.noteFault(c, 'malformed');
    }
  }

  private noteFault(c: Conn, name: string): void {
    this.counter.fault(name);
    c.counter.fault(name);
  }

  // ---- connections --------------------------------------------------------------------------

  private onConnection(ws: WebSocket): void {
    const now = Date.now();
    const c: Conn = {
      ws, index: this.connCounters.length, id: this.connRng.u64() | (1n << 62n), subs: new Map(),
      lastSent: now, lastRecv: now, counter: new Counter(), dataSeq: 0, updateSeq: 0, held: new Map(), frames: new FrameBatch(),
      raw: this.opts.batchFrames === false ? null : rawSocketOf(ws),
    };
    this.conns.add(c);
    this.connCounters.push(c.counter);
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary));
    ws.on('close', () => this.forget(c));
    ws.on('error', () => this.forget(c));
    this.sendFrame(c, enc.statusMessage(c.id, this.systemStatus, this.faultCfg.unknownFields), 'status');
  }

  private forget(c: Conn): void {
    if (!this.conns.delete(c)) return;
    for (const [channel, bySym] of c.subs) for (const sym of bySym.keys()) this.removeSub(c, channel, sym);
    c.subs.clear();
  }

  private housekeeping(): void {
    const now = Date.now();
    const hb = this.opts.heartbeatMs ?? 1000;
    const idle = this.opts.idleTimeoutMs ?? 60_000;
    for (const c of this.conns) {
      if (now - c.lastRecv >= idle) { c.ws.close(1000, 'idle timeout'); this.forget(c); continue; }
      if (now - c.lastSent >= hb) {
        if (!this.sendFrame(c, enc.heartbeat(), 'heartbeat')) c.lastSent = now;
      }
    }
  }

  private dropAll(): number {
    const all = [...this.conns];
    for (const c of all) this.dropConn(c);
    return all.length;
  }

  /**
   * Drops a connection the way a dying server does: no close frame (the client sees 1006). The
   * frames already handed to the socket are flushed first, so sentCounts equals what arrived.
   */
  private dropConn(c: Conn): void {
    this.noteFault(c, 'dropped');
    this.flushFrames(c); // what was sent before the drop arrives, as without batching
    this.forget(c);
    if (!c.raw) { c.ws.terminate(); return; }
    c.raw.end();
    setTimeout(() => c.ws.terminate(), 1000).unref();
  }

  // ---- requests -----------------------------------------------------------------------------

  private onMessage(c: Conn, data: RawData, isBinary: boolean): void {
    const timeIn = enc.isoTime(this.wallNs());
    c.lastRecv = Date.now();
    let json: unknown;
    try {
      json = JSON.parse(isBinary ? '' : data.toString());
    } catch {
      this.sendError(c, undefined, 'EGeneral:Invalid arguments:malformed JSON', undefined, timeIn);
      return;
    }
    const method = typeof json === 'object' && json !== null ? (json as { method?: unknown }).method : undefined;
    const reqIdRaw = typeof json === 'object' && json !== null ? (json as { req_id?: unknown }).req_id : undefined;
    const reqId = Number.isInteger(reqIdRaw) ? (reqIdRaw as number) : undefined;
    if (method === 'ping') {
      this.sendFrame(c, enc.pong(reqId, timeIn, enc.isoTime(this.wallNs())), 'pong');
      return;
    }
    if (method !== 'subscribe' && method !== 'unsubscribe') {
      this.sendError(c, typeof method === 'string' ? method : undefined, 'EGeneral:Invalid arguments:unknown method', reqId, timeIn);
      return;
    }
    const req = SubscribeRequest.safeParse(json);
    if (!req.success) {
      const issue = req.error.issues[0];
      this.sendError(c, method, `EGeneral:Invalid arguments:${issue ? issue.path.join('.') : 'params'}`, reqId, timeIn);
      return;
    }
    this.handleSubscription(c, req.data, timeIn);
  }

  private wallNs(): bigint {
    return BigInt(this.wallBase.ms) * 1_000_000n + (process.hrtime.bigint() - this.wallBase.hr);
  }

  private sendError(c: Conn, method: string | undefined, error: string, reqId: number | undefined, timeIn: string, symbol?: string): void {
    const timeOut = enc.isoTime(this.wallNs());
    this.sendFrame(c, enc.ackFailure(method ?? 'unknown', error, symbol, reqId, timeIn, timeOut), method === 'subscribe' || method === 'unsubscribe' ? method : 'error');
  }

  private handleSubscription(c: Conn, req: SubscribeRequest, timeIn: string): void {
    const { method, params, req_id: reqId } = req;
    const channel = params.channel;
    const fail = (error: string, symbol?: string): void => this.sendError(c, method, error, reqId, timeIn, symbol);
    const ok = (result: Record<string, unknown>): void => {
      this.sendFrame(c, enc.ackSuccess(method, result, reqId, timeIn, enc.isoTime(this.wallNs())), method);
    };
    if (!['ticker', 'trade', 'book', 'level3', 'instrument'].includes(channel)) { fail(`Channel not supported ${channel}`); return; }

    if (channel === 'instrument') {
      const has = c.subs.get('instrument')?.has('*') ?? false;
      if (method === 'subscribe') {
        if (has) { fail('Already subscribed'); return; }
        this.subMap(c, 'instrument').set('*', { depth: 0, eventTrigger: 'trades' });
        const snapshot = params.snapshot ?? true;
        ok({ channel, snapshot });
        if (snapshot) this.sendInstrument(c, 'snapshot', this.markets);
      } else {
        if (!has) { fail('Subscription Not Found'); return; }
        c.subs.get('instrument')!.delete('*');
        ok({ channel });
      }
      return;
    }

    const symbols = params.symbol ?? [];
    if (symbols.length === 0) { fail('EGeneral:Invalid arguments:symbol'); return; }
    let depth = 0;
    if (channel === 'book') depth = params.depth ?? 10;
    if (channel === 'level3') depth = params.depth ?? 10;
    if (channel === 'book' && !(BOOK_DEPTHS as readonly number[]).includes(depth)) {
      for (const s of symbols) fail(`EGeneral:Invalid arguments:depth ${depth} (book supports ${BOOK_DEPTHS.join(', ')})`, s);
      return;
    }
    if (channel === 'level3') {
      if (!(L3_DEPTHS as readonly number[]).includes(depth)) {
        for (const s of symbols) fail(`EGeneral:Invalid arguments:depth ${depth} (level3 supports ${L3_DEPTHS.join(', ')})`, s);
        return;
      }
      if (method === 'subscribe') {
        const token = params.token;
        if (!token) { for (const s of symbols) fail('EAuth:Token required for level3', s); return; }
        if (this.opts.l3Token !== undefined && token !== this.opts.l3Token) { for (const s of symbols) fail('EAuth:Invalid token', s); return; }
      }
    }
    const trigger = params.event_trigger ?? 'trades';
    const defaultSnapshot = channel !== 'trade';
    for (const sym of symbols) {
      const m = this.bySymbol.get(sym);
      if (!m) { fail(`Currency pair not supported ${sym}`, sym); continue; }
      const subs = this.subMap(c, channel);
      if (method === 'unsubscribe') {
        if (!subs.has(sym)) { fail('Subscription Not Found', sym); continue; }
        this.removeSub(c, channel, sym);
        ok(channel === 'book' || channel === 'level3' ? { channel, depth, symbol: sym } : { channel, symbol: sym });
        continue;
      }
      if (subs.has(sym)) { fail('Already subscribed', sym); continue; }
      if (channel === 'level3' && subs.size >= L3_MAX_SYMBOLS) { fail(`Exceeded maximum of ${L3_MAX_SYMBOLS} level3 symbols per connection`, sym); continue; }
      const snapshot = params.snapshot ?? defaultSnapshot;
      subs.set(sym, { depth, eventTrigger: trigger });
      this.addSub(c, channel, m, depth, trigger);
      if (channel === 'book' || channel === 'level3') ok({ channel, depth, snapshot, symbol: sym });
      else if (channel === 'ticker') ok({ channel, event_trigger: trigger, snapshot, symbol: sym });
      else ok({ channel, snapshot, symbol: sym });
      if (snapshot) this.sendSnapshot(c, channel, m, depth);
    }
  }

  private subMap(c: Conn, channel: string): Map<string, SubInfo> {
    let m = c.subs.get(channel);
    if (!m) { m = new Map(); c.subs.set(channel, m); }
    return m;
  }

  private addSub(c: Conn, channel: string, m: PairMarket, depth: number, trigger: 'bbo' | 'trades'): void {
    const ps = this.subs.get(m)!;
    this.dataSubscribed++;
    if (channel === 'level3') this.l3Subscribed++;
    if (channel === 'book' || channel === 'level3') {
      const byDepth = channel === 'book' ? ps.book : ps.level3;
      let set = byDepth.get(depth);
      if (!set) { set = new Set(); byDepth.set(depth, set); }
      set.add(c);
    } else if (channel === 'trade') ps.trade.add(c);
    else (trigger === 'bbo' ? ps.tickerBbo : ps.tickerTrades).add(c);
  }

  private removeSub(c: Conn, channel: string, sym: string): void {
    const info = c.subs.get(channel)?.get(sym);
    const m = this.bySymbol.get(sym);
    c.subs.get(channel)?.delete(sym);
    if (!info || !m || channel === 'instrument') return;
    const ps = this.subs.get(m)!;
    this.dataSubscribed--;
    if (channel === 'level3') this.l3Subscribed--;
    if (channel === 'book' || channel === 'level3') {
      const byDepth = channel === 'book' ? ps.book : ps.level3;
      const set = byDepth.get(info.depth);
      set?.delete(c);
      if (set && set.size === 0) byDepth.delete(info.depth);
    } else if (channel === 'trade') ps.trade.delete(c);
    else { ps.tickerBbo.delete(c); ps.tickerTrades.delete(c); }
    c.held.delete(`${channel}\u0000${sym}`);
  }

  private sendSnapshot(c: Conn, channel: string, m: PairMarket, depth: number): void {
    const sym = m.spec.symbol;
    const b = m.book;
    const ts = this.nowNs();
    const extra = this.faultCfg.unknownFields;
    if (channel === 'book') {
      const bids = b.topLevels('bid', depth);
      const asks = b.topLevels('ask', depth);
      const text = enc.bookMessage('snapshot', sym, bids, asks, this.corrupt(sym, this.bookChecksum(b)), ts, extra);
      this.sendData(c, text, 'book', sym, 'snapshot', bids.length + asks.length);
    } else if (channel === 'level3') {
      const orders = (side: 'bid' | 'ask'): L3Out[] => b.topOrderLevels(side, depth).flatMap((l) =>
        l.orders.map((o) => ({ event: 'add' as const, order_id: o.id, limit_price: o.priceText, order_qty: o.qtyText, ts: o.ts })));
      const bids = orders('bid');
      const asks = orders('ask');
      const text = enc.l3Message('snapshot', sym, bids, asks, this.corrupt(sym, this.l3Checksum(b)), ts, extra);
      this.sendData(c, text, 'level3', sym, 'snapshot', bids.length + asks.length);
    } else if (channel === 'trade') {
      const text = enc.tradeMessage('snapshot', sym, m.recentTrades, extra);
      this.sendData(c, text, 'trade', sym, 'snapshot', m.recentTrades.length);
    } else if (channel === 'ticker') {
      this.sendData(c, enc.tickerMessage('snapshot', sym, m.ticker(), ts, extra), 'ticker', sym, 'snapshot', 1);
    }
  }

  private sendInstrument(c: Conn, type: 'snapshot' | 'update', markets: readonly PairMarket[]): void {
    const text = enc.instrumentMessage(type, markets.map((m) => ({ spec: m.spec, status: m.status })), type === 'snapshot');
    this.sendData(c, text, 'instrument', '*', type, markets.length);
  }

  // ---- control API --------------------------------------------------------------------------

  setFaults(f: Partial<FaultConfig>): void {
    const dropChanged = f.dropEveryMs !== undefined && f.dropEveryMs !== this.faultCfg.dropEveryMs;
    const wasStalled = this.faultCfg.stall;
    this.faultCfg = { ...this.faultCfg, ...f };
    if (dropChanged) this.scheduleDropEvery();
    if (wasStalled && !this.faultCfg.stall) for (const c of this.conns) c.lastSent = Date.now();
  }

  setPairStatus(symbol: string, status: PairStatus): void {
    const m = this.bySymbol.get(symbol);
    if (!m) throw new Error(`unknown pair ${symbol}`);
    m.status = status;
    this.counter.fault('statusChanges');
    for (const c of this.conns) if (c.subs.get('instrument')?.has('*')) this.sendInstrument(c, 'update', [m]);
  }

  setSystemStatus(status: SystemStatus): void {
    this.systemStatus = status;
    this.counter.fault('statusChanges');
    for (const c of this.conns) this.sendFrame(c, enc.statusMessage(c.id, status, this.faultCfg.unknownFields), 'status');
  }

  api(): Simulator {
    const self = this;
    const market: SimMarketControl = {
      symbols: () => self.markets.map((m) => m.spec.symbol),
      pair: (s) => { const m = self.bySymbol.get(s); return m ? { spec: m.spec, status: m.status } : undefined; },
      book: (s) => self.bySymbol.get(s)?.book,
      checksums: (s) => {
        const m = self.bySymbol.get(s);
        return m ? { book: self.bookChecksum(m.book), level3: self.l3Checksum(m.book) } : undefined;
      },
      step: (n = 1) => { self.cork(true); for (let i = 0; i < n; i++) self.stepOnce(); self.cork(false); },
      pause: () => { self.paused = true; self.cancelRun(); },
      resume: () => { self.paused = false; self.scheduleRun(); },
      get paused() { return self.paused; },
      get steps() { return self.steps; },
    };
    return {
      url: `ws://127.0.0.1:${this.port}/v2`,
      port: this.port,
      market,
      close: () => self.close(),
      sentCounts: (i) => (i === undefined ? self.counter.snapshot() : (self.connCounters[i]?.snapshot() ?? new Counter().snapshot())),
      connections: () => self.conns.size,
      faults: () => ({ ...self.faultCfg, corruptChecksum: [...self.faultCfg.corruptChecksum] }),
      setFaults: (f) => self.setFaults(f),
      dropConnections: () => self.dropAll(),
      injectMalformed: () => { for (const c of self.conns) self.sendMalformed(c); },
      setPairStatus: (s, st) => self.setPairStatus(s, st),
      setSystemStatus: (st) => self.setSystemStatus(st),
    };
  }
}
