// raw_txid_horizon: below it every writer of this database has finished; writers
// of other databases on the same cluster do not hold it back.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
let otherDb: pg.Client;
const otherName = `t_other_${process.pid}`;

beforeAll(async () => {
  db = await testDatabase('ingest');
  const admin = new pg.Client({ connectionString: inject('ingestAdminUrl') });
  await admin.connect();
  await admin.query(`drop database if exists ${otherName}`);
  await admin.query(`create database ${otherName}`);
  await admin.end();
  otherDb = new pg.Client({ connectionString: inject('ingestAdminUrl').replace(/\/[^/]*$/, `/${otherName}`) });
  await otherDb.connect();
});
afterAll(async () => {
  await otherDb.end();
  const admin = new pg.Client({ connectionString: inject('ingestAdminUrl') });
  await admin.connect();
  await admin.query(`drop database if exists ${otherName} with (force)`);
  await admin.end();
});

const horizon = async () =>
  BigInt((await db.pool.query('select kapitaal.raw_txid_horizon()::text as h')).rows[0].h);
const clusterXmin = async () =>
  BigInt((await db.pool.query('select pg_snapshot_xmin(pg_current_snapshot())::text as h')).rows[0].h);
const assignXid = async (c: pg.Client) => BigInt((await c.query('select pg_current_xact_id()::text as x')).rows[0].x);

describe('raw_txid_horizon', () => {
  it('is held back by an open writer of this database until it finishes', async () => {
    const w = await db.client();
    await w.query('begin');
    const x = await assignXid(w);
    // A later writer that commits first must not move the horizon past x.
    const w2 = await db.client();
    await w2.query('begin');
    const x2 = await assignXid(w2);
    await w2.query('commit');
    expect(x2).toBeGreaterThan(x);
    expect(await horizon()).toBe(x);
    await w.query('commit');
    expect(await horizon()).toBeGreaterThan(x2);
  });

  it('is not held back by an open writer of another database on the cluster', async () => {
    await otherDb.query('begin');
    const x = await assignXid(otherDb);
    try {
      // The cluster-wide xmin waits for the other database; ours does not.
      expect(await clusterXmin()).toBeLessThanOrEqual(x);
      const w = await db.client();
      await w.query('begin');
      await assignXid(w);
      await w.query('commit');
      expect(await horizon()).toBeGreaterThan(x);
    } finally {
      await otherDb.query('commit');
    }
  });
});
