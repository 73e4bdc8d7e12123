// Graphile Worker task: refresh one ingest run's run_symbol_state, and queue the next refresh
// (job_key run_symbol_state__refresh:<run_id>) in the same transaction while the run is running:
// at once when raw rows are waiting, else after the cadence; a writer's batch pulls it forward
// (run_symbol_state__refresh_wake). A failure queues the next refresh with backoff
// (src/decision/chain.ts). Logs RUN_SYMBOL_STATE_REFRESH.
import type { Logger } from 'pino';
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { chainTask } from '../src/decision/chain.ts';
import { createLogger, mark } from '../src/log/logger.ts';
import { runRefreshCycle } from '../src/state/refresh.ts';

export const payloadSchema = z
  .object({
    run_id: z.number().int().positive(),
    /** Seconds until the next refresh of an idle run; default: state_refresh_policy.cadence (2 s). */
    cadence_seconds: z.number().positive().max(3600).optional(),
    /** Consecutive failures (set by the chain's backoff). */
    failures: z.number().int().min(0).optional(),
  })
  .strict();
type Payload = z.infer<typeof payloadSchema>;

export function createRefreshTask(log: Logger): Task {
  return chainTask<Payload>({
    task: 'run_symbol_state__refresh',
    parse: (payload) => {
      const parsed = payloadSchema.safeParse(payload);
      // A malformed payload never heals, but the failure (with the job id) is what an operator should see.
      if (!parsed.success) {
        throw new Error(`run_symbol_state__refresh: invalid payload ${JSON.stringify(payload)}: ${parsed.error.message}`);
      }
      return parsed.data;
    },
    key: (p) => `run_symbol_state__refresh:${p.run_id}`,
    log: () => log,
    backoffBaseSeconds: (p) => p.cadence_seconds,
    async run({ run_id, cadence_seconds }, helpers) {
      const outcome = await helpers.withPgClient((client) => runRefreshCycle(client, run_id, cadence_seconds));
      mark(log, 'RUN_SYMBOL_STATE_REFRESH', { job_id: helpers.job.id, ...outcome });
      if (!outcome.requeued) {
        mark(log, 'RUN_SYMBOL_STATE_REFRESH_STOPPED', {
          run_id,
          run_status: outcome.run_status,
          generation_id: outcome.generation_id,
        });
      }
    },
  });
}

const task: Task = createRefreshTask(createLogger(undefined, 'run_symbol_state__refresh'));
export default task;
