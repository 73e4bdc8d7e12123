// Applies the graphile-migrate migrations to one database. The same schema goes
// to both clusters (so a single shared pool also works); roles are created first,
// outside the migrations, as graphile-migrate recommends.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@graphile/logger';
import { migrate, watch, type Settings } from 'graphile-migrate';
// Not re-exported by the package index; ends graphile-migrate's cached pools so that
// a migrated template database has no sessions left when it is cloned.
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import { Logger as WorkerLogger, runMigrations as installWorkerSchema } from 'graphile-worker';
import pg from 'pg';

export const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MIGRATIONS_DIR = path.join(ROOT_DIR, 'migrations');
export const ENGINE_SCHEMA = 'kapitaal';
export const SEARCH_PATH = `${ENGINE_SCHEMA}, public`;

// graphile-migrate fails a second concurrent migrate with "Failed to get
// exclusive lock"; this blocking lock makes concurrent migrators wait instead.
const MIGRATE_LOCK_KEY = 7_300_114_001;

export interface MigrateOptions {
  /** Also run migrations/current/ (development and tests), as `graphile-migrate watch --once`. */
  includeCurrent?: boolean;
  log?: (msg: string) => void;
}

const silentWorkerLogger = new WorkerLogger(() => () => {});

export function migrateSettings(connectionString: string, log: (msg: string) => void = () => {}): Settings {
  return {
    connectionString,
    migrationsFolder: MIGRATIONS_DIR,
    pgSettings: { search_path: SEARCH_PATH },
    logger: new Logger(() => (_level, message) => log(message)),
  };
}

/** Runs roles.sql, the committed migrations and optionally current/, holding a blocking lock. */
export async function migrateDatabase(connectionString: string, opts: MigrateOptions = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATE_LOCK_KEY]);
    await client.query(fs.readFileSync(path.join(MIGRATIONS_DIR, 'roles.sql'), 'utf8'));
    // Graphile Worker's own schema first: our SQL functions enqueue jobs with
    // graphile_worker.add_job in the same transaction as the work they finish.
    await installWorkerSchema({ connectionString, logger: silentWorkerLogger });
    const settings = migrateSettings(connectionString, log);
    await migrate(settings);
    if (opts.includeCurrent && currentHasContent()) await watch(settings, true);
    // Lets a plain `psql "$(kapitaal db url ingest)"` find the engine's tables.
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    await client.query(`alter database ${pg.escapeIdentifier(rows[0]!.db)} set search_path to ${SEARCH_PATH}`);
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATE_LOCK_KEY]).catch(() => {});
    await client.end();
    clearAllPools();
  }
}

export function currentHasContent(): boolean {
  const dir = path.join(MIGRATIONS_DIR, 'current');
  if (!fs.existsSync(dir)) return false;
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .some((f) => fs.readFileSync(path.join(dir, f), 'utf8').replace(/--(?!!).*$/gm, '').trim() !== '');
}
