// The private WebSocket v2 `executions` channel as a wake-up for the REST fill poll (docs/EXCHANGE.md,
// "Executions feed"). Connects, takes a fresh token from GetWebSocketsToken on every connect, subscribes
// with snap_orders/snap_trades false, hands each execution report to onExecution. Frames are validated
// with zod; rejected ones are counted and logged once per kind, never fatal. Reconnects with exponential
// backoff and jitter; no frame at all (heartbeats included) for idleMs counts as a stall and reconnects.
// The token is never logged: not the URL (it is not in it), not the request, and a server error that
// echoes it is redacted. While the feed is down, fills still arrive through the reconcile cadence.
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { MalformedCounter } from '../collector/malformed.ts';
import { mark } from '../log/logger.ts';
import { type ExecutionReport, parseFeedFrame } from './executions-messages.ts';

export interface ExecutionsFeedOptions {
  /** wss://ws-auth.kraken.com/v2, or the simulator's ws://127.0.0.1:<port>/v2. */
  url: string;
  /** A fresh WebSocket token (REST GetWebSocketsToken). */
  getToken: () => Promise<string>;
  onExecution: (report: ExecutionReport) => void;
  log: Logger;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Application ping (keeps the server's ~60 s idle timeout away). */
  pingMs?: number;
  /** No frame for this long (the server sends a heartbeat every second) = stalled: reconnect. */
  idleMs?: number;
  handshakeTimeoutMs?: number;
  random?: () => number;
}

export interface ExecutionsFeedStats {
  connects: number;
  reconnects: number;
  subscribeFailures: number;
  stalls: number;
  frames: number;
  executions: number;
  malformed: number;
  malformedByKind: Record<string, number>;
}

export class ExecutionsFeed {
  private ws: WebSocket | null = null;
  private stopped = true;
  private attempt = 0;
  private subscribed = false;
  /** True while an outage has been logged and not yet ended by a subscription. */
  private down = false;
  private token: string | null = null;
  private lastFrame = 0;
  private reqId = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private lastPing = 0;
  private closeReason: string | null = null;
  private readonly malformed: MalformedCounter;
  private readonly s = { connects: 0, reconnects: 0, subscribeFailures: 0, stalls: 0, frames: 0, executions: 0 };
  private readonly waiters = new Set<() => void>();

  constructor(private readonly o: ExecutionsFeedOptions) {
    this.malformed = new MalformedCounter(o.log);
  }

  get isSubscribed(): boolean {
    return this.subscribed;
  }

  stats(): ExecutionsFeedStats {
    return { ...this.s, malformed: this.malformed.total, malformedByKind: this.malformed.byKind() };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const idle = this.o.idleMs ?? 10_000;
    this.tickTimer = setInterval(() => this.tick(), Math.max(10, Math.min(1000, idle / 4)));
    this.tickTimer.unref();
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.retryTimer = this.tickTimer = null;
    const ws = this.ws;
    this.ws = null;
    this.subscribed = false;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.terminate();
      });
    }
  }

  /** Resolves once subscribed (again); for tests and start-up logs. */
  whenSubscribed(): Promise<void> {
    if (this.subscribed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      this.token = await this.o.getToken();
    } catch (err) {
      this.wentDown(`token: ${this.redact((err as Error).message)}`);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.o.url, { handshakeTimeout: this.o.handshakeTimeoutMs ?? 10_000 });
    } catch (err) {
      this.wentDown(`connect: ${(err as Error).message}`);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.lastFrame = Date.now();
    ws.on('open', () => {
      this.s.connects++;
      ws.send(JSON.stringify({ method: 'subscribe', params: { channel: 'executions', token: this.token, snap_orders: false, snap_trades: false }, req_id: ++this.reqId }));
    });
    ws.on('message', (data, isBinary) => {
      if (ws !== this.ws) return;
      this.lastFrame = Date.now();
      this.s.frames++;
      this.onFrame(isBinary ? '' : data.toString());
    });
    ws.on('error', () => {
      // 'close' follows; the reason is logged there.
    });
    ws.on('close', (code) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.subscribed = false;
      if (this.stopped) return;
      this.wentDown(this.closeReason ?? `closed (code ${code})`);
      this.closeReason = null;
      this.scheduleReconnect();
    });
  }

  private onFrame(text: string): void {
    const r = parseFeedFrame(text);
    if ('error' in r) {
      this.malformed.record('executions', r.error, this.redact(text));
      return;
    }
    const m = r.ok;
    if (m.kind === 'executions') {
      for (const error of m.rejected) this.malformed.record('executions', error, this.redact(text));
      for (const report of m.reports) {
        this.s.executions++;
        try {
          this.o.onExecution(report);
        } catch (err) {
          this.o.log.error({ err: (err as Error).message }, 'executions feed: onExecution failed');
        }
      }
    } else if (m.kind === 'ack' && m.msg.method === 'subscribe') {
      if (m.msg.success) {
        this.subscribed = true;
        if (this.s.connects > 1) this.s.reconnects++;
        this.attempt = 0;
        this.down = false;
        mark(this.o.log, 'EXECUTIONS_FEED_CONNECTED', { url: this.o.url, connects: this.s.connects }, 'executions feed subscribed: fills are polled as soon as the exchange reports them');
        for (const w of this.waiters) w();
        this.waiters.clear();
      } else {
        this.s.subscribeFailures++;
        this.wentDown(`subscribe refused: ${this.redact(m.msg.error ?? 'no reason')}`);
        this.ws?.close(1000);
      }
    }
  }

  private tick(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (now - this.lastFrame >= (this.o.idleMs ?? 10_000)) {
      this.s.stalls++;
      this.closeReason = `stalled (no frame for ${now - this.lastFrame} ms)`;
      ws.terminate(); // 'close' logs and reconnects
      return;
    }
    if (now - this.lastPing >= (this.o.pingMs ?? 20_000)) {
      this.lastPing = now;
      ws.send(JSON.stringify({ method: 'ping', req_id: ++this.reqId }));
    }
  }

  /** Logged once per outage (warn); repeats of a failing reconnect go to debug. */
  private wentDown(reason: string): void {
    if (this.down) {
      this.o.log.debug({ marker: 'EXECUTIONS_FEED_DOWN', reason, attempt: this.attempt }, 'EXECUTIONS_FEED_DOWN');
      return;
    }
    this.down = true;
    this.o.log.warn(
      { marker: 'EXECUTIONS_FEED_DOWN', reason, url: this.o.url },
      'executions feed down: fills come from REST polling (order__reconcile cadence) until it is back',
    );
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const min = this.o.reconnectMinMs ?? 1000;
    const cap = Math.min(this.o.reconnectMaxMs ?? 30_000, min * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 20);
    const delay = min + (this.o.random ?? Math.random)() * Math.max(0, cap - min);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private redact(text: string): string {
    return this.token ? text.split(this.token).join('[redacted]') : text;
  }
}
