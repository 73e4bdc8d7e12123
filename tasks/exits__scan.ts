// Graphile Worker task exits__scan: the exit loop (SQL exits__scan: every open position against a
// fresh mark; triggered exits become order intents on the DB-first path), then re-queues itself
// (job key exits__scan, run_at = now + cadence).
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { executionContext } from '../src/execution/context.ts';
import { scanExits } from '../src/execution/exits.ts';
import { requeue } from '../src/execution/jobs.ts';

const payloadSchema = z.object({ cadence_seconds: z.number().positive().optional() }).passthrough();

const task: Task = async (raw, helpers) => {
  const p = payloadSchema.parse(raw ?? {});
  const ctx = executionContext();
  const db = { query: (text: string, values?: unknown[]) => helpers.query(text, values) };
  try {
    await scanExits(db, ctx);
  } catch (err) {
    ctx.log.error({ marker: 'EXECUTION_TASK_FAILED', task: 'exits__scan', job_id: helpers.job.id, err: (err as Error).message }, 'EXECUTION_TASK_FAILED');
  } finally {
    await requeue(db, 'exits__scan', p.cadence_seconds ?? ctx.exitsEverySeconds ?? 5);
  }
};
export default task;
