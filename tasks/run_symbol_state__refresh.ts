// Graphile Worker task: refresh one ingest run's run_symbol_state, and re-queue itself
// (job_key run_symbol_state__refresh:<run_id>, run_at = now + cadence) in the same
// transaction, for as long as the run is running. Logs RUN_SYMBOL_STATE_REFRESH.
import type { Logger } from 'pino';
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { createLogger, mark } from '../src/log/logger.ts';
import { runRefreshJob } from '../src/state/refresh.ts';

export const payloadSchema = z
  .object({
    run_id: z.number().int().positive(),
    /** Seconds until the next refresh; default: state_refresh_policy.cadence (2 s). */
    cadence_seconds: z.number().positive().max(3600).optional(),
  })
  .strict();

export function createRefreshTask(log: Logger): Task {
  return async (payload, helpers) => {
    const parsed = payloadSchema.safeParse(payload);
    if (!parsed.success) {
      // Thrown errors make Graphile Worker retry; a malformed payload never heals, but the
      // failure (with the job id) is what an operator should see.
      throw new Error(`run_symbol_state__refresh: invalid payload ${JSON.stringify(payload)}: ${parsed.error.message}`);
    }
    const { run_id, cadence_seconds } = parsed.data;
    const outcome = await helpers.withPgClient((client) => runRefreshJob(client, run_id, cadence_seconds));
    mark(log, 'RUN_SYMBOL_STATE_REFRESH', { job_id: helpers.job.id, ...outcome });
    if (!outcome.requeued) {
      mark(log, 'RUN_SYMBOL_STATE_REFRESH_STOPPED', {
        run_id,
        run_status: outcome.run_status,
        generation_id: outcome.generation_id,
      });
    }
  };
}

const task: Task = createRefreshTask(createLogger(undefined, 'run_symbol_state__refresh'));
export default task;
