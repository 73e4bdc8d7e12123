// Graphile Worker task state__sync (ingest runner): moves the newest generation of a run,
// with its epochs, snapshots, pairs and run rows, to the decision cluster in one decision
// transaction, then queues the next cycle. Queued by the trigger on state_generations after
// each refresh; a failure queues the next cycle with backoff (see src/decision/chain.ts).
import { z } from 'zod';
import { chainTask } from '../src/decision/chain.ts';
import { decisionContext } from '../src/decision/context.ts';
import { syncRunToDecision } from '../src/decision/sync.ts';

const payloadSchema = z.object({
  run_id: z.coerce.number().int().positive(),
  failures: z.number().int().min(0).optional(),
  cadence_seconds: z.number().positive().optional(),
});
type Payload = z.infer<typeof payloadSchema>;

export default chainTask<Payload>({
  task: 'state__sync',
  parse: (raw) => payloadSchema.parse(raw),
  key: (p) => `state__sync:${p.run_id}`,
  log: () => decisionContext().log,
  backoffBaseSeconds: (p) => p.cadence_seconds ?? decisionContext().syncCadenceSeconds,
  async run(p, helpers) {
    const ctx = decisionContext();
    if (!ctx.decisionPool) throw new Error('state__sync: no decision-cluster pool configured (startDecisionFeed sets it)');
    await helpers.withPgClient(async (ingest) => {
      await syncRunToDecision(ingest, ctx.decisionPool!, p.run_id, { log: ctx.log });
      // Next cycle at the sync cadence (a refresh queues it sooner), while the run is running.
      const cadence = p.cadence_seconds ?? ctx.syncCadenceSeconds ?? null;
      await ingest.query(
        `select kapitaal.job_chain__next('state__sync', $1, $2::jsonb, 'cadence',
                coalesce(make_interval(secs => $3::double precision),
                         (select sync_cadence from kapitaal.decision_policy where policy = 'default')))
          where kapitaal.job_chain__wanted('state__sync', $2::jsonb)`,
        [`state__sync:${p.run_id}`, JSON.stringify({ run_id: p.run_id, ...(p.cadence_seconds ? { cadence_seconds: p.cadence_seconds } : {}) }), cadence],
      );
    });
  },
});
