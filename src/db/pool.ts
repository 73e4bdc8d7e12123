// Connection pools for the engine: the engine's search_path on every
// connection, and error handlers so that a dropped connection (server restart,
// network) is logged instead of crashing the process.
import pg from 'pg';
import type { Logger } from 'pino';
import { SEARCH_PATH } from './migrate.ts';

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  log?: Logger;
}

export function createPool(connectionString: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'kapitaal',
    options: `-c search_path=${SEARCH_PATH.replace(/\s/g, '')}`,
  });
  const onError = (err: Error) => opts.log?.warn({ err: err.message }, 'database connection error');
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}
