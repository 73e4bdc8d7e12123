// job_queue_status: a job on its last attempt counts as running (not failed) while locked, and
// last_failure is the newest failure's error, not the alphabetically greatest.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

describe('job_queue_status', () => {
  it('counts failed jobs only when no worker holds them, and shows the newest failure', async () => {
    await db.rollback(async (c) => {
      const add = async () => Number((await c.query(`select (graphile_worker.add_job('qs_task', '{}'::json, max_attempts => 2)).id`)).rows[0].id);
      const [old, newer, running] = [await add(), await add(), await add()];
      await c.query(`update graphile_worker._private_jobs set attempts = 2, last_error = 'zzz old error', updated_at = now() - interval '1 hour' where id = $1`, [old]);
      await c.query(`update graphile_worker._private_jobs set attempts = 2, last_error = 'aaa newer error', updated_at = now() where id = $1`, [newer]);
      // On its last attempt and locked by a worker: running, not failed.
      await c.query(`update graphile_worker._private_jobs set attempts = 2, locked_at = now(), locked_by = 'w1' where id = $1`, [running]);
      const { rows } = await c.query(`select running::int, failed::int, last_failure from kapitaal.job_queue_status where task_identifier = 'qs_task'`);
      expect(rows).toEqual([{ running: 1, failed: 2, last_failure: 'aaa newer error' }]);
    });
  });
});
