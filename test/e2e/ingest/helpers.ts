// Helpers for the ingest end-to-end tests: captured pino logs, a TCP proxy that can cut the
// database link, and polling without fixed sleeps.
import net from 'node:net';
import pino, { type Logger } from 'pino';

export interface CapturedLog {
  log: Logger;
  lines: Record<string, unknown>[];
  markers(name: string): Record<string, unknown>[];
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines, markers: (name) => lines.filter((l) => l.marker === name) };
}

/** Polls `fn` until it returns a truthy value (returned) or the timeout passes (throws with `what`). */
export async function until<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Proxy {
  url: string;
  /** Cuts every open connection and refuses new ones. */
  down(): void;
  up(): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of a PostgreSQL URL; returns the URL that goes through it. */
export async function pgProxy(targetUrl: string): Promise<Proxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  let isUp = true;
  const server = net.createServer((client) => {
    if (!isUp) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(targetUrl);
  url.port = String(port);
  return {
    url: url.toString(),
    down() {
      isUp = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    up() {
      isUp = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A local port nothing listens on. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
