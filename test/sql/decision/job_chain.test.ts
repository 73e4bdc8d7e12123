// The job chain in SQL: the trigger on state_generations queues the next step per database
// role, job_chain__next modes, job_chain__failed (the failing job becomes final and visible,
// the next cycle is queued with backoff) and job_chain__watchdog repairs.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { liveMarket, refresh, startRun } from '../../e2e/decision/support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const jobs = async (task: string) =>
  (
    await db.pool.query(
      `select id, key, run_at, attempts, max_attempts, last_error, locked_at, flags from graphile_worker.jobs
        where task_identifier = $1 order by id`,
      [task],
    )
  ).rows;
const configure = (role: string, feed: string, evaluation: boolean) =>
  db.pool.query('select kapitaal.decision_settings__configure($1, $2, $3)', [role, feed, evaluation]);
const clearJobs = () => db.pool.query('delete from graphile_worker._private_jobs');

describe('trigger on state_generations', () => {
  it('queues state__sync on an ingest cluster in sync mode, nothing in replication mode', async () => {
    await clearJobs();
    await configure('ingest', 'sync', false);
    const run = await startRun(db.pool, 0);
    await refresh(db.pool, run, 1);
    await refresh(db.pool, run, 2);
    expect((await jobs('state__sync')).map((j) => j.key)).toEqual([`state__sync:${run}`]);
    expect(await jobs('evaluation__run')).toEqual([]);
    // ingest role records no visibility (the generation is not on a decision cluster)
    const vis = await db.pool.query('select count(*)::int n from kapitaal.state_generation_visibility where run_id = $1', [run]);
    expect(vis.rows[0].n).toBe(0);

    await clearJobs();
    await configure('ingest', 'replication', false);
    await refresh(db.pool, run, 3);
    expect(await jobs('state__sync')).toEqual([]);
  });

  it('queues evaluation__run and records visibility where an execution runtime evaluates', async () => {
    await clearJobs();
    await configure('shared', 'none', true);
    const run = await startRun(db.pool, 0);
    const g = await refresh(db.pool, run, 1);
    expect((await jobs('evaluation__run')).map((j) => j.key)).toEqual(['evaluation__run']);
    const vis = await db.pool.query('select feed, lag >= interval \'0\' as ok from kapitaal.state_generation_visibility where generation_id = $1', [
      g.generation_id,
    ]);
    expect(vis.rows).toHaveLength(1);
    await configure('shared', 'none', false);
  });
});

describe('job_chain__next / job_chain__failed', () => {
  it('cadence keeps an earlier run_at, immediate pulls forward but never a backoff job', async () => {
    await clearJobs();
    const k = 'evaluation__run';
    const t0 = '2030-01-01T00:00:00Z';
    await db.pool.query(`select kapitaal.job_chain__next('evaluation__run', $1, '{}', 'cadence', interval '5 seconds', 0, $2)`, [k, t0]);
    let [j] = await jobs('evaluation__run');
    expect(j.run_at.toISOString()).toBe('2030-01-01T00:00:05.000Z');
    await db.pool.query(`select kapitaal.job_chain__next('evaluation__run', $1, '{}', 'immediate', interval '0', 0, $2)`, [k, t0]);
    [j] = await jobs('evaluation__run');
    expect(j.run_at.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    // cadence after that: the sooner time stays
    await db.pool.query(`select kapitaal.job_chain__next('evaluation__run', $1, '{}', 'cadence', interval '5 seconds', 0, $2)`, [k, t0]);
    [j] = await jobs('evaluation__run');
    expect(j.run_at.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    // backoff: 3rd failure with base 2 s = 8 s, flagged; an immediate request leaves it alone
    await db.pool.query(`select kapitaal.job_chain__next('evaluation__run', $1, '{}', 'backoff', interval '2 seconds', 3, $2)`, [k, t0]);
    await db.pool.query(`select kapitaal.job_chain__next('evaluation__run', $1, '{}', 'immediate', interval '0', 0, $2)`, [k, t0]);
    const all = await jobs('evaluation__run');
    expect(all).toHaveLength(1);
    expect(all[0].run_at.toISOString()).toBe('2030-01-01T00:00:08.000Z');
    expect(all[0].flags).toEqual({ chain_backoff: true });
    // capped at chain_max_backoff (30 s)
    await db.pool.query(`select kapitaal.job_chain__next('evaluation__run', $1, '{}', 'backoff', interval '2 seconds', 12, $2)`, [k, t0]);
    expect((await jobs('evaluation__run'))[0].run_at.toISOString()).toBe('2030-01-01T00:00:30.000Z');
  });

  it('a failing running step: it becomes final with its error, the next cycle is queued with backoff', async () => {
    await clearJobs();
    await configure('shared', 'none', true);
    // A job that a worker has locked (as Graphile does while the task runs).
    await db.pool.query(`select kapitaal.job_chain__next('evaluation__run', 'evaluation__run', '{}', 'immediate')`);
    const [running] = await jobs('evaluation__run');
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'w', attempts = 1 where id = $1`, [running.id]);
    const next = await db.pool.query(
      `select kapitaal.job_chain__failed('evaluation__run', 'evaluation__run', '{"failures": 1}', $1, 'boom') as next`,
      [running.id],
    );
    expect(next.rows[0].next).not.toBeNull();
    // What Graphile's fail_job then does: unlock with the error.
    await db.pool.query(`update graphile_worker._private_jobs set locked_at = null, locked_by = null, last_error = 'boom' where id = $1`, [running.id]);
    const all = await jobs('evaluation__run');
    expect(all).toHaveLength(2);
    const [failed, queued] = all;
    expect(failed).toMatchObject({ key: null, last_error: 'boom' });
    expect(failed.attempts).toBe(failed.max_attempts); // final: never retried
    expect(queued).toMatchObject({ key: 'evaluation__run', attempts: 0, flags: { chain_backoff: true } });
    const status = await db.pool.query(`select failed::int, last_failure from kapitaal.job_queue_status where task_identifier = 'evaluation__run'`);
    expect(status.rows[0]).toEqual({ failed: 1, last_failure: 'boom' });
    const inc = await db.pool.query(`select action, failures, detail from kapitaal.job_chain_incidents where job_id = $1`, [running.id]);
    expect(inc.rows).toEqual([{ action: 'step_failed', failures: 2, detail: 'boom' }]);
    await configure('shared', 'none', false);
  });
});

describe('job_chain__watchdog', () => {
  it('seeds a missing chain job, retries one that failed permanently holding the key, caps long retries', async () => {
    await clearJobs();
    await configure('ingest', 'sync', false);
    const run = await startRun(db.pool, 0);
    const w1 = await db.pool.query(`select * from kapitaal.job_chain__watchdog()`);
    // A new run (no generation yet): its chains begin here, which is routine, not an incident.
    const started = w1.rows.filter((r) => r.action === 'started').map((r) => r.job_key).sort();
    expect(started).toContain(`state__sync:${run}`);
    expect(started).toContain(`run_symbol_state__refresh:${run}`);
    const recorded = await db.pool.query(`select count(*)::int n from kapitaal.job_chain_incidents where job_key like $1`, [`%:${run}`]);
    expect(recorded.rows[0].n).toBe(0);
    // Nothing more to do on a second pass.
    const w2 = await db.pool.query(`select * from kapitaal.job_chain__watchdog()`);
    expect(w2.rows.filter((r) => String(r.job_key).endsWith(`:${run}`))).toEqual([]);

    // The refresh job failed permanently (Graphile gave up) while holding its key.
    await db.pool.query(
      `update graphile_worker._private_jobs set attempts = max_attempts, last_error = 'refresh broke' where key = $1`,
      [`run_symbol_state__refresh:${run}`],
    );
    // The sync job is retrying with Graphile's own (long) backoff.
    await db.pool.query(`update graphile_worker._private_jobs set attempts = 3, run_at = now() + interval '2 hours' where key = $1`, [
      `state__sync:${run}`,
    ]);
    const w3 = await db.pool.query(`select * from kapitaal.job_chain__watchdog()`);
    const byKey = Object.fromEntries(w3.rows.filter((r) => r.job_key).map((r) => [r.job_key, r]));
    expect(byKey[`run_symbol_state__refresh:${run}`]).toMatchObject({ action: 'reseeded_failed' });
    expect(byKey[`run_symbol_state__refresh:${run}`].detail).toMatch(/refresh broke/);
    expect(byKey[`state__sync:${run}`]).toMatchObject({ action: 'backoff_capped' });
    const refreshJob = (await jobs('run_symbol_state__refresh')).find((j) => j.key === `run_symbol_state__refresh:${run}`);
    expect(refreshJob.attempts).toBe(0);
    const syncJob = (await jobs('state__sync'))[0];
    expect(syncJob.run_at.getTime()).toBeLessThan(Date.now() + 31_000);

    // Once the run has a generation, a lost chain job is a real repair: seeded and recorded.
    await db.pool.query(`select kapitaal.refresh_run_symbol_state($1)`, [run]);
    await db.pool.query(`delete from graphile_worker._private_jobs where key = $1`, [`run_symbol_state__refresh:${run}`]);
    const w4 = await db.pool.query(`select * from kapitaal.job_chain__watchdog()`);
    expect(w4.rows.find((r) => r.job_key === `run_symbol_state__refresh:${run}`)).toMatchObject({ action: 'seeded' });
    const incidents = await db.pool.query(`select action from kapitaal.job_chain_incidents where job_key = $1 order by incident_id`,
      [`run_symbol_state__refresh:${run}`]);
    expect(incidents.rows.map((r) => r.action)).toEqual(['reseeded_failed', 'seeded']);
    await db.pool.query(`select kapitaal.ingest_run__end($1, 'ended', 'test')`, [run]);
    await configure('shared', 'none', false);
  });

  it('prunes failed chain jobs beyond failed_jobs_kept', async () => {
    await clearJobs();
    await db.pool.query(`update kapitaal.decision_policy set failed_jobs_kept = 2`);
    for (let i = 0; i < 5; i++) {
      await db.pool.query(`select graphile_worker.add_job('evaluation__run', '{}'::json, max_attempts => 1)`);
    }
    await db.pool.query(`update graphile_worker._private_jobs set attempts = 1, last_error = 'x'`);
    const w = await db.pool.query(`select * from kapitaal.job_chain__watchdog()`);
    expect(w.rows.map((r) => r.action)).toContain('pruned_failed');
    expect(await jobs('evaluation__run')).toHaveLength(2);
    await db.pool.query(`update kapitaal.decision_policy set failed_jobs_kept = 50`);
  });
});

describe('decision__upsert_rows', () => {
  it('copies rows generically (identity columns included) and rewrites only changed rows', async () => {
    const run = await startRun(db.pool, 0);
    await liveMarket(db.pool, run, { symbols: 1, to: 30 });
    const src = await db.pool.query(`select jsonb_agg(to_jsonb(r)) j from kapitaal.ingest_runs r where run_id = $1`, [run]);
    await db.pool.query(`delete from kapitaal.ingest_runs where run_id = $1`, [run]).catch(() => {});
    const copy = await db.pool.query(`select kapitaal.decision__upsert_rows('kapitaal.run_symbol_state', (select jsonb_agg(to_jsonb(s)) from kapitaal.run_symbol_state s where run_id = $1)) n`, [run]);
    expect(copy.rows[0].n).toBe(0); // identical rows: nothing rewritten
    const n = await db.pool.query(`select kapitaal.decision__upsert_rows('kapitaal.ingest_runs', $1::jsonb) n`, [
      JSON.stringify(src.rows[0].j.map((r: Record<string, unknown>) => ({ ...r, heartbeat_at: '2030-01-01T00:00:00Z' }))),
    ]);
    expect(n.rows[0].n).toBe(1);
    const hb = await db.pool.query(`select heartbeat_at from kapitaal.ingest_runs where run_id = $1`, [run]);
    expect(hb.rows[0].heartbeat_at.toISOString()).toBe('2030-01-01T00:00:00.000Z');
  });
});
