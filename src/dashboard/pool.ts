// The dashboard's own small pool per cluster: separate from the engine's pools so a slow
// page never takes a connection the engine needs; read-only sessions, a statement timeout
// so a stuck query cannot pile up behind the 2 s poll, and its own application_name so
// pg_stat_activity tells it apart.
import pg from 'pg';
import { SEARCH_PATH } from '../db/migrate.ts';

export const DASHBOARD_APPLICATION_NAME = 'kapitaal-dashboard';

export function createDashboardPool(connectionString: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: 2,
    application_name: DASHBOARD_APPLICATION_NAME,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${SEARCH_PATH.replace(/\s/g, '')} -c default_transaction_read_only=on -c statement_timeout=5000`,
  });
  // A dropped connection (server restart) must not crash the process; the next poll reports it.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}
