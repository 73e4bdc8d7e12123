// The self-requeueing cadence of the execution tasks (job key = task name: at most one pending).
import type { Db } from './db.ts';

export const EXECUTION_TASKS = ['order__submit', 'fills__poll', 'order__reconcile', 'exits__scan', 'capital__snapshot', 'capital__fee_rates', 'capital__balances'] as const;
export type ExecutionTask = (typeof EXECUTION_TASKS)[number];

/** The tasks that re-queue themselves on a cadence (cadence-task.ts). */
export type CadenceTask = 'order__reconcile' | 'exits__scan' | 'capital__snapshot' | 'capital__fee_rates' | 'capital__balances';

/**
 * Queues the next cycle of a cadence task in `seconds`. preserve_run_at: a job queued while this
 * cycle ran (the executions feed's wake, a start-up's ensure) is due now and keeps that run_at.
 */
export async function requeue(db: Db, task: CadenceTask, seconds: number): Promise<void> {
  await db.query(
    `select graphile_worker.add_job($1, '{}'::json, job_key => $1, run_at => now() + make_interval(secs => $2::double precision), max_attempts => 3, job_key_mode => 'preserve_run_at')`,
    [task, seconds],
  );
}

/** Starts the cadences unless already pending (execution_jobs__ensure). Call once on start-up. */
export async function ensureExecutionJobs(db: Db): Promise<void> {
  await db.query('select * from kapitaal.execution_jobs__ensure()');
}
