// The dashboard against two real clusters: a live run synced to decision, one order with a fill,
// a position and a capital snapshot, a waiting job. /api/overview must carry exactly what the
// databases hold (money as the stored decimal text), / the page, and one cluster being
// unreachable must leave the other's panels answering without leaking the URL's password.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncRunToDecision } from '../../../src/decision/sync.ts';
import { type Dashboard, startDashboard } from '../../../src/dashboard/server.ts';
import { freePort } from '../../../src/db/free-port.ts';
import { MIGRATIONS_DIR, ROOT_DIR } from '../../../src/db/migrate.ts';
import { KAPITAAL_BIN, cleanEnv, runCli } from '../../support/cli.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { liveMarket, refresh, startRun } from '../decision/support.ts';
import { fill, openEntry } from '../../sql/execution/helpers.ts';

let ingest: TestDatabase;
let decision: TestDatabase;
let dash: Dashboard;
let run: number;
let orderId: string;
const SECRET = 'api-secret-value-42';
const started: Dashboard[] = [];

const get = async (d: Dashboard, path: string) => {
  const res = await fetch(new URL(path, d.url));
  return { status: res.status, headers: res.headers, text: await res.text() };
};
const overview = async (d: Dashboard) => {
  const r = await get(d, '/api/overview');
  expect(r.status).toBe(200);
  return { raw: r.text, body: JSON.parse(r.text) };
};
const start = async (o: Partial<Parameters<typeof startDashboard>[0]> = {}) => {
  const d = await startDashboard({
    host: '127.0.0.1',
    port: 0,
    ingestUrl: ingest.url,
    decisionUrl: decision.url,
    env: { KRAKEN_API_SECRET: SECRET },
    ...o,
  });
  started.push(d);
  return d;
};

beforeAll(async () => {
  [ingest, decision] = await Promise.all([testDatabase('ingest'), testDatabase('decision')]);
  await ingest.pool.query(`select kapitaal.decision_settings__configure('ingest', 'sync', false)`);
  await decision.pool.query(`select kapitaal.decision_settings__configure('decision', 'sync', false)`);
  run = await startRun(ingest.pool, 0);
  await liveMarket(ingest.pool, run, { symbols: 2 });
  await syncRunToDecision(ingest.pool, decision.pool, run);
  // Ingest refreshes once more without a sync: the decision cluster is one generation behind.
  await refresh(ingest.pool, run, 302);
  await ingest.pool.query(`select graphile_worker.add_job('dashboard_probe', '{}'::json)`);

  orderId = await openEntry(decision.pool, {
    runId: run, symbol: 'S000/USD', qty: '0.12345678', price: '100.10000001', reason: `reason mentioning ${SECRET}`,
  });
  await fill(decision.pool, orderId, 'TRADE-1', '100.10000001', '0.12345678', '0.03089912');
  await decision.pool.query(`select kapitaal.capital__snapshot('{"S000/USD": "101.5"}'::jsonb)`);
  await decision.pool.query(
    `insert into kapitaal.evaluations (run_id, epoch, generation_id, outcome, reason, evaluated_at)
     select $1::bigint, 1, g, (array['economically_empty', 'candidates', 'economically_empty'])[1 + g % 3], 'reason ' || g,
            now() - (10 - g) * interval '1 second'
       from generate_series(1, 7) g
     union all select $1::bigint, 1, 8, 'data_blocked', 'too old for the hour', now() - interval '2 hours'`,
    [run],
  );
  dash = await start();
});

afterAll(async () => {
  for (const d of started) await d.close();
});

describe('dashboard /api/overview', () => {
  it('listens on 127.0.0.1 only by default and reads both clusters as kapitaal_readonly', async () => {
    expect(dash.address.address).toBe('127.0.0.1');
    const { body } = await overview(dash);
    expect(body.ingest).toMatchObject({ ok: true, role: 'kapitaal_readonly' });
    expect(body.decision).toMatchObject({ ok: true, role: 'kapitaal_readonly' });
    for (const side of [body.ingest, body.decision]) {
      for (const [name, p] of Object.entries(side.panels)) expect(p, name).toMatchObject({ ok: true });
    }
    // Its own pool, named in pg_stat_activity (the connections stay idle in the pool after the poll).
    for (const db of [ingest, decision]) {
      const { rows } = await db.pool.query(
        `select count(*)::int n from pg_stat_activity where datname = current_database() and application_name = 'kapitaal-dashboard'`,
      );
      expect(rows[0].n).toBeGreaterThanOrEqual(1);
    }
  });

  it('shows the run, its epoch and the generation lag between the clusters', async () => {
    const { body } = await overview(dash);
    const ing = (await ingest.pool.query(
      `select (select max(epoch)::text from ingest_epochs where run_id = $1) epoch,
              (select max(generation_id)::text from state_generations where run_id = $1) gen`, [run])).rows[0];
    const dec = (await decision.pool.query(`select max(generation_id)::text gen from state_generations where run_id = $1`, [run])).rows[0];
    const r = body.ingest.panels.runs.data.find((x: any) => x.run_id === String(run));
    expect(r).toMatchObject({ status: 'running', last_epoch: ing.epoch, last_generation_id: ing.gen });
    expect(typeof r.heartbeat_age_s).toBe('number');
    expect(BigInt(ing.gen)).toBeGreaterThan(BigInt(dec.gen));
    expect(body.sync).toEqual([
      expect.objectContaining({ run_id: String(run), ingest_generation_id: ing.gen, decision_generation_id: dec.gen, in_sync: false, decision_generation_complete: true }),
    ]);
    expect(body.decision.panels.runs.data.find((x: any) => x.run_id === String(run))).toMatchObject({ current_generation_id: dec.gen });
  });

  it('shows stale routes as blocked with their reason, and the regime of each symbol', async () => {
    const { body } = await overview(dash);
    const routes = body.decision.panels.routes.data;
    const expected = (await decision.pool.query(
      `select symbol, route_type, exec_allowed, reason, marker from kapitaal.route_freshness where run_id = $1`, [run])).rows;
    expect(expected).toHaveLength(6); // 2 symbols x 3 route types
    // The reason names the age, which grows with now(): compared up to its verdict.
    const verdict = (r: { reason: string }) => r.reason.split(':')[0];
    for (const e of expected) {
      expect(e.exec_allowed).toBe(false); // market data from January: stale
      const got = routes.find((x: any) => x.symbol === e.symbol && x.route_type === e.route_type);
      expect(got).toMatchObject({ exec_allowed: false, marker: e.marker });
      expect(verdict(got)).toBe(verdict(e));
    }
    expect(routes[0].reason).toMatch(/^REFRESH_STALE: state refreshed .* ago > 00:00:(30|45)$/);
    const regimes = (await decision.pool.query(`select symbol, regime from kapitaal.symbol_regimes where run_id = $1`, [run])).rows;
    expect(body.decision.panels.regimes.data.map((x: any) => ({ symbol: x.symbol, regime: x.regime }))).toEqual(
      expect.arrayContaining(regimes),
    );
  });

  it('carries the seeded order, fill, position and equity with money as the stored decimal text', async () => {
    const { body } = await overview(dash);
    const P = body.decision.panels;
    const o = (await decision.pool.query(`select price::text, qty::text, filled_qty::text, fees::text, status from orders where order_id = $1`, [orderId])).rows[0];
    expect(P.orders.data).toEqual([expect.objectContaining({ order_id: orderId, ...o, symbol: 'S000/USD' })]);
    const f = (await decision.pool.query(
      `select fill_id::text, price::text, qty::text, fee::text, notional::text, cash_delta::text from fills_ledger where order_id = $1`, [orderId])).rows[0];
    expect(P.fills.data).toEqual([expect.objectContaining({ ...f, order_id: orderId })]);
    expect(f).toMatchObject({ price: '100.10000001', qty: '0.12345678', fee: '0.03089912' });
    const p = (await decision.pool.query(
      `select position_id::text, qty::text, cost_basis::text, mark_price::text, unrealised_pnl::text from open_positions`)).rows[0];
    expect(P.positions.data).toEqual([expect.objectContaining(p)]);
    expect(p.mark_price).toBe('101.5');
    const m = (await decision.pool.query(
      `select s.mid::text as state_mid, (p.qty * s.mid - p.cost_basis - p.entry_fees_open)::text as unrealised_pnl_at_state_mid
         from positions p join run_symbol_state s on s.symbol = p.symbol and s.run_id = $1`, [run])).rows[0];
    expect(m.state_mid).toMatch(/^[0-9]+\.[0-9]+$/);
    expect(P.positions.data[0]).toMatchObject(m);
    const s = (await decision.pool.query(`select equity::text, cash::text from capital_snapshots`)).rows[0];
    expect(P.equity.data).toEqual([expect.objectContaining(s)]);
    for (const v of [P.summary.data.equity, P.summary.data.realisedPnl, ...Object.values(o).slice(0, 4)]) expect(typeof v).toBe('string');
    expect(P.summary.data).toMatchObject({ equity: s.equity, orders: 1, fills: 1, openPositions: 1, entriesHalted: null });
  });

  it('shows the outcome mix of the last hour: the same rows as evaluation_outcomes', async () => {
    const { body } = await overview(dash);
    const expected = (await decision.pool.query(`select * from kapitaal.evaluation_outcomes order by evaluations desc, outcome`)).rows;
    expect(expected.map((r) => [r.outcome, r.evaluations, r.last_reason])).toEqual([
      ['economically_empty', '4', 'reason 6'],
      ['candidates', '3', 'reason 7'],
    ]);
    expect(body.decision.panels.outcomes.data).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it('says when new entries are halted, and why', async () => {
    await decision.pool.query(`update kapitaal.capital_policy set entries_enabled = false where account = 'default'`);
    try {
      const { body } = await overview(dash);
      expect(body.decision.panels.summary.data.entriesHalted).toBe(
        'ENTRIES_DISABLED: capital_policy.entries_enabled is false for account default (exits go on)');
    } finally {
      await decision.pool.query(`update kapitaal.capital_policy set entries_enabled = true where account = 'default'`);
    }
  });

  it('shows the exchange balances against the fills ledger: the rows of balance__drift', async () => {
    await decision.pool.query(`select * from kapitaal.balance__record('default', '{"USD": "1000", "S000": "0.5"}'::jsonb, 'test', now() - interval '2 minutes')`);
    await decision.pool.query(`select * from kapitaal.balance__record('default', '{"USD": "990.5", "S000": "0.5"}'::jsonb, 'test', now() - interval '1 minute')`);
    const { body } = await overview(dash);
    const expected = (await decision.pool.query(
      `select asset, snapshot_at, baseline_at, baseline_balance, expected, actual, drift, tolerance, exceeded, exceeded_snapshots, persistent
         from kapitaal.balance__drift('default', now()) order by persistent desc, exceeded desc, asset`)).rows;
    expect(expected.find((r) => r.asset === 'USD')).toMatchObject({ actual: '990.5', exceeded: true, persistent: false });
    expect(body.decision.panels.balances.data).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it('shows the worker queue of each cluster', async () => {
    const { body } = await overview(dash);
    const queue = async (db: TestDatabase) =>
      (await db.pool.query(`select * from kapitaal.job_queue_status order by task_identifier`)).rows;
    expect(body.ingest.panels.queue.data).toEqual(await queue(ingest));
    expect(body.ingest.panels.queue.data).toEqual(
      expect.arrayContaining([expect.objectContaining({ task_identifier: 'dashboard_probe', waiting: '1', failed: '0' })]),
    );
    expect(body.decision.panels.queue.data).toEqual(await queue(decision));
  });

  it('never sends a secret: values of the secret variables are masked wherever they appear', async () => {
    const { raw, body } = await overview(dash);
    expect(raw).not.toContain(SECRET);
    expect(body.decision.panels.orders.data[0].reason).toBe('reason mentioning ***');
  });
});

describe('dashboard page and routes', () => {
  it('serves one self-contained HTML page naming every panel', async () => {
    const r = await get(dash, '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'sha256-/);
    for (const name of ['Ingest runs', 'Generations and sync lag', 'Route freshness', 'Regimes per symbol', 'Orders', 'Fills',
      'Open positions', 'Balances against the ledger', 'Equity curve', 'Worker queue: ingest', 'Worker queue: decision']) expect(r.text).toContain(name);
    expect(r.text).toContain("fetch('api/overview'");
    // A browser runs the inline script and style only if their hashes are in the policy: every inline
    // block of the page as served, hashed here, must be listed (else the page stays blank).
    const csp = r.headers.get('content-security-policy')!;
    const blocks = [...r.text.matchAll(/<(script|style)>([\s\S]*?)<\/\1>/g)];
    expect(blocks.map((m) => m[1]).sort()).toEqual(['script', 'style']);
    for (const [, kind, body] of blocks) {
      expect(csp).toContain(`${kind}-src 'sha256-${createHash('sha256').update(body!).digest('base64')}'`);
    }
    expect(r.text).not.toMatch(/<script[^>]*\ssrc=|\sstyle=["']|\son[a-z]+=["']/i); // no other script or inline style/handler
    expect(r.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//); // nothing from the internet
  });

  it('answers 404 to an unknown path and 405 to a write', async () => {
    expect((await get(dash, '/nope')).status).toBe(404);
    expect((await fetch(new URL('/api/overview', dash.url), { method: 'POST' })).status).toBe(405);
  });

  it('refuses a request whose Host header names another site (DNS rebinding)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: dash.address.port, path: '/api/overview', headers: { host: `evil.example:${dash.address.port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject);
    });
    expect(status).toBe(403);
    expect((await get(dash, '/api/overview')).status).toBe(200);
  });
});

describe('dashboard with the decision cluster unreachable', () => {
  it('still answers the ingest panels; the decision section carries an error without the password', async () => {
    const closed = await freePort();
    const d = await start({ decisionUrl: `postgres://kapitaal:Sup3rS3cretPw@127.0.0.1:${closed}/kapitaal` });
    const { raw, body } = await overview(d);
    expect(body.ingest.ok).toBe(true);
    expect(body.ingest.panels.runs.data.map((r: any) => r.run_id)).toContain(String(run));
    expect(body.decision).toMatchObject({ ok: false, panels: {} });
    expect(body.decision.error).toMatch(/ECONNREFUSED/);
    expect(body.sync).toBeNull();
    expect(raw).not.toContain('Sup3rS3cretPw');
  });
});

describe('kapitaal dashboard', () => {
  it('serves the configured database until SIGINT, printing its URL', async () => {
    const child = spawn(process.execPath, [KAPITAAL_BIN, 'dashboard'], {
      env: cleanEnv({ DATABASE_URL: ingest.url, DECISION_DATABASE_URL: decision.url, DASHBOARD_PORT: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /kapitaal dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`exited before listening: ${out}`)));
    });
    const body = await (await fetch(new URL('/api/overview', url))).json();
    expect(body.ingest.panels.runs.data.map((r: any) => r.run_id)).toContain(String(run));
    expect(body.decision.panels.orders.data.map((o: any) => o.order_id)).toEqual([orderId]);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it.each([
    [{ DASHBOARD_PORT: 'abc' }, 'kapitaal: configuration error: DASHBOARD_PORT: expected a port from 1024 to 65535, 0 (any free port) or off (got "abc")'],
    [{ DASHBOARD_PORT: 'off' }, 'kapitaal: the dashboard is switched off (DASHBOARD_PORT=off)'],
  ])('refuses %o with one line', async (env, line) => {
    const res = await runCli(['dashboard'], cleanEnv({ DATABASE_URL: ingest.url, ...env }));
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toEqual([line]);
  });
});

describe('sql/dashboard', () => {
  it('applies again on top of itself (every included file is idempotent)', async () => {
    // The sql/dashboard files in the order the committed migrations included them (dependency order).
    const committed = fs.readdirSync(path.join(MIGRATIONS_DIR, 'committed')).filter((f) => f.endsWith('.sql')).sort()
      .map((f) => fs.readFileSync(path.join(MIGRATIONS_DIR, 'committed', f), 'utf8')).join('\n');
    const files = [...new Set([...committed.matchAll(/^--! Included (dashboard\/\S+)$/gm)].map((m) => m[1]!))];
    expect(files).toEqual(expect.arrayContaining(fs.readdirSync(path.join(ROOT_DIR, 'sql', 'dashboard')).map((f) => `dashboard/${f}`)));
    for (const f of files) await decision.pool.query(fs.readFileSync(path.join(ROOT_DIR, 'sql', f), 'utf8'));
    const { body } = await overview(dash);
    for (const [name, p] of Object.entries(body.decision.panels)) expect(p, name).toMatchObject({ ok: true });
  });
});
