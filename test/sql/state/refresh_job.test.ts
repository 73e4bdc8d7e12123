// The refresh job: refresh + re-queue (graphile_worker.add_job) in one transaction, at most
// one pending job per run, and no re-queue once the ingest run has ended. Also the task file.
import type { JobHelpers } from 'graphile-worker';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRefreshTask } from '../../../tasks/run_symbol_state__refresh.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, seed, settle, startRun } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const jobsOf = async (run: number) =>
  (
    await db.pool.query<{ task_identifier: string; payload: Record<string, unknown>; run_at: Date; key: string }>(
      // The public jobs view has no payload column; read it from the private table it wraps.
      `select j.task_identifier, p.payload, j.run_at, j.key
         from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id
        where j.key = $1`,
      [`run_symbol_state__refresh:${run}`],
    )
  ).rows;

const job = async (run: number, cadence: number | null, nowSec: number) =>
  (
    await db.pool.query(`select * from run_symbol_state__refresh_job($1, $2, $3::timestamptz)`, [run, cadence, at(nowSec)])
  ).rows[0];

describe('run_symbol_state__refresh_job', () => {
  it('re-queues itself with a job key: one pending job per run, run_at = now + 2 s by default', async () => {
    const run = await startRun(db.pool);
    const o1 = await job(run, null, 10);
    expect(o1).toMatchObject({ requeued: true, run_status: 'running' });
    expect((o1.next_run_at as Date).toISOString()).toBe(at(12));
    const o2 = await job(run, null, 11);
    const jobs = await jobsOf(run);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ task_identifier: 'run_symbol_state__refresh', payload: { run_id: run } });
    expect(jobs[0]!.run_at.toISOString()).toBe(at(13));
    expect(Number(o2.generation_id)).toBeGreaterThan(Number(o1.generation_id));
  });

  it('takes the cadence from the payload, else from state_refresh_policy', async () => {
    const run = await startRun(db.pool);
    await job(run, 0.5, 10);
    let jobs = await jobsOf(run);
    expect(jobs[0]!.run_at.toISOString()).toBe(at(10.5));
    expect(jobs[0]!.payload).toEqual({ run_id: run, cadence_seconds: 0.5 });
    await db.pool.query(`update state_refresh_policy set cadence = interval '5 seconds'`);
    try {
      await job(run, null, 11);
      jobs = await jobsOf(run);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.run_at.toISOString()).toBe(at(16));
    } finally {
      await db.pool.query(`update state_refresh_policy set cadence = interval '2 seconds'`);
    }
    await expect(job(run, 0, 12)).rejects.toThrow(/cadence must be in/);
  });

  it('stops re-queueing once the ingest run has ended, after folding in its last rows', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 9, mid: () => 100 });
    await db.pool.query(`select ingest_run__end($1, 'ended', 'test', $2::timestamptz)`, [run, at(10)]);
    await settle(db.pool, run);
    const o = await job(run, null, 11);
    expect(o).toMatchObject({ requeued: false, run_status: 'ended', next_run_at: null, rows_read: 40 });
    expect(await jobsOf(run)).toHaveLength(0);
  });

  it('adds no job when the refresh fails (same transaction)', async () => {
    await expect(job(987654321, null, 10)).rejects.toMatchObject({ code: 'P0002' });
    expect(await jobsOf(987654321)).toHaveLength(0);
  });
});

describe('tasks/run_symbol_state__refresh.ts', () => {
  const helpers = (jobId: string) =>
    ({
      job: { id: jobId },
      withPgClient: async <T>(fn: (c: unknown) => Promise<T>) => {
        const c = await db.pool.connect();
        try {
          return await fn(c);
        } finally {
          c.release();
        }
      },
    }) as unknown as JobHelpers;

  it('refreshes, re-queues and logs RUN_SYMBOL_STATE_REFRESH with the outcome', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const task = createRefreshTask(log);
    const run = await startRun(db.pool);
    await task({ run_id: run, cadence_seconds: 1 }, helpers('42'));
    const line = lines.find((l) => l.marker === 'RUN_SYMBOL_STATE_REFRESH');
    expect(line).toMatchObject({ run_id: run, job_id: '42', requeued: true, rows_read: 0, symbols: 0 });
    expect(typeof line!.generation_id).toBe('number');
    expect(await jobsOf(run)).toHaveLength(1);

    await db.pool.query(`select ingest_run__end($1)`, [run]);
    await task({ run_id: run }, helpers('43'));
    expect(lines.map((l) => l.marker)).toEqual([
      'RUN_SYMBOL_STATE_REFRESH',
      'RUN_SYMBOL_STATE_REFRESH',
      'RUN_SYMBOL_STATE_REFRESH_STOPPED',
    ]);
  });

  it('rejects a payload without a valid run_id', async () => {
    const task = createRefreshTask(pino({ level: 'silent' }));
    await expect(task({ run: 1 }, helpers('1'))).rejects.toThrow(/invalid payload/);
    await expect(task({ run_id: -3 }, helpers('1'))).rejects.toThrow(/invalid payload/);
  });
});
