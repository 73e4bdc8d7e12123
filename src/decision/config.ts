// Options of the decision side (feed mode, cadences), read from the environment and
// validated with zod. Kept apart from src/config/config.ts; a bad value throws the same
// ConfigError (one line naming the variable).
import { z } from 'zod';
import { ConfigError } from '../config/config.ts';

const seconds = (max: number) =>
  z.coerce
    .number({ invalid_type_error: 'expected a number of seconds' })
    .positive('expected a positive number of seconds')
    .max(max, `expected at most ${max} seconds`);

export const decisionConfigSchema = z.object({
  /** How state reaches a separate decision cluster: the sync job, or PostgreSQL logical replication. */
  DECISION_FEED: z.enum(['sync', 'replication'], { errorMap: () => ({ message: 'expected sync or replication' }) }).default('sync'),
  /** Publication (ingest) and subscription (decision) name in replication mode. */
  DECISION_SUBSCRIPTION: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lowercase SQL identifier')
    .default('kapitaal_decision'),
  /** Periodic evaluation cadence (new generations trigger an evaluation at once anyway). */
  EVALUATION_CADENCE_SECONDS: seconds(3600).optional(),
  /** Periodic sync cadence per run (each refresh triggers a sync at once anyway). */
  SYNC_CADENCE_SECONDS: seconds(3600).optional(),
  /** How often each runtime runs job_chain__watchdog. */
  CHAIN_WATCHDOG_SECONDS: seconds(600).default(5),
  /** Graphile Worker concurrency of the execution runtime. */
  EXECUTION_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
});

export type DecisionConfig = z.infer<typeof decisionConfigSchema>;

export function loadDecisionConfig(env: NodeJS.ProcessEnv = process.env): DecisionConfig {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(decisionConfigSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const parsed = decisionConfigSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    throw new ConfigError(variable, `${issue.message} (got ${JSON.stringify(relevant[variable] ?? '')})`);
  }
  return parsed.data;
}
