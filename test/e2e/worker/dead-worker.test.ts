// A job locked by an engine process that was SIGKILLed is released as soon as
// the next engine process starts, not after Graphile Worker's 4 hours.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../../src/db/migrate.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await testDatabase('ingest');
  await db.pool.query('create table test_job_events (job_id bigint, event text, at timestamptz default clock_timestamp())');
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function startChild(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT_DIR, 'test/support/fixtures/worker-child.ts')], {
    env: { ...process.env, DATABASE_URL: db.url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.on('exit', (code) => reject(new Error(`worker child exited early with ${code}`)));
  });
}

async function until<T>(probe: () => Promise<T | undefined | null | false>): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('dead engine process', () => {
  it('has its locked job released and finished by the next process', async () => {
    const { rows } = await db.pool.query(`select (graphile_worker.add_job('test_block', '{}'::json, max_attempts => 5)).id`);
    const jobId = rows[0].id as string;
    const first = await startChild();
    await until(async () => (await db.pool.query(`select 1 from test_job_events where job_id = $1 and event = 'started'`, [jobId])).rowCount);
    const locked = await db.pool.query('select locked_by from graphile_worker.jobs where id = $1', [jobId]);
    // The pool id is recorded just after the pool starts (its first fetch may come first); it
    // must appear, owned by exactly one process.
    const owners = await until(async () => {
      const r = await db.pool.query(`select process_id from kapitaal.engine_processes where $1 = any(pool_ids)`, [
        locked.rows[0].locked_by,
      ]);
      return r.rowCount ? r.rows : undefined;
    });
    expect(owners).toHaveLength(1);

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // Still locked by the dead worker: nothing but the successor can free it.
    expect((await db.pool.query('select locked_by from graphile_worker.jobs where id = $1', [jobId])).rows[0].locked_by).toBe(
      locked.rows[0].locked_by,
    );

    const second = await startChild();
    await until(async () => (await db.pool.query(`select 1 from test_job_events where job_id = $1 and event = 'done'`, [jobId])).rowCount);
    // The task writes 'done' before it returns; the worker deletes the job row only after that, so wait for it
    // (asserting at once failed under load: the row was still there for a moment).
    await until(async () => (await db.pool.query('select 1 from graphile_worker.jobs where id = $1', [jobId])).rowCount === 0);
    const reaped = await db.pool.query(`select reap_reason from kapitaal.engine_processes where reaped_at is not null`);
    expect(reaped.rows).toEqual([{ reap_reason: 'process gone' }]);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    const live = await db.pool.query(`select count(*)::int as n from kapitaal.engine_processes where stopped_at is null and reaped_at is null`);
    expect(live.rows[0].n).toBe(0);
  });
});
