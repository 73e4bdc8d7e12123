// DASHBOARD_TOKEN: with a token every request must carry it (bearer header, or the cookie that
// /?token=… sets once); without one the dashboard refuses to bind to anything but loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.ts';
import { DashboardRefused, type Dashboard, startDashboard } from '../../../src/dashboard/server.ts';
import { cleanEnv, runCli } from '../../support/cli.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

const TOKEN = 'a-long-shared-dashboard-secret-1';
let ingest: TestDatabase;
let decision: TestDatabase;
let dash: Dashboard;

beforeAll(async () => {
  [ingest, decision] = await Promise.all([testDatabase('ingest'), testDatabase('decision')]);
  dash = await startDashboard({ host: '127.0.0.1', port: 0, ingestUrl: ingest.url, decisionUrl: decision.url, token: TOKEN });
});
afterAll(async () => {
  await dash?.close();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(new URL(path, dash.url), { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
};

describe('dashboard token', () => {
  it('refuses the page and the data without the token, and says how to sign in', async () => {
    const page = await get('/');
    expect(page.status).toBe(401);
    expect(page.text).toContain('/?token=<DASHBOARD_TOKEN>');
    const api = await get('/api/overview');
    expect(api.status).toBe(401);
    expect(JSON.parse(api.text).error).toMatch(/Bearer/);
    expect((await get('/api/overview', { authorization: 'Bearer wrong-token-of-enough-length' })).status).toBe(401);
    expect((await get('/?token=wrong-token-of-enough-length')).status).toBe(401);
    expect((await get('/api/overview', { cookie: 'kapitaal_dashboard=00' })).status).toBe(401);
  });

  it('a bearer header opens the data', async () => {
    const api = await get('/api/overview', { authorization: `Bearer ${TOKEN}` });
    expect(api.status).toBe(200);
    expect(JSON.parse(api.text)).toMatchObject({ ingest: expect.any(Object), decision: expect.any(Object) });
    expect(api.text).not.toContain(TOKEN);
  });

  it('/?token= sets a cookie (a hash, not the token) and redirects to /, which then serves the page and the data', async () => {
    const login = await get(`/?token=${TOKEN}`);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^kapitaal_dashboard=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/$/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;
    const page = await get('/', { cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<html');
    expect((await get('/api/overview', { cookie })).status).toBe(200);
  });

  it('will not bind to a non-loopback address without a token, nor take a short one', async () => {
    const o = { port: 0, ingestUrl: ingest.url, decisionUrl: decision.url };
    await expect(startDashboard({ ...o, host: '0.0.0.0' })).rejects.toThrow(DashboardRefused);
    await expect(startDashboard({ ...o, host: '0.0.0.0' })).rejects.toThrow(/set DASHBOARD_TOKEN/);
    await expect(startDashboard({ ...o, host: '127.0.0.1', token: 'short' })).rejects.toThrow(/at least 16 characters/);
    const open = await startDashboard({ ...o, host: '0.0.0.0', token: TOKEN });
    try {
      expect((await fetch(`http://127.0.0.1:${open.address.port}/api/overview`)).status).toBe(401);
    } finally {
      await open.close();
    }
  });

  it('config: DASHBOARD_TOKEN shorter than 16 characters is refused without echoing it', () => {
    expect(() => loadConfig({ DASHBOARD_TOKEN: 'tiny-secret' })).toThrow(/^configuration error: DASHBOARD_TOKEN: expected at least 16 characters$/);
  });

  it('kapitaal dashboard on 0.0.0.0 without a token stops with one line naming the fix', async () => {
    const r = await runCli(['dashboard'], cleanEnv({ DATABASE_URL: ingest.url, DECISION_DATABASE_URL: decision.url, DASHBOARD_PORT: '0', DASHBOARD_HOST: '0.0.0.0' }));
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^kapitaal: DASHBOARD_HOST=0\.0\.0\.0 is not a loopback address .* set DASHBOARD_TOKEN/);
  });
});
