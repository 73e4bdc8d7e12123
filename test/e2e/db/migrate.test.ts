// Migrating is idempotent: twice in a row is a no-op, and two processes at once
// both succeed with one schema.
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { migrateDatabase } from '../../../src/db/migrate.ts';
import { cleanEnv, runCli } from '../../support/cli.ts';

async function emptyDatabase(name: string): Promise<string> {
  const adminUrl = inject('ingestAdminUrl');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  return adminUrl.replace(/\/[^/]*$/, `/${name}`);
}

async function fingerprint(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(`
      select (select count(*) from graphile_migrate.migrations)::int as migrations,
             (select string_agg(c.relname || ':' || c.relkind::text, ',' order by c.relname)
                from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'kapitaal') as relations,
             (select string_agg(p.oid::regprocedure::text || md5(p.prosrc), ',' order by p.oid::regprocedure::text)
                from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'kapitaal') as functions,
             (select count(*) from graphile_worker.migrations)::int as worker_migrations`);
    return rows[0];
  } finally {
    await c.end();
  }
}

describe('migrations', () => {
  it('is a no-op the second time', async () => {
    const url = await emptyDatabase('mig_twice');
    await migrateDatabase(url, { includeCurrent: true });
    const first = await fingerprint(url);
    expect(first.migrations).toBeGreaterThan(0);
    expect(first.relations).toContain('ticker_samples:p');
    await migrateDatabase(url, { includeCurrent: true });
    expect(await fingerprint(url)).toEqual(first);
  });

  it('is harmless from two processes at once', async () => {
    const url = await emptyDatabase('mig_concurrent');
    const env = cleanEnv({ DATABASE_URL: url });
    const [a, b] = await Promise.all([runCli(['db', 'migrate'], env), runCli(['db', 'migrate'], env)]);
    expect({ code: a.code, err: a.stderr }).toMatchObject({ code: 0 });
    expect({ code: b.code, err: b.stderr }).toMatchObject({ code: 0 });
    const fp = await fingerprint(url);
    const once = await emptyDatabase('mig_reference');
    await migrateDatabase(once, { includeCurrent: true });
    expect(fp).toEqual(await fingerprint(once));
  });
});
