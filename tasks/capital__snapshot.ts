// Graphile Worker task capital__snapshot: records the account's equity (SQL capital__snapshot_from_state:
// open positions at the state mid, cash from the fills ledger), which compounding sizes from, then
// re-queues itself (job key capital__snapshot, run_at = now + cadence).
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { takeCapitalSnapshot } from '../src/execution/capital.ts';
import { executionContext } from '../src/execution/context.ts';
import { requeue } from '../src/execution/jobs.ts';

const payloadSchema = z.object({ cadence_seconds: z.number().positive().optional() }).passthrough();

const task: Task = async (raw, helpers) => {
  const p = payloadSchema.parse(raw ?? {});
  const ctx = executionContext();
  const db = { query: (text: string, values?: unknown[]) => helpers.query(text, values) };
  try {
    await takeCapitalSnapshot(db, ctx);
  } catch (err) {
    ctx.log.error({ marker: 'EXECUTION_TASK_FAILED', task: 'capital__snapshot', job_id: helpers.job.id, err: (err as Error).message }, 'EXECUTION_TASK_FAILED');
  } finally {
    // Well inside capital_policy.max_snapshot_age (60 s by default), so compounding always finds a fresh one.
    await requeue(db, 'capital__snapshot', p.cadence_seconds ?? ctx.capitalSnapshotEverySeconds ?? 10);
  }
};
export default task;
