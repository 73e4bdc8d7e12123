// `kapitaal execute` with EXECUTION_ONLY=true as a child process: with no ingest run it reports
// attach-blocked (log line + evaluation outcome) and keeps evaluating; when a run appears on
// the decision cluster it binds without restart. It never ingests.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncRunToDecision } from '../../../src/decision/sync.ts';
import { cleanEnv, KAPITAAL_BIN } from '../../support/cli.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let ingest: TestDatabase;
let decision: TestDatabase;
let child: ChildProcess | undefined;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  [ingest, decision] = await Promise.all([testDatabase('ingest'), testDatabase('decision')]);
  await ingest.pool.query(`select kapitaal.decision_settings__configure('ingest', 'sync')`);
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
  }
});

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; child said:\n${lines.map((l) => JSON.stringify(l)).join('\n').slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('kapitaal execute (EXECUTION_ONLY=true)', () => {
  it('is attach-blocked without a live run, binds when one appears, never ingests, stops cleanly (also when signalled twice)', async () => {
    child = spawn(process.execPath, [KAPITAAL_BIN, 'execute'], {
      env: cleanEnv({
        DATABASE_URL: ingest.url,
        DECISION_DATABASE_URL: decision.url,
        EXECUTION_ONLY: 'true',
        LOG_LEVEL: 'info',
        EVALUATION_CADENCE_SECONDS: '0.2',
        CHAIN_WATCHDOG_SECONDS: '1',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) if (p.trim().startsWith('{')) lines.push(JSON.parse(p));
    });
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child!.on('close', (code) => resolve(code)));

    const start = await until('EXECUTION_ENGINE_START', () => lines.find((l) => l.marker === 'EXECUTION_ENGINE_START'));
    expect(start).toMatchObject({ execution_only: true, separated: true, feed: 'sync', binding: { attached: false } });
    await until('an attach_blocked log line', () => lines.find((l) => l.marker === 'EXECUTION_ATTACH_BLOCKED'));
    // Evaluations keep running and are stored as attach_blocked (more than one: it retries).
    await until('two attach_blocked evaluations', async () => {
      const { rows } = await decision.pool.query(`select count(*)::int n from kapitaal.evaluations where outcome = 'attach_blocked'`);
      return rows[0].n >= 2 ? true : undefined;
    });

    // An ingest run appears (heartbeat, an epoch, a refresh) and reaches the decision cluster.
    const { rows } = await ingest.pool.query(`select run_id from kapitaal.ingest_run__start('{"attach":1}', 'test', 'host')`);
    const run = Number(rows[0].run_id);
    await ingest.pool.query(`select kapitaal.ingest_epoch__publish($1)`, [run]);
    await ingest.pool.query(`select kapitaal.refresh_run_symbol_state($1)`, [run]);
    await syncRunToDecision(ingest.pool, decision.pool, run);

    const attached = await until('EXECUTION_ATTACHED', () => lines.find((l) => l.marker === 'EXECUTION_ATTACHED'));
    expect(attached).toMatchObject({ run_id: run, epoch: 1 });
    const bound = await until('an evaluation bound to the run', async () => {
      const r = await decision.pool.query(`select * from kapitaal.evaluations where run_id = $1 and outcome <> 'attach_blocked' limit 1`, [run]);
      return r.rows[0];
    });
    expect(bound.epoch).toBe('1');
    expect(lines.some((l) => l.marker === 'LIVE_EVALUATION_DONE' && l.run_id === run)).toBe(true);

    // It never ingested: the only run is ours, no raw rows, and it registered as an execution process.
    const runs = await ingest.pool.query(`select count(*)::int n from kapitaal.ingest_runs`);
    expect(runs.rows[0].n).toBe(1);
    const procs = await decision.pool.query(`select role from kapitaal.engine_processes`);
    expect(procs.rows.map((r) => r.role)).toEqual(['execution']);

    // Ctrl-C in a terminal signals every process of the group, and the demo then also sends SIGTERM: the
    // second signal must not cut the clean shutdown short (it used to kill the process: exit code null).
    child.kill('SIGINT');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.some((l) => l.msg === 'execution runtime stopped')).toBe(true);
    expect(lines.filter((l) => /^already stopping/.test(String(l.msg))).length).toBe(1);
    expect(stderr).not.toMatch(/Error/);
  });
});
