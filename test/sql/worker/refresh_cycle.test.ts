// The refresh schedule without a cadence wait while data streams: run_symbol_state__refresh_cycle
// re-queues at once when raw rows wait above its horizon, else after the cadence; a writer's
// batch record (run_symbol_state__refresh_wake) pulls a pending refresh forward or queues a
// follow-up of a running one; retries after failures are never pulled forward.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, seed, settle, startRun, T0 } from '../state/support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

interface Job { id: string; run_at: Date; locked_at: Date | null; attempts: number; queue: string | null; payload: Record<string, unknown> }
const jobsOf = async (run: number): Promise<Job[]> =>
  (
    await db.pool.query<Job>(
      `select p.id, p.run_at, p.locked_at, p.attempts, q.queue_name as queue, p.payload
         from graphile_worker._private_jobs p left join graphile_worker._private_job_queues q on q.id = p.job_queue_id
        where p.key = $1`,
      [`run_symbol_state__refresh:${run}`],
    )
  ).rows;
const cycle = async (run: number, cadence: number | null, nowSec: number) =>
  (await db.pool.query(`select * from run_symbol_state__refresh_cycle($1, $2, $3::timestamptz)`, [run, cadence, at(nowSec)])).rows[0];
/** The wall clock as seconds after T0 (the trigger runs with the real now()). */
const nowSec = () => (Date.now() - T0) / 1000;
const wake = async (run: number, nowSec: number) =>
  (await db.pool.query<{ w: Date | null }>(`select run_symbol_state__refresh_wake($1, $2::timestamptz) as w`, [run, at(nowSec)])).rows[0]!.w;

describe('run_symbol_state__refresh_cycle', () => {
  it('idle: re-queues after the cadence, in the run\'s own queue, keeping the payload', async () => {
    const run = await startRun(db.pool);
    const o = await cycle(run, 0.5, 10);
    expect(o).toMatchObject({ requeued: true, next_mode: 'cadence', rows_read: 0 });
    const jobs = await jobsOf(run);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.run_at.toISOString()).toBe(at(10.5));
    expect(jobs[0]!.queue).toBe(`run_symbol_state__refresh:${run}`);
    expect(jobs[0]!.payload).toEqual({ run_id: run, cadence_seconds: 0.5 });
  });

  it('rows committed above the horizon: the next refresh is queued for now', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 4, mid: () => 100 });
    await settle(db.pool, run);
    // An open transaction holds the horizon below the next rows: they are committed but deferred.
    const blocker = await db.client();
    await blocker.query('begin');
    await blocker.query('select pg_current_xact_id()');
    try {
      await seed(db.pool, run, 'BBB/USD', { from: 0, to: 4, mid: () => 50 });
      const o = await cycle(run, 5, 20);
      expect(o).toMatchObject({ requeued: true, next_mode: 'immediate' });
      expect((await jobsOf(run))[0]!.run_at.toISOString()).toBe(at(20));
    } finally {
      await blocker.query('rollback');
    }
    await settle(db.pool, run);
    const o2 = await cycle(run, 5, 21);
    expect(Number(o2.rows_read)).toBeGreaterThan(0);
    expect(o2).toMatchObject({ next_mode: 'cadence' });
  });

  it('keeps a refresh already queued sooner (by a wake) and stops once the run ended', async () => {
    const run = await startRun(db.pool);
    await cycle(run, 5, 10); // pending at 15
    await db.pool.query(
      `select graphile_worker.add_job('run_symbol_state__refresh', json_build_object('run_id', $1::bigint), run_at => $2::timestamptz,
              job_key => 'run_symbol_state__refresh:' || $1, job_key_mode => 'replace')`,
      [run, at(11)],
    );
    const o = await cycle(run, 5, 11);
    expect((o.next_run_at as Date).toISOString()).toBe(at(11));
    expect((await jobsOf(run)).map((j) => j.run_at.toISOString())).toEqual([at(11)]);
    await db.pool.query(`select ingest_run__end($1)`, [run]);
    await db.pool.query(`delete from graphile_worker._private_jobs where key = $1`, [`run_symbol_state__refresh:${run}`]);
    expect(await cycle(run, 5, 12)).toMatchObject({ requeued: false, next_mode: null });
    expect(await jobsOf(run)).toHaveLength(0);
  });
});

describe('run_symbol_state__refresh_wake (the trigger on ingest_write_batches)', () => {
  const recordBatch = (run: number, no: number) =>
    db.pool.query(`select ingest_write_batch__record($1, $2, 1, 1, 1, 0)`, [run, no]);

  it('a batch record pulls a refresh pending for later forward to now', async () => {
    const run = await startRun(db.pool);
    await cycle(run, 3600, nowSec()); // idle: pending an hour from now
    const before = (await jobsOf(run))[0]!;
    expect(before.run_at.getTime()).toBeGreaterThan(Date.now());
    await recordBatch(run, 1);
    const after = await jobsOf(run);
    expect(after).toHaveLength(1);
    expect(after[0]!.run_at.getTime()).toBeLessThanOrEqual(Date.now());
    expect(after[0]!.payload).toEqual({ run_id: run, cadence_seconds: 3600 });
    expect(after[0]!.queue).toBe(`run_symbol_state__refresh:${run}`);
  });

  it('a running refresh gets one follow-up queued now; a due one is left alone', async () => {
    const run = await startRun(db.pool);
    await cycle(run, 3600, nowSec());
    const [running] = await jobsOf(run);
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'test', attempts = 1 where id = $1`, [running!.id]);
    await recordBatch(run, 1);
    let jobs = await jobsOf(run);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.id).not.toBe(running!.id);
    expect(jobs[0]!.locked_at).toBeNull();
    const due = jobs[0]!;
    await recordBatch(run, 2);
    jobs = await jobsOf(run);
    expect(jobs.map((j) => [j.id, j.run_at.toISOString()])).toEqual([[due.id, due.run_at.toISOString()]]);
  });

  it('never pulls a retry after a failure forward; no job: nothing (the watchdog seeds it)', async () => {
    const run = await startRun(db.pool);
    expect(await wake(run, 1)).toBeNull();
    expect(await jobsOf(run)).toHaveLength(0);
    await db.pool.query(`select job_chain__next('run_symbol_state__refresh', $1, json_build_object('run_id', $2::bigint)::jsonb,
                                                'backoff', interval '1 second', 3, $3::timestamptz)`,
      [`run_symbol_state__refresh:${run}`, run, at(100)]);
    const backoff = (await jobsOf(run))[0]!;
    expect(backoff.run_at.toISOString()).toBe(at(104));
    expect((await wake(run, 101))!.toISOString()).toBe(at(104));
    expect((await jobsOf(run))[0]!.run_at.toISOString()).toBe(at(104));
  });
});
