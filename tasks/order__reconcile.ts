// Graphile Worker task order__reconcile: fills, order statuses and the maker fallback
// (src/execution/reconcile.ts), then re-queues itself (job key order__reconcile, run_at = now + cadence).
// A failed cycle is logged (EXECUTION_TASK_FAILED) and the next one is queued all the same.
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { executionContext } from '../src/execution/context.ts';
import { requeue } from '../src/execution/jobs.ts';
import { reconcileOrders } from '../src/execution/reconcile.ts';

const payloadSchema = z.object({ cadence_seconds: z.number().positive().optional() }).passthrough();

const task: Task = async (raw, helpers) => {
  const p = payloadSchema.parse(raw ?? {});
  const ctx = executionContext();
  const db = { query: (text: string, values?: unknown[]) => helpers.query(text, values) };
  try {
    await reconcileOrders(db, ctx);
  } catch (err) {
    ctx.log.error({ marker: 'EXECUTION_TASK_FAILED', task: 'order__reconcile', job_id: helpers.job.id, err: (err as Error).message }, 'EXECUTION_TASK_FAILED');
  } finally {
    await requeue(db, 'order__reconcile', p.cadence_seconds ?? ctx.reconcileEverySeconds ?? 5);
  }
};
export default task;
