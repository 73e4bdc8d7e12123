// Chain steps as Graphile Worker tasks. A step that throws is not swallowed: the job fails
// with its error (visible in job_queue_status). Before it does, job_chain__failed queues the
// next cycle with backoff in its own transaction, which makes the failing job final (Graphile
// moves the job key to the new job), so one bad cycle can never stop the chain.
import type { JobHelpers, Task } from 'graphile-worker';
import type { Logger } from 'pino';

export interface ChainStep<P> {
  task: string;
  /** Parses the payload (throws on a bad one: the job fails loudly). */
  parse(payload: unknown): P;
  /** The job key of the chain cycle, e.g. state__sync:<run_id>. */
  key(payload: P): string;
  /** Backoff base in seconds (default: the step's cadence from decision_policy). */
  backoffBaseSeconds?(payload: P): number | undefined;
  run(payload: P, helpers: JobHelpers): Promise<void>;
  log(): Logger;
}

export function chainTask<P>(step: ChainStep<P>): Task {
  return async (raw, helpers) => {
    const payload = step.parse(raw ?? {});
    try {
      await step.run(payload, helpers);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const key = helpers.job.key ?? step.key(payload);
      try {
        const base = step.backoffBaseSeconds?.(payload);
        const { rows } = await helpers.query<{ next: Date | null }>(
          `select kapitaal.job_chain__failed($1, $2, $3::jsonb, $4, $5,
                  case when $6::numeric is null then null else make_interval(secs => $6::double precision) end) as next`,
          [step.task, key, JSON.stringify(raw ?? {}), helpers.job.id, message, base ?? null],
        );
        step.log().error({ task: step.task, job_key: key, job_id: helpers.job.id, err: message, next_run_at: rows[0]?.next },
          'chain step failed; next cycle queued with backoff');
      } catch (requeueErr) {
        // The database is unreachable: Graphile's own retry (with backoff) carries the chain.
        step.log().error({ task: step.task, job_key: key, err: message, requeue_err: (requeueErr as Error).message },
          'chain step failed and the next cycle could not be queued; Graphile Worker will retry this job');
      }
      throw err;
    }
  };
}
