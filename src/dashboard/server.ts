// The dashboard's HTTP server (node:http, read-only): `/` the page, `/api/overview` its data,
// anything else 404. Bound to 127.0.0.1 by default; on a loopback address it also refuses
// requests whose Host header names another site, so a web page elsewhere cannot read it
// through DNS rebinding. With a token (DASHBOARD_TOKEN; required on any other address) every
// request must carry it: `Authorization: Bearer <token>`, or the cookie that `/?token=<token>`
// sets once (then redirected to `/`, so the token leaves the address bar and the history).
import { createHash, timingSafeEqual } from 'node:crypto';
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
  /** Shared secret every request must carry (≥ 16 characters); required unless `host` is loopback. */
  token?: string;
}

export class DashboardRefused extends Error {}

const COOKIE = 'kapitaal_dashboard';
const digest = (s: string) => createHash('sha256').update(s).digest();
/** The cookie holds a hash of the token, not the token. */
const cookieValue = (token: string) => createHash('sha256').update(`kapitaal-dashboard:${token}`).digest('hex');

/** Constant-time comparison of a presented secret with the expected one (hashes of equal length). */
function same(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function cookieOf(req: http.IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
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
  if (o.token !== undefined && o.token.length < 16) throw new DashboardRefused('DASHBOARD_TOKEN must have at least 16 characters');
  if (!LOOPBACK.has(o.host) && o.token === undefined) {
    throw new DashboardRefused(
      `DASHBOARD_HOST=${o.host} is not a loopback address and the dashboard shows orders and money: set DASHBOARD_TOKEN ` +
        '(16 or more characters; the page then asks for it) or bind it to 127.0.0.1',
    );
  }
  const token = o.token;
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
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (token !== undefined) {
      const login = url.searchParams.get('token');
      if (path === '/' && login !== null) {
        if (!same(login, token)) return send(401, 'text/plain; charset=utf-8', 'unauthorized: wrong token\n');
        return send(303, 'text/plain; charset=utf-8', 'signed in\n', {
          location: '/',
          'set-cookie': `${COOKIE}=${cookieValue(token)}; HttpOnly; SameSite=Strict; Path=/`,
        });
      }
      const auth = req.headers.authorization ?? '';
      const cookie = cookieOf(req, COOKIE);
      const ok = (auth.startsWith('Bearer ') && same(auth.slice(7), token)) || (cookie !== null && same(cookie, cookieValue(token)));
      if (!ok) {
        return path === '/api/overview'
          ? send(401, 'application/json; charset=utf-8', JSON.stringify({ error: 'unauthorized: send Authorization: Bearer <DASHBOARD_TOKEN>' }))
          : send(401, 'text/plain; charset=utf-8', 'unauthorized: open /?token=<DASHBOARD_TOKEN> once in this browser\n');
      }
    }
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
