// `npm start` as a user runs it: the demo brings up clusters, simulator, ingest and
// attached execution; `kapitaal validate` then proves bootstrap, attach and
// evaluation from the live system; Ctrl-C stops everything cleanly.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { KAPITAAL_BIN, cleanEnv, runCli } from '../../support/cli.ts';
import { freePort } from '../../../src/db/free-port.ts';


const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapitaal-demo-'));
fs.chmodSync(stateDir, 0o755);
let env: NodeJS.ProcessEnv;

afterAll(async () => {
  if (env) await runCli(['db', 'down'], env);
  fs.rmSync(stateDir, { recursive: true, force: true });
});

describe('kapitaal demo options', () => {
  it.each([
    [['--sizing', 'bogus'], 'kapitaal: --sizing must be compounding or fixed, got "bogus"'],
    [['--pairs', '0'], 'kapitaal: --pairs must be a whole number from 1 to 200, got "0"'],
  ])('refuses %o with one line before starting anything', async (args, line) => {
    const res = await runCli(['demo', ...args], cleanEnv({ KAPITAAL_STATE_DIR: stateDir }));
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toEqual([line]);
    expect(fs.readdirSync(stateDir)).toEqual([]); // no cluster was created
  });
});

describe('kapitaal demo + kapitaal validate', () => {
  it('proves bootstrap, attach and evaluation on the running demo, then stops cleanly on SIGINT', { timeout: 240_000 }, async () => {
    env = cleanEnv({
      KAPITAAL_STATE_DIR: stateDir,
      INGEST_PG_PORT: String(await freePort()),
      DECISION_PG_PORT: String(await freePort()),
      DASHBOARD_PORT: '0',
    });
    const demo = spawn(process.execPath, [KAPITAAL_BIN, 'demo', '--pairs', '4', '--status-every', '2000'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    demo.stdout.on('data', (d) => (out += d));
    demo.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => demo.on('exit', (code) => r(code)));

    let last = { code: null as number | null, stdout: '', stderr: '' };
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline && demo.exitCode === null) {
      await new Promise((r) => setTimeout(r, 3000));
      if (!out.includes('ingest and execution processes started')) continue;
      last = await runCli(['validate'], env);
      if (last.code === 0) break;
    }
    expect(last.code, `${last.stdout}\n${last.stderr}\n--- demo:\n${out}`).toBe(0);
    expect(last.stdout).toMatch(/^PASS {2}bootstrap\.run/m);
    expect(last.stdout).toMatch(/^PASS {2}attach +bound to run/m);
    expect(last.stdout).toMatch(/^PASS {2}evaluation/m);
    expect(out).toMatch(/run \d+ epoch \d+/);

    // The demo's dashboard shows the live run from both clusters, and what the decision cluster evaluated.
    const dashUrl = /dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    expect(dashUrl, out).toBeDefined();
    const dash = await (await fetch(new URL('/api/overview', dashUrl))).json();
    expect(dash.ingest.panels.runs.data[0]).toMatchObject({ status: 'running' });
    expect(dash.decision.panels.runs.data[0]).toMatchObject({ run_id: dash.ingest.panels.runs.data[0].run_id, status: 'running' });
    expect(dash.sync).toHaveLength(1);
    expect(dash.decision.panels.summary.data.lastOutcome).not.toBeNull();

    // The demo sizes in compounding mode, from the capital snapshots its runtime takes (every 10 s): the
    // sizing of a new entry finds a fresh one instead of refusing with no_fresh_capital_snapshot.
    expect(out).toMatch(/^sizing: compounding/m);
    const decisionUrl = (await runCli(['db', 'url', 'decision'], env)).stdout.trim();
    const db = new pg.Client({ connectionString: decisionUrl });
    await db.connect();
    try {
      // One statement, so the sizing and the newest snapshot are read from the same database snapshot.
      let sized: { mode: string; reason: string; equity_basis: string | null; snapshot_equity: string | null } | undefined;
      for (let i = 0; i < 30; i++) {
        sized = (await db.query(
          `select s.mode, s.reason, s.equity_basis::text,
                  (select c.equity::text from kapitaal.capital_snapshots c order by c.at desc, c.snapshot_id desc limit 1) as snapshot_equity
             from kapitaal.capital__position_size('X/USD', 1) s`)).rows[0];
        if (sized!.reason !== 'no_fresh_capital_snapshot') break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(sized!.snapshot_equity).not.toBeNull();
      expect(sized).toMatchObject({ mode: 'compounding', equity_basis: sized!.snapshot_equity });
      expect(sized!.reason).toMatch(/^ok_|_cap_reached$/);
    } finally {
      await db.end();
    }

    demo.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/execute exited with 0/);
    expect(out).toMatch(/ingest exited with 0/);
    // The run was ended cleanly, not abandoned.
    const after = await runCli(['validate', '--json'], env);
    const rows = JSON.parse(after.stdout).rows as { proof: string; ok: boolean; detail: string }[];
    expect(rows.find((r) => r.proof === 'bootstrap.run')).toMatchObject({ ok: false, detail: 'no running ingest run' });
  });
});
