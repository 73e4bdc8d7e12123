// The dashboard's HTTP server (node:http, read-only): `/` the page, `/api/overview` its data,
// anything else 404. Bound to 127.0.0.1 by default; on a loopback address it also refuses
// requests whose Host header names another site, so a web page elsewhere cannot read it
// through DNS rebinding.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApiOverview, readApiOverview } from './api-overview.ts';
import { CONTENT_SECURITY_POLICY, PAGE_HTML } from './page.ts';
import { createDashboardPool } from './pool.ts';
import { redact, secretsOf } from './redact.ts';

export interface DashboardOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  ingestUrl: string;
  decisionUrl: string;
  /** Where the secret variables are read from, to keep them off the page (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface Dashboard {
  url: string;
  address: AddressInfo;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const shared = o.ingestUrl === o.decisionUrl;
  const ingest = createDashboardPool(o.ingestUrl);
  const decision = shared ? ingest : createDashboardPool(o.decisionUrl);
  const secrets = secretsOf([o.ingestUrl, o.decisionUrl], o.env);
  // Every string leaving the server passes here (error texts, job failures, reasons).
  const json = (body: unknown) => JSON.stringify(body, (_k, v) => (typeof v === 'string' ? redact(v, secrets) : v));

  // One read at a time: polls from several tabs share the read in flight instead of queueing more.
  let inflight: Promise<ApiOverview> | null = null;
  const overview = () =>
    (inflight ??= readApiOverview({ ingest, decision, shared, secrets }).finally(() => {
      inflight = null;
    }));

  let allowedHosts: Set<string> | null = null;
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { ...COMMON_HEADERS, 'content-type': type, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (allowedHosts && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      return send(403, 'text/plain; charset=utf-8', 'forbidden: unexpected Host header\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, 'text/plain; charset=utf-8', 'method not allowed (read-only)\n', { allow: 'GET, HEAD' });
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') {
      return send(200, 'text/html; charset=utf-8', PAGE_HTML, { 'content-security-policy': CONTENT_SECURITY_POLICY });
    }
    if (path === '/api/overview') {
      overview().then(
        (body) => send(200, 'application/json; charset=utf-8', json(body)),
        (err: unknown) => send(500, 'application/json; charset=utf-8', json({ error: err instanceof Error ? err.message : String(err) })),
      );
      return;
    }
    return send(404, 'text/plain; charset=utf-8', 'not found\n');
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await Promise.all([ingest.end(), shared ? null : decision.end()]);
    throw err;
  }
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  if (LOOPBACK.has(o.host) || LOOPBACK.has(address.address)) {
    allowedHosts = new Set(
      [...LOOPBACK, shown, o.host].map((h) => `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${address.port}`.toLowerCase()),
    );
  }
  return {
    url: `http://${shown}:${address.port}/`,
    address,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (inflight) await inflight.catch(() => {});
      await Promise.all([ingest.end(), shared ? null : decision.end()]);
    },
  };
}
