// Least privilege: each group role can do its job and nothing more.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const as = (role: string, sql: string, params: unknown[] = []) =>
  db.rollback(async (c) => {
    await c.query(`set local role ${role}`);
    return c.query(sql, params);
  });

describe('roles', () => {
  it('lets the ingest writer start a run and append raw rows', async () => {
    await db.rollback(async (c) => {
      await c.query('set local role kapitaal_ingest_writer');
      const run = await c.query(`select run_id from ingest_run__start('{"q":"USD"}', 'v', 'h')`);
      await c.query(
        `insert into ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
         values ($1, 'BTC/USD', 1, 1, 2, 1, 1.5, 10, now())`,
        [run.rows[0].run_id],
      );
    });
  });

  it('does not let the ingest writer rewrite history or create tables', async () => {
    await expect(as('kapitaal_ingest_writer', 'delete from ticker_samples')).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_ingest_writer', `update ingest_runs set status = 'ended'`)).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_ingest_writer', 'create table kapitaal.x (a int)')).rejects.toThrow(/permission denied/);
  });

  it('keeps execution away from raw tables (state-first) but lets it see runs', async () => {
    await expect(as('kapitaal_execution', 'select * from trade_samples')).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_execution', `select ingest_run__start('{}', 'v', 'h')`)).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_execution', 'select count(*) from ingest_runs')).resolves.toBeTruthy();
  });

  it('lets the read-only role read everything and write nothing', async () => {
    await expect(as('kapitaal_readonly', 'select count(*) from trade_samples')).resolves.toBeTruthy();
    await expect(as('kapitaal_readonly', 'select count(*) from ingest_runs')).resolves.toBeTruthy();
    await expect(
      as('kapitaal_readonly', `insert into ingest_runs (config, config_hash, code_version, host) values ('{}', 'x', 'v', 'h')`),
    ).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_readonly', `select ingest_run__create_partitions(5)`)).rejects.toThrow(/permission denied/);
  });
});
