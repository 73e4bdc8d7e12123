// Least privilege: execution reads state and calls the decision functions, never raw
// tables or the ingest working set; the ingest writer runs the refresh.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { refresh, seed, settle, startRun } from './support.ts';

let db: TestDatabase;
let run: number;
beforeAll(async () => {
  db = await testDatabase('ingest');
  run = await startRun(db.pool);
  await seed(db.pool, run, 'AAA/USD', { from: 0, to: 29, mid: () => 100 });
  await settle(db.pool, run);
  await refresh(db.pool, run, 30);
});

const as = (role: string, sql: string, params: unknown[] = []) =>
  db.rollback(async (c) => {
    await c.query(`set local role ${role}`);
    return (await c.query(sql, params)).rows;
  });

describe('state grants', () => {
  it('lets execution read state, policies and views and call the decision functions', async () => {
    expect(await as('kapitaal_execution', `select count(*)::int n from run_symbol_state`)).toEqual([{ n: 1 }]);
    expect(await as('kapitaal_execution', `select count(*)::int n from state_generations`)).toEqual([{ n: 1 }]);
    expect(await as('kapitaal_execution', `select count(*)::int n from apply_route_freshness_filter($1, now())`, [run])).toEqual([{ n: 3 }]);
    expect(await as('kapitaal_execution', `select count(*)::int n from strategy_readiness($1, now())`, [run])).toEqual([{ n: 3 }]);
    expect(await as('kapitaal_execution', `select count(*)::int n from symbol_regimes`)).toEqual([{ n: 1 }]);
  });

  it('keeps execution away from raw tables, the working set and the refresh', async () => {
    for (const sql of [
      `select 1 from trade_samples limit 1`,
      `select 1 from state_buckets limit 1`,
      `select 1 from state_symbol_latest limit 1`,
      `select * from refresh_run_symbol_state(${run})`,
    ]) {
      await expect(as('kapitaal_execution', sql)).rejects.toThrow(/permission denied/);
    }
  });

  it('lets the ingest writer run the refresh job, and read-only read everything but not refresh', async () => {
    const rows = await as('kapitaal_ingest_writer', `select rows_read from refresh_run_symbol_state($1, now())`, [run]);
    expect(rows).toHaveLength(1);
    expect(await as('kapitaal_readonly', `select count(*)::int n from state_buckets where run_id = $1`, [run])).toEqual([{ n: 3 }]);
    await expect(as('kapitaal_readonly', `select * from refresh_run_symbol_state(${run})`)).rejects.toThrow(/permission denied/);
  });
});
