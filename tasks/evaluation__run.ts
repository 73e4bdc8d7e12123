// Graphile Worker task evaluation__run (decision runner): one evaluation on decision-cluster
// state only (SQL evaluation__run_job), which also queues the next cycle in its transaction.
// New generations queue it at once (trigger on state_generations).
import { z } from 'zod';
import { chainTask } from '../src/decision/chain.ts';
import { decisionContext } from '../src/decision/context.ts';
import { runEvaluation } from '../src/decision/evaluation.ts';

const payloadSchema = z.object({
  run_id: z.coerce.number().int().positive().optional(),
  cadence_seconds: z.number().positive().optional(),
  failures: z.number().int().min(0).optional(),
});
type Payload = z.infer<typeof payloadSchema>;

export default chainTask<Payload>({
  task: 'evaluation__run',
  parse: (raw) => payloadSchema.parse(raw),
  key: () => 'evaluation__run',
  log: () => decisionContext().log,
  backoffBaseSeconds: (p) => p.cadence_seconds ?? decisionContext().evaluationCadenceSeconds,
  async run(p, helpers) {
    const ctx = decisionContext();
    const evaluation = await helpers.withPgClient((client) =>
      runEvaluation(client, {
        job: true,
        runId: p.run_id,
        cadenceSeconds: p.cadence_seconds ?? ctx.evaluationCadenceSeconds,
        log: ctx.log,
      }),
    );
    ctx.onEvaluation?.(evaluation);
  },
});
