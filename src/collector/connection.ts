// One Kraken WebSocket v2 connection that stays up: connect, (re)subscribe the desired channels in
// paced batches, application ping, idle detection (no frame at all, heartbeats included, for
// idleMs → DATA_INTEGRITY_STALL and reconnect), reconnect with exponential backoff and full jitter.
// Frames are parsed with the protocol library (decimal text preserved) and validated with its zod
// schemas; rejected frames go to the MalformedCounter, valid ones to onMessage.
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { parseKrakenFrame } from '../kraken/fast-parse.ts';
import { pingRequest, subscriptionRequest, type KrakenWsMessage, type SubscribeParams } from '../kraken/messages.ts';
import { mark } from '../log/logger.ts';
import type { MalformedCounter } from './malformed.ts';
import type { TokenBucket } from './token-bucket.ts';

export interface ConnectionOptions {
  name: string;
  url: string;
  log: Logger;
  bucket: TokenBucket;
  malformed: MalformedCounter;
  onMessage: (msg: KrakenWsMessage, receivedMs: number) => void;
  /** Called after each (re)connect, before the desired subscriptions are sent again. */
  onOpen?: () => void;
  /** Symbols per subscribe request (default 50). */
  batchSize?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  pingMs?: number;
  idleMs?: number;
  handshakeTimeoutMs?: number;
}

const FRAMES_PER_TURN = 200;

type Params = Omit<SubscribeParams, 'channel' | 'symbol'>;

interface Desired {
  params: Params;
  /** null for channels without symbols (instrument). */
  symbols: Set<string> | null;
}

interface Op {
  method: 'subscribe' | 'unsubscribe';
  channel: string;
  params: Params;
  symbols: string[] | null;
}

export interface ConnectionStats {
  connects: number;
  reconnects: number;
  stalls: number;
  frames: number;
  requestsSent: number;
  subscribeFailures: number;
}

export class KrakenConnection {
  private ws: WebSocket | null = null;
  private readonly desired = new Map<string, Desired>();
  private queue: Op[] = [];
  private pumpTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private lastFrameAt = 0;
  private stopping = false;
  private paused = false;
  /** Frames handled in this turn of the event loop; see onFrame. */
  private framesThisTurn = 0;
  private yielded = false;
  private reqId = 0;
  private readonly failuresLogged = new Set<string>();
  private readonly opts: Required<Omit<ConnectionOptions, 'onOpen'>> & Pick<ConnectionOptions, 'onOpen'>;
  readonly stats: ConnectionStats = { connects: 0, reconnects: 0, stalls: 0, frames: 0, requestsSent: 0, subscribeFailures: 0 };

  constructor(options: ConnectionOptions) {
    this.opts = {
      batchSize: 50,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      pingMs: 20_000,
      idleMs: 10_000,
      handshakeTimeoutMs: 10_000,
      ...options,
    };
  }

  get name(): string {
    return this.opts.name;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopping = false;
    this.connect();
    this.idleTimer = setInterval(() => this.checkIdle(), Math.max(20, Math.min(1000, this.opts.idleMs / 4)));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of [this.pumpTimer, this.reconnectTimer, this.pingTimer]) if (t) clearTimeout(t);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.pumpTimer = this.reconnectTimer = this.pingTimer = this.idleTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'collector stopping');
    });
  }

  /** Stops reading from the socket (backpressure); idle detection is suspended meanwhile. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.ws?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.lastFrameAt = Date.now();
    if (!this.yielded) this.ws?.resume();
  }

  /**
   * Sets the wanted symbols (null: a channel without symbols) and params of a channel. Differences to
   * the previous wish are (un)subscribed now when connected; after a reconnect everything is resubscribed.
   */
  setChannel(channel: string, params: Params, symbols: readonly string[] | null): void {
    const prev = this.desired.get(channel);
    const next: Desired = { params, symbols: symbols === null ? null : new Set(symbols) };
    this.desired.set(channel, next);
    if (!this.connected) return;
    if (symbols === null) {
      if (!prev) this.enqueue({ method: 'subscribe', channel, params, symbols: null });
      return;
    }
    const before = prev?.symbols ?? new Set<string>();
    const removed = [...before].filter((s) => !next.symbols!.has(s));
    const added = symbols.filter((s) => !before.has(s));
    if (removed.length) this.enqueue({ method: 'unsubscribe', channel, params: prev!.params, symbols: removed });
    if (added.length) this.enqueue({ method: 'subscribe', channel, params, symbols: added });
  }

  symbols(channel: string): string[] {
    return [...(this.desired.get(channel)?.symbols ?? [])];
  }

  /** Unsubscribes and subscribes one symbol of a channel again (a fresh snapshot), others untouched. */
  resubscribe(channel: string, symbol: string): void {
    const d = this.desired.get(channel);
    if (!d?.symbols?.has(symbol) || !this.connected) return;
    this.enqueue({ method: 'unsubscribe', channel, params: d.params, symbols: [symbol] });
    this.enqueue({ method: 'subscribe', channel, params: d.params, symbols: [symbol] });
  }

  /** Requests queued but not sent yet (paced by the token bucket). */
  get queuedRequests(): number {
    return this.queue.length;
  }

  // ---- internals ------------------------------------------------------------------------------

  private connect(): void {
    if (this.stopping) return;
    const ws = new WebSocket(this.opts.url, {
      perMessageDeflate: false,
      handshakeTimeout: this.opts.handshakeTimeoutMs,
      maxPayload: 64 * 2 ** 20,
    });
    this.ws = ws;
    this.lastFrameAt = Date.now();
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('error', (err) => {
      if (this.attempt <= 1) this.opts.log.warn({ connection: this.name, err: err.message }, 'websocket error');
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.stats.connects++;
    if (this.stats.connects > 1) this.stats.reconnects++;
    this.opts.log.info({ connection: this.name, url: this.opts.url, connects: this.stats.connects }, 'websocket connected');
    if (this.paused) ws.pause();
    this.queue = [];
    this.opts.onOpen?.();
    for (const [channel, d] of this.desired) {
      if (d.symbols === null) this.enqueue({ method: 'subscribe', channel, params: d.params, symbols: null });
      else if (d.symbols.size > 0) this.enqueue({ method: 'subscribe', channel, params: d.params, symbols: [...d.symbols] });
    }
    this.schedulePing();
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.queue = [];
    if (this.pingTimer) clearTimeout(this.pingTimer);
    if (this.stopping) return;
    const base = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** Math.min(this.attempt, 20));
    // Full jitter between the minimum and the exponential bound: many collectors never reconnect in step.
    const delay = this.opts.reconnectMinMs + Math.random() * Math.max(0, base - this.opts.reconnectMinMs);
    this.attempt++;
    this.opts.log.warn({ connection: this.name, code, reason, attempt: this.attempt, delay_ms: Math.round(delay) },
      'websocket closed; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    // A saturated socket would otherwise keep the event loop in one read burst for a long time and
    // starve the database writer's round trips: after FRAMES_PER_TURN frames, stop reading until
    // the next turn of the event loop.
    if (++this.framesThisTurn === 1) {
      setImmediate(() => {
        this.framesThisTurn = 0;
        if (this.yielded) {
          this.yielded = false;
          if (!this.paused) this.ws?.resume();
        }
      });
    } else if (this.framesThisTurn === FRAMES_PER_TURN && !this.paused) {
      this.yielded = true;
      this.ws?.pause();
    }
    const receivedMs = Date.now();
    this.lastFrameAt = receivedMs;
    this.stats.frames++;
    const text = isBinary ? '' : Array.isArray(data) ? Buffer.concat(data).toString() : data.toString();
    const parsed = parseKrakenFrame(text);
    if (!parsed.ok) {
      this.opts.malformed.record(this.name, parsed.error, text);
      return;
    }
    const msg = parsed.message;
    if (msg.kind !== 'status' && msg.kind !== 'heartbeat') this.attempt = 0;
    if (msg.kind === 'ack' && !msg.success) this.onAckFailure(msg.method, msg.error, msg.symbol);
    this.opts.onMessage(msg, receivedMs);
  }

  private onAckFailure(method: string, error: string, symbol: string | undefined): void {
    this.stats.subscribeFailures++;
    // Expected during a resubscribe race; not worth a warning.
    if (error === 'Already subscribed' || error === 'Subscription Not Found') return;
    const key = `${method}:${error}`;
    if (this.failuresLogged.has(key)) return;
    this.failuresLogged.add(key);
    this.opts.log.warn({ connection: this.name, method, error, symbol }, `${method} refused (further refusals like it are only counted)`);
  }

  private checkIdle(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.paused) return;
    const silent = Date.now() - this.lastFrameAt;
    if (silent < this.opts.idleMs) return;
    this.stats.stalls++;
    mark(this.opts.log, 'DATA_INTEGRITY_STALL', { connection: this.name, silent_ms: silent, idle_ms: this.opts.idleMs },
      `no frame for ${silent} ms (not even a heartbeat); reconnecting`);
    ws.terminate();
  }

  private schedulePing(): void {
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(pingRequest(++this.reqId));
      this.schedulePing();
    }, this.opts.pingMs);
  }

  private enqueue(op: Op): void {
    if (op.symbols === null) {
      this.queue.push(op);
    } else {
      // Merge into the last queued request of the same shape, then split into batches.
      const last = this.queue[this.queue.length - 1];
      let symbols = op.symbols;
      if (last && last.symbols && last.method === op.method && last.channel === op.channel &&
        JSON.stringify(last.params) === JSON.stringify(op.params) && last.symbols.length < this.opts.batchSize) {
        const room = this.opts.batchSize - last.symbols.length;
        last.symbols.push(...symbols.slice(0, room));
        symbols = symbols.slice(room);
      }
      for (let i = 0; i < symbols.length; i += this.opts.batchSize) {
        this.queue.push({ ...op, symbols: symbols.slice(i, i + this.opts.batchSize) });
      }
    }
    this.pump();
  }

  private pump(): void {
    if (this.pumpTimer) return;
    while (this.queue.length > 0) {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const wait = this.opts.bucket.tryTake();
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, wait);
        return;
      }
      const op = this.queue.shift()!;
      const params: SubscribeParams = { channel: op.channel, ...op.params };
      if (op.symbols) params.symbol = op.symbols;
      if (op.method === 'unsubscribe') delete params.snapshot;
      ws.send(subscriptionRequest(op.method, params, ++this.reqId));
      this.stats.requestsSent++;
    }
  }
}
