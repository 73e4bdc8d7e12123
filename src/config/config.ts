// One zod schema for every environment variable the engine reads. A bad value
// stops start-up with one line that names the variable (see ConfigError).
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/** Variables whose values must never be echoed (logs, errors, database). */
export const SECRET_VARIABLES = new Set(['KRAKEN_API_KEY', 'KRAKEN_API_SECRET', 'KRAKEN_L3_TOKEN', 'DASHBOARD_TOKEN']);

const boolFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], {
    errorMap: () => ({ message: 'expected true or false' }),
  })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce
  .number({ invalid_type_error: 'expected a port number' })
  .int('expected a whole port number')
  .min(1024, 'expected a port from 1024 to 65535')
  .max(65535, 'expected a port from 1024 to 65535');

// The dashboard's port: a fixed port, 0 (any free port: tests) or `off` (no dashboard).
const dashboardPort = z
  .string()
  .transform((v, ctx) => {
    if (v === 'off') return null;
    const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (n === 0 || (n >= 1024 && n <= 65535)) return n;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a port from 1024 to 65535, 0 (any free port) or off' });
    return z.NEVER;
  });

// An IP address or a host name to bind to (no scheme, no port).
const bindHost = z
  .string()
  .refine((v) => isIP(v) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(v), 'expected an IP address or host name like 127.0.0.1');

const postgresUrl = z
  .string()
  .url('expected a URL like postgres://user:pass@host:5432/db')
  .refine((u) => /^postgres(ql)?:\/\//.test(u), 'expected a postgres:// or postgresql:// URL');

const wsUrl = z
  .string()
  .url('expected a URL like ws://127.0.0.1:8790/v2')
  .refine((u) => /^wss?:\/\//.test(u), 'expected a ws:// or wss:// URL');

export const configSchema = z.object({
  KAPITAAL_STATE_DIR: z.string().min(1).default('.kapitaal'),
  DATABASE_URL: postgresUrl.optional(),
  DECISION_DATABASE_URL: postgresUrl.optional(),
  INGEST_PG_PORT: port.default(55432),
  DECISION_PG_PORT: port.default(55433),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EXECUTION_ONLY: boolFromEnv.default('false'),
  TRADING_MODE: z.enum(['paper', 'live']).default('paper'),
  KRAKEN_WS_URL: wsUrl.default('wss://ws.kraken.com/v2'),
  KRAKEN_REST_URL: z.string().url().default('https://api.kraken.com'),
  // Private WebSocket v2 (executions feed). Unset: wss://ws-auth.kraken.com/v2 for live, and for the
  // simulator exchange KRAKEN_REST_URL's server at /v2 (src/exchange/executions-url.ts).
  KRAKEN_WS_AUTH_URL: wsUrl.optional(),
  KRAKEN_API_KEY: z.string().min(1).optional(),
  KRAKEN_API_SECRET: z.string().min(1).optional(),
  // Read-only dashboard (src/dashboard): loopback by default, as it shows orders and money; elsewhere only with a token.
  DASHBOARD_HOST: bindHost.default('127.0.0.1'),
  DASHBOARD_PORT: dashboardPort.default('8780'),
  // A shared secret the page asks for (once per browser: /?token=…, then a cookie); required off loopback.
  DASHBOARD_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
});

export type Config = z.infer<typeof configSchema> & {
  /** KAPITAAL_STATE_DIR made absolute against the working directory. */
  stateDir: string;
};

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`configuration error: ${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration; throws ConfigError on the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    // An empty variable means "not set", as shells make it easy to export KEY=.
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const shown = SECRET_VARIABLES.has(variable) ? '' : ` (got ${JSON.stringify(relevant[variable] ?? '')})`;
    throw new ConfigError(variable, `${issue.message}${shown}`);
  }
  const cfg = parsed.data;
  if (cfg.INGEST_PG_PORT === cfg.DECISION_PG_PORT) {
    throw new ConfigError('DECISION_PG_PORT', `must differ from INGEST_PG_PORT (${cfg.INGEST_PG_PORT})`);
  }
  if (cfg.DECISION_DATABASE_URL && !cfg.DATABASE_URL) {
    throw new ConfigError('DATABASE_URL', 'must be set when DECISION_DATABASE_URL is set');
  }
  return { ...cfg, stateDir: path.resolve(cfg.KAPITAAL_STATE_DIR) };
}
