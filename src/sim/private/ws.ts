// The simulator's private WebSocket v2 (Kraken: wss://ws-auth.kraken.com/v2) on the private REST
// server's HTTP server, path /v2. Only the `executions` channel: `subscribe` needs a token that this
// simulator's GetWebSocketsToken handed out (else `EAuth:Token required` / `EAuth:Invalid token`, in the
// public side's ack format), then every execution report of that token's account is pushed. ping →
// pong, a heartbeat after 1 s without other frames, idle connections closed after 60 s, like the
// public side. Faults: dropConnections() (1006, no close frame), sendRaw() (e.g. malformed frames) and
// setStalled() (nothing sent at all).
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import * as enc from '../encode.ts';
import type { ExecutionReports } from './executions.ts';

export interface PrivateWsDeps {
  /** The API key of the account the token was issued to, if it is valid. */
  accountOfToken(token: string): string | undefined;
  reports: ExecutionReports;
  /** Snapshot reports for a new subscription (open orders, recent fills). */
  snapshot(apiKey: string, snapOrders: boolean, snapTrades: boolean): string[];
  heartbeatMs?: number;
  idleTimeoutMs?: number;
}

export interface PrivateWs {
  /** Open connections. */
  readonly connections: number;
  /** Frames sent by type (status, heartbeat, pong, subscribe, unsubscribe, executions:update, …). */
  readonly sent: Map<string, number>;
  /** Drops every connection without a close frame (the client sees 1006). Returns how many. */
  dropConnections(): number;
  /** Sends a raw text frame to every subscribed connection (fault injection). Returns how many. */
  sendRaw(text: string): number;
  /** While on, nothing at all is sent (no reports, acks, pongs or heartbeats; counted as `suppressed`). */
  setStalled(on: boolean): void;
  close(): void;
}

interface Conn {
  ws: WebSocket;
  apiKey: string | null;
  unsubscribe: (() => void) | null;
  sequence: number;
  lastSent: number;
  lastRecv: number;
}

const nowIso = (): string => enc.isoTime(BigInt(Date.now()) * 1_000_000n);

export function attachPrivateWs(server: http.Server, deps: PrivateWsDeps): PrivateWs {
  const wss = new WebSocketServer({ noServer: true });
  const conns = new Set<Conn>();
  const sent = new Map<string, number>();
  const hb = deps.heartbeatMs ?? 1000;
  const idle = deps.idleTimeoutMs ?? 60_000;

  let stalled = false;
  const send = (c: Conn, text: string, type: string): void => {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (stalled) {
      sent.set('suppressed', (sent.get('suppressed') ?? 0) + 1);
      return;
    }
    c.ws.send(text);
    c.lastSent = Date.now();
    sent.set(type, (sent.get(type) ?? 0) + 1);
  };
  const unsubscribe = (c: Conn): void => {
    c.unsubscribe?.();
    c.unsubscribe = null;
    c.apiKey = null;
  };
  const forget = (c: Conn): void => {
    unsubscribe(c);
    conns.delete(c);
  };
  const push = (c: Conn, type: 'snapshot' | 'update', reports: string[]): void =>
    send(c, `{"channel":"executions","type":"${type}","data":[${reports.join(',')}],"sequence":${++c.sequence}}`, `executions:${type}`);

  function onMessage(c: Conn, data: WebSocket.RawData, isBinary: boolean): void {
    const timeIn = nowIso();
    c.lastRecv = Date.now();
    let json: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(isBinary ? '' : data.toString());
      if (typeof v !== 'object' || v === null) throw new Error('not an object');
      json = v as Record<string, unknown>;
    } catch {
      send(c, enc.ackFailure('unknown', 'EGeneral:Invalid arguments:malformed JSON', undefined, undefined, timeIn, nowIso()), 'error');
      return;
    }
    const reqId = Number.isInteger(json.req_id) ? (json.req_id as number) : undefined;
    const method = typeof json.method === 'string' ? json.method : 'unknown';
    if (method === 'ping') return send(c, enc.pong(reqId, timeIn, nowIso()), 'pong');
    const fail = (error: string): void => send(c, enc.ackFailure(method, error, undefined, reqId, timeIn, nowIso()), method === 'subscribe' || method === 'unsubscribe' ? method : 'error');
    if (method !== 'subscribe' && method !== 'unsubscribe') return fail('EGeneral:Invalid arguments:unknown method');
    const params = (typeof json.params === 'object' && json.params !== null ? json.params : {}) as Record<string, unknown>;
    if (params.channel !== 'executions') return fail(`Channel not supported ${String(params.channel)}`);
    if (method === 'unsubscribe') {
      if (!c.apiKey) return fail('Subscription Not Found');
      unsubscribe(c);
      return send(c, enc.ackSuccess(method, { channel: 'executions' }, reqId, timeIn, nowIso()), method);
    }
    if (typeof params.token !== 'string' || params.token === '') return fail('EAuth:Token required');
    const apiKey = deps.accountOfToken(params.token);
    if (!apiKey) return fail('EAuth:Invalid token');
    if (c.apiKey) return fail('Already subscribed');
    const snapOrders = params.snap_orders !== false; // Kraken's defaults: orders yes, trades no
    const snapTrades = params.snap_trades === true;
    c.apiKey = apiKey;
    send(c, enc.ackSuccess(method, { channel: 'executions', snapshot: snapOrders, snap_trades: snapTrades }, reqId, timeIn, nowIso()), method);
    if (snapOrders || snapTrades) push(c, 'snapshot', deps.snapshot(apiKey, snapOrders, snapTrades));
    c.unsubscribe = deps.reports.subscribe(apiKey, (report) => push(c, 'update', [report]));
  }

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    if ((req.url ?? '').split('?')[0] !== '/v2') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Conn = { ws, apiKey: null, unsubscribe: null, sequence: 0, lastSent: Date.now(), lastRecv: Date.now() };
      conns.add(c);
      ws.on('message', (d, bin) => onMessage(c, d, bin));
      ws.on('close', () => forget(c));
      ws.on('error', () => forget(c));
      send(c, enc.statusMessage(BigInt(`0x${randomBytes(8).toString('hex')}`), 'online'), 'status');
    });
  };
  server.on('upgrade', onUpgrade);

  const timer = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      if (now - c.lastRecv >= idle) {
        c.ws.close(1000, 'idle timeout');
        forget(c);
      } else if (now - c.lastSent >= hb) send(c, enc.heartbeat(), 'heartbeat');
    }
  }, Math.min(250, hb));
  timer.unref();

  return {
    get connections() {
      return conns.size;
    },
    sent,
    dropConnections() {
      const all = [...conns];
      for (const c of all) {
        forget(c);
        c.ws.terminate();
      }
      return all.length;
    },
    sendRaw(text) {
      let n = 0;
      for (const c of conns) {
        if (!c.apiKey) continue;
        send(c, text, 'raw');
        n++;
      }
      return n;
    },
    setStalled(on) {
      stalled = on;
    },
    close() {
      clearInterval(timer);
      server.off('upgrade', onUpgrade);
      for (const c of [...conns]) {
        forget(c);
        c.ws.terminate();
      }
      wss.close();
    },
  };
}
