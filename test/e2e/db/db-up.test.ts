// `kapitaal db up` as a user meets it: idempotent, back after a SIGKILL with the
// data intact, and plain about a port taken by another program.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli } from '../../support/cli.ts';
import { freePort } from '../../../src/db/free-port.ts';


let stateDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapitaal-dbup-'));
  fs.chmodSync(stateDir, 0o755);
  env = cleanEnv({
    KAPITAAL_STATE_DIR: stateDir,
    INGEST_PG_PORT: String(await freePort()),
    DECISION_PG_PORT: String(await freePort()),
  });
});

afterAll(async () => {
  await runCli(['db', 'down'], env);
  fs.rmSync(stateDir, { recursive: true, force: true });
});

async function query(role: 'ingest' | 'decision', sql: string) {
  const url = (await runCli(['db', 'url', role], env)).stdout.trim();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('kapitaal db up', () => {
  it('starts both clusters, migrated, and is idempotent', async () => {
    const first = await runCli(['db', 'up'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/ingest cluster up/);
    const again = await runCli(['db', 'up'], env);
    expect(again.code, again.stderr).toBe(0);
    // Plain search_path from the URL alone, as psql would use it.
    const rows = await query('ingest', `select relkind::text from pg_class where oid = 'ticker_samples'::regclass`);
    expect(rows).toEqual([{ relkind: 'p' }]);
    const wal = await query('ingest', 'show wal_level');
    expect(wal[0].wal_level).toBe('logical');
    const status = await runCli(['db', 'status', '--json'], env);
    expect(JSON.parse(status.stdout).clusters.map((c: { running: boolean }) => c.running)).toEqual([true, true]);
  });

  it('comes back after the ingest server was killed with SIGKILL, with committed data intact', async () => {
    await query('ingest', `select ingest_run__start('{"crash":"test"}', 'v', 'h')`);
    const before = await query('ingest', 'select run_id::text, config from ingest_runs order by run_id');
    const pidFile = path.join(stateDir, 'ingest', 'data', 'postmaster.pid');
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    // The stale postmaster.pid stays behind, as after a power cut.
    expect(fs.existsSync(pidFile)).toBe(true);
    const up = await runCli(['db', 'up'], env);
    expect(up.code, up.stderr).toBe(0);
    expect(await query('ingest', 'select run_id::text, config from ingest_runs order by run_id')).toEqual(before);
  });

  it('says plainly when a port belongs to another program', async () => {
    await runCli(['db', 'down'], env);
    const blocker = net.createServer();
    const port = Number(env.DECISION_PG_PORT);
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const res = await runCli(['db', 'up'], env);
      expect(res.code).not.toBe(0);
      expect(res.stderr.trim()).toBe(
        `kapitaal: port ${port} for the decision cluster is in use by another program; set DECISION_PG_PORT to a free port`,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('kapitaal db up as an ordinary user', () => {
  // As root the clusters run as a service user; here the whole CLI runs unprivileged.
  it.runIf(process.getuid?.() === 0)('starts, migrates and stops both clusters without root', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapitaal-user-'));
    fs.chmodSync(dir, 0o777);
    const userEnv = cleanEnv({
      KAPITAAL_STATE_DIR: path.join(dir, 'state'),
      INGEST_PG_PORT: String(await freePort()),
      DECISION_PG_PORT: String(await freePort()),
    });
    const asNobody = (args: string[]) =>
      runCli(args, userEnv, 120_000, { uid: 65534, gid: 65534 });
    try {
      const up = await asNobody(['db', 'up']);
      expect(up.code, up.stderr).toBe(0);
      expect(fs.statSync(path.join(dir, 'state', 'ingest', 'data')).uid).toBe(65534);
    } finally {
      const down = await asNobody(['db', 'down']);
      expect(down.stderr).toMatch(/ingest cluster stopped/);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
