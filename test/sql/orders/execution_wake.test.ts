// kapitaal.execution__wake: which jobs an execution report makes due, and the job-key rules that keep a
// wake from postponing a due job, from losing a cadence job's payload, or from being overwritten by the
// re-queue of a reconcile cycle that was running when the wake came (src/execution/jobs.ts requeue).
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requeue } from '../../../src/execution/jobs.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});
beforeEach(async () => {
  await db.pool.query(`delete from graphile_worker._private_jobs where key in ('fills__poll', 'fills__poll:confirm', 'order__reconcile') or key is null`);
});

const job = async (key: string) =>
  (await db.pool.query(`select id, run_at, payload, locked_at, (run_at <= now()) as due, extract(epoch from run_at - now())::float8 as in_s from graphile_worker._private_jobs where key = $1`, [key])).rows[0];
const wake = async (t: string) => (await db.pool.query(`select task, job_id, run_at from kapitaal.execution__wake($1)`, [t])).rows;
const lock = (id: string) => db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'test' where id = $1`, [id]);

describe('execution__wake', () => {
  it('queues nothing for reports that change no fill or order state', async () => {
    for (const t of ['pending_new', 'new', 'iceberg_refill', 'status', 'something_new']) expect(await wake(t)).toEqual([]);
    expect(await job('fills__poll')).toBeUndefined();
  });

  it('trade, filled and restated queue fills__poll now and leave the reconcile alone', async () => {
    await db.pool.query(`select graphile_worker.add_job('order__reconcile', '{}'::json, job_key => 'order__reconcile', run_at => now() + interval '600 s')`);
    for (const t of ['trade', 'filled', 'restated']) {
      expect((await wake(t)).map((r) => r.task)).toEqual(t === 'restated' ? ['fills__poll'] : ['fills__poll', 'fills__poll']);
      expect((await job('fills__poll')).due).toBe(true);
    }
    expect((await job('order__reconcile')).in_s).toBeGreaterThan(500);
  });

  it('trade and filled also queue one confirming poll a moment later; a burst pushes it back instead of adding more', async () => {
    const rows = await db.pool.query(`select task, run_at, (run_at - now()) as after from kapitaal.execution__wake('trade', interval '2 seconds')`);
    expect(rows.rows).toHaveLength(2);
    const first = await job('fills__poll:confirm');
    expect(first.in_s).toBeGreaterThan(1.5);
    expect(first.in_s).toBeLessThanOrEqual(2.01);
    await db.pool.query(`select pg_sleep(0.05)`);
    await db.pool.query(`select * from kapitaal.execution__wake('filled', interval '2 seconds')`);
    const { rows: confirms } = await db.pool.query(`select id, run_at from graphile_worker._private_jobs where key = 'fills__poll:confirm'`);
    expect(confirms).toHaveLength(1);
    expect(confirms[0].run_at.getTime()).toBeGreaterThan(first.run_at.getTime());
    for (const t of ['restated', 'canceled', 'expired', 'new']) await wake(t);
    expect((await db.pool.query(`select count(*)::int n from graphile_worker._private_jobs where key = 'fills__poll:confirm'`)).rows[0].n).toBe(1);
  });

  it('p_confirm_after null: no confirming poll', async () => {
    const { rows } = await db.pool.query(`select task from kapitaal.execution__wake('trade', null)`);
    expect(rows.map((r) => r.task)).toEqual(['fills__poll']);
    expect(await job('fills__poll:confirm')).toBeUndefined();
  });

  it('never postpones a fills__poll that is already due', async () => {
    await db.pool.query(`select graphile_worker.add_job('fills__poll', '{}'::json, job_key => 'fills__poll', run_at => now() - interval '30 s')`);
    const before = await job('fills__poll');
    await wake('trade');
    expect((await job('fills__poll')).run_at).toEqual(before.run_at);
  });

  it('queues another fills__poll behind a running one (it may have read TradesHistory before the fill)', async () => {
    await wake('trade');
    const running = await job('fills__poll');
    await lock(running.id);
    await wake('filled');
    const next = await job('fills__poll');
    expect(next.id).not.toBe(running.id);
    expect(next.locked_at).toBeNull();
    expect(next.due).toBe(true);
  });

  it('canceled and expired move the pending order__reconcile to now, payload kept', async () => {
    for (const t of ['canceled', 'expired']) {
      await db.pool.query(`delete from graphile_worker._private_jobs where key = 'order__reconcile'`);
      await db.pool.query(`select graphile_worker.add_job('order__reconcile', '{"cadence_seconds": 7}'::json, job_key => 'order__reconcile', run_at => now() + interval '600 s')`);
      const before = await job('order__reconcile');
      expect((await wake(t)).map((r) => r.task)).toEqual(['fills__poll', 'order__reconcile']);
      const after = await job('order__reconcile');
      expect(after.id).toBe(before.id);
      expect(after.due).toBe(true);
      expect(after.payload).toEqual({ cadence_seconds: 7 });
    }
  });

  it('moving the reconcile forward notifies the listening workers (reschedule_jobs alone does not)', async () => {
    await db.pool.query(`select graphile_worker.add_job('order__reconcile', '{}'::json, job_key => 'order__reconcile', run_at => now() + interval '600 s')`);
    const listener = await db.pool.connect();
    try {
      const got: string[] = [];
      listener.on('notification', (n) => got.push(n.channel));
      await listener.query('listen "jobs:insert"');
      await wake('canceled');
      for (let i = 0; i < 200 && got.length < 2; i++) await listener.query('select 1');
      expect(got).toEqual(['jobs:insert', 'jobs:insert']); // fills__poll's add_job, then the moved reconcile
    } finally {
      await listener.query('unlisten *');
      listener.release();
    }
  });

  it('a due order__reconcile is not postponed; none pending: one is queued now', async () => {
    await db.pool.query(`select graphile_worker.add_job('order__reconcile', '{}'::json, job_key => 'order__reconcile', run_at => now() - interval '10 s')`);
    const due = await job('order__reconcile');
    await wake('canceled');
    expect((await job('order__reconcile')).run_at).toEqual(due.run_at);
    await db.pool.query(`delete from graphile_worker._private_jobs where key = 'order__reconcile'`);
    await wake('expired');
    expect((await job('order__reconcile')).due).toBe(true);
  });

  it('a wake during a running reconcile survives that cycle re-queueing itself at now + cadence', async () => {
    await db.pool.query(`select graphile_worker.add_job('order__reconcile', '{}'::json, job_key => 'order__reconcile', run_at => now())`);
    const running = await job('order__reconcile');
    await lock(running.id);
    await wake('canceled');
    const woken = await job('order__reconcile');
    expect(woken.id).not.toBe(running.id);
    expect(woken.due).toBe(true);
    await requeue(db.pool, 'order__reconcile', 600); // the running cycle's finally
    expect((await job('order__reconcile')).due).toBe(true);
    // Without a wake the re-queue schedules the next cycle at its cadence, as before.
    await db.pool.query(`delete from graphile_worker._private_jobs where key = 'order__reconcile' or key is null`);
    await db.pool.query(`select graphile_worker.add_job('order__reconcile', '{}'::json, job_key => 'order__reconcile', run_at => now())`);
    await lock((await job('order__reconcile')).id);
    await requeue(db.pool, 'order__reconcile', 600);
    expect((await job('order__reconcile')).in_s).toBeGreaterThan(500);
  });

  it('is executable by kapitaal_execution only', async () => {
    const { rows } = await db.pool.query(
      `select has_function_privilege('kapitaal_execution', 'kapitaal.execution__wake(text, interval)', 'execute') as ex,
              has_function_privilege('kapitaal_readonly', 'kapitaal.execution__wake(text, interval)', 'execute') as ro`,
    );
    expect(rows[0]).toEqual({ ex: true, ro: false });
  });
});
