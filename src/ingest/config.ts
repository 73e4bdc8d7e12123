// Configuration of `kapitaal ingest`, from environment variables validated with zod. A bad value
// stops start-up with one line naming the variable (ConfigError, as for the engine configuration).
import { z } from 'zod';
import { ConfigError } from '../config/config.ts';

/** Never echoed, never stored in ingest_runs.config. */
export const INGEST_SECRET_VARIABLES = new Set(['KRAKEN_L3_TOKEN']);

const wholeNumber = (min: number, max: number) =>
  z.coerce
    .number({ invalid_type_error: `expected a whole number from ${min} to ${max}` })
    .int(`expected a whole number from ${min} to ${max}`)
    .min(min, `expected a whole number from ${min} to ${max}`)
    .max(max, `expected a whole number from ${min} to ${max}`);
const int = (min: number, max: number, dflt: number) => wholeNumber(min, max).default(dflt);

const oneOf = <T extends readonly number[]>(values: T, dflt: T[number]) =>
  z.coerce
    .number()
    .refine((v) => (values as readonly number[]).includes(v), `expected one of ${values.join(', ')}`)
    .default(dflt);

const wsUrl = z
  .string()
  .url('expected a URL like ws://127.0.0.1:8790/v2')
  .refine((u) => /^wss?:\/\//.test(u), 'expected a ws:// or wss:// URL');

export const ingestConfigSchema = z.object({
  INGEST_QUOTES: z
    .string()
    .default('USD')
    .transform((s) => (s.trim() === '*' ? [] : s.split(',').map((q) => q.trim().toUpperCase())))
    .refine((qs) => qs.every((q) => /^[A-Z0-9]{2,10}$/.test(q)), 'expected quote currencies like USD,EUR (or * for all)'),
  INGEST_TOP_N: int(0, 10_000, 50),
  // Default (unset): a tenth of INGEST_TOP_N, rounded down.
  INGEST_TOP_N_MARGIN: wholeNumber(0, 10_000).optional(),
  INGEST_BOOK_DEPTH: oneOf([10, 25, 100, 500, 1000] as const, 10),
  INGEST_L3_DEPTH: oneOf([10, 100, 1000] as const, 10),
  INGEST_STORE_LEVELS: int(1, 1000, 10),
  INGEST_SAMPLE_MS: int(0, 60_000, 250),
  INGEST_FLUSH_ROWS: int(1, 1_000_000, 10_000),
  INGEST_FLUSH_MS: int(10, 60_000, 200),
  INGEST_BUFFER_MB: int(1, 8192, 64),
  INGEST_EPOCH_MS: int(100, 600_000, 2_000),
  INGEST_HEARTBEAT_MS: int(100, 600_000, 2_000),
  INGEST_STALE_AFTER_S: int(1, 86_400, 30),
  INGEST_FRESH_WITHIN_S: int(1, 86_400, 10),
  INGEST_IDLE_TIMEOUT_MS: int(200, 600_000, 10_000),
  INGEST_PING_MS: int(100, 600_000, 20_000),
  INGEST_SUB_RATE: int(1, 1_000, 5),
  INGEST_SUB_BATCH: int(1, 1_000, 50),
  INGEST_RECONNECT_MIN_MS: int(10, 600_000, 1_000),
  INGEST_RECONNECT_MAX_MS: int(10, 600_000, 30_000),
  INGEST_UNIVERSE_WARMUP_MS: int(0, 600_000, 5_000),
  INGEST_UNIVERSE_REFRESH_S: int(0, 86_400, 300),
  INGEST_SHUTDOWN_FLUSH_S: int(1, 3_600, 30),
  KRAKEN_L3_TOKEN: z.string().min(1).optional(),
  KRAKEN_L3_WS_URL: wsUrl.optional(),
});

export type IngestConfig = z.infer<typeof ingestConfigSchema>;

/** The universe's hysteresis in ranks: INGEST_TOP_N_MARGIN, else a tenth of INGEST_TOP_N. */
export function topNMargin(c: IngestConfig): number {
  return c.INGEST_TOP_N_MARGIN ?? Math.floor(c.INGEST_TOP_N / 10);
}

/** Reads and validates the ingest variables; throws ConfigError naming the first bad one. */
export function loadIngestConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(ingestConfigSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') relevant[key] = v;
  }
  const parsed = ingestConfigSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const shown = INGEST_SECRET_VARIABLES.has(variable) ? '' : ` (got ${JSON.stringify(relevant[variable] ?? '')})`;
    throw new ConfigError(variable, `${issue.message}${shown}`);
  }
  const c = parsed.data;
  if (c.INGEST_STORE_LEVELS > c.INGEST_BOOK_DEPTH) {
    throw new ConfigError('INGEST_STORE_LEVELS', `must not exceed INGEST_BOOK_DEPTH (${c.INGEST_BOOK_DEPTH}), got ${c.INGEST_STORE_LEVELS}`);
  }
  if (c.INGEST_TOP_N_MARGIN !== undefined && c.INGEST_TOP_N > 0 && c.INGEST_TOP_N_MARGIN >= c.INGEST_TOP_N) {
    // A margin of N or more could keep even the most liquid newcomer out of the universe.
    throw new ConfigError('INGEST_TOP_N_MARGIN', `must be below INGEST_TOP_N (${c.INGEST_TOP_N}), got ${c.INGEST_TOP_N_MARGIN}`);
  }
  if (c.INGEST_RECONNECT_MAX_MS < c.INGEST_RECONNECT_MIN_MS) {
    throw new ConfigError('INGEST_RECONNECT_MAX_MS', `must be at least INGEST_RECONNECT_MIN_MS (${c.INGEST_RECONNECT_MIN_MS})`);
  }
  if (c.INGEST_STALE_AFTER_S * 1000 <= c.INGEST_HEARTBEAT_MS) {
    throw new ConfigError('INGEST_STALE_AFTER_S', `must be longer than the heartbeat interval (${c.INGEST_HEARTBEAT_MS} ms)`);
  }
  return c;
}

/**
 * What the run collects, stored in ingest_runs.config: runs with the same value form one lineage.
 * Operational knobs (flush sizes, cadences, timeouts) are left out so tuning keeps the lineage;
 * secrets are never included.
 */
export function runConfig(c: IngestConfig, wsUrl: string): Record<string, unknown> {
  return {
    kind: 'kraken-ws-v2',
    ws_url: wsUrl,
    quotes: c.INGEST_QUOTES,
    top_n: c.INGEST_TOP_N,
    book_depth: c.INGEST_BOOK_DEPTH,
    store_levels: c.INGEST_STORE_LEVELS,
    sample_ms: c.INGEST_SAMPLE_MS,
    level3: c.KRAKEN_L3_TOKEN ? { depth: c.INGEST_L3_DEPTH, url: c.KRAKEN_L3_WS_URL ?? null } : null,
  };
}
