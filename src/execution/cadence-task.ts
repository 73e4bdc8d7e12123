// The shape every self-requeueing execution task shares: run one cycle, log a failure
// (EXECUTION_TASK_FAILED) instead of failing the job, and always queue the next cycle
// (job key = task name, run_at = now + cadence; a payload's cadence_seconds overrides the default).
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { type ExecutionContext, executionContext } from './context.ts';
import type { Db } from './db.ts';
import { type CadenceTask, requeue } from './jobs.ts';

const payloadSchema = z.object({ cadence_seconds: z.number().positive().optional() }).passthrough();

export function cadenceTask(
  name: CadenceTask,
  defaultSeconds: (ctx: ExecutionContext) => number,
  cycle: (db: Db, ctx: ExecutionContext) => Promise<unknown>,
): Task {
  return async (raw, helpers) => {
    const p = payloadSchema.parse(raw ?? {});
    const ctx = executionContext();
    const db: Db = { query: (text: string, values?: unknown[]) => helpers.query(text, values) };
    try {
      await cycle(db, ctx);
    } catch (err) {
      ctx.log.error({ marker: 'EXECUTION_TASK_FAILED', task: name, job_id: helpers.job.id, err: (err as Error).message }, 'EXECUTION_TASK_FAILED');
    } finally {
      await requeue(db, name, p.cadence_seconds ?? defaultSeconds(ctx));
    }
  };
}
