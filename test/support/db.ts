// Per-test-file databases cloned from the migrated templates, and helpers for
// tests that roll back and for tests that must commit.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { SEARCH_PATH } from '../../src/db/migrate.ts';

export type Role = 'ingest' | 'decision';

const withDb = (adminUrl: string, db: string) => adminUrl.replace(/\/[^/]*$/, `/${db}`);

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  /** Runs fn inside a transaction that is always rolled back. */
  rollback<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** A fresh client (committing work); closed when the file ends. */
  client(): Promise<pg.Client>;
}

/** Clones a database for this test file from the migrated template; dropped after the file. */
export async function testDatabase(role: Role = 'ingest'): Promise<TestDatabase> {
  const adminUrl = inject(role === 'ingest' ? 'ingestAdminUrl' : 'decisionAdminUrl');
  const name = `t_${role}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name} template ${inject('templateDb')}`);
  await admin.query(`alter database ${name} set search_path to ${SEARCH_PATH}`);
  await admin.end();
  const url = withDb(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // Tests kill backends and drop databases on purpose: an idle connection's error is
  // expected then, and a query on a broken connection still fails where it is awaited.
  pool.on('error', () => {});
  pool.on('connect', (c) => c.on('error', () => {}));
  const clients: pg.Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await pool.end();
    const a = new pg.Client({ connectionString: adminUrl });
    await a.connect();
    await a.query(`drop database if exists ${name} with (force)`);
    await a.end();
  });
  return {
    url,
    name,
    pool,
    async rollback(fn) {
      const c = await pool.connect();
      try {
        await c.query('begin');
        return await fn(c);
      } finally {
        await c.query('rollback').catch(() => {});
        c.release();
      }
    },
    async client() {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => {});
      await c.connect();
      clients.push(c);
      return c;
    },
  };
}
