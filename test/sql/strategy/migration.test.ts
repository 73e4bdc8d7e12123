// The strategy SQL is idempotent: applying it again (as graphile-migrate watch does) keeps what
// operators changed in the policy tables and the grants; every object is commented.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { areaSql, includedSqlFiles, sqlFilesOnDisk } from '../../support/sql-files.ts';
import { NOW, newRun, putState, trendUp } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const strategySql = () => areaSql('strategy');

describe('strategy migration', () => {
  it('is committed whole: every file under sql/strategy is included by a migration', () => {
    expect(includedSqlFiles('strategy').sort()).toEqual(sqlFilesOnDisk('strategy'));
  });

  it('can be applied twice, keeps operator changes and grants', async () => {
    await db.rollback(async (c) => {
      await c.query(`update strategy_policy set continuation = 0.7 where strategy = 'momentum'`);
      await c.query(`update strategy_regime_eligibility set signal_factor = 0.25 where regime = 'HIGH_VOLATILITY' and strategy = 'momentum'`);
      const run = newRun();
      await putState(c, run, 'BBB/USD', trendUp);
      await c.query(`select * from evaluation_rankings__record(1, $1, $2::timestamptz)`, [run, NOW]);
      await c.query(strategySql());
      expect((await c.query(`select continuation from strategy_policy where strategy = 'momentum'`)).rows[0].continuation).toBe('0.7');
      expect((await c.query(`select signal_factor from strategy_regime_eligibility where regime = 'HIGH_VOLATILITY' and strategy = 'momentum'`)).rows[0].signal_factor).toBe('0.25');
      expect((await c.query(`select count(*)::int n from strategy_regime_eligibility`)).rows[0].n).toBe(15);
      expect((await c.query(`select count(*)::int n from evaluation_rankings where evaluation_id = 1`)).rows[0].n).toBe(3);
      await c.query(`set local role kapitaal_execution`);
      const top = await c.query(`select outcome, strategy, net_edge_bps from strategy__select_top($1, $2::timestamptz)`, [run, NOW]);
      // continuation 0.7: move 0.7 x 400 x 0.8 = 224, gross 222, net 142.
      expect(top.rows).toEqual([{ outcome: 'selected', strategy: 'momentum', net_edge_bps: '142.000000' }]);
      expect((await c.query(`select count(*)::int n from evaluation_rankings__record(2, $1, $2::timestamptz)`, [run, NOW])).rows[0].n).toBe(3);
    });
  });

  it('comments every strategy table, column and function', async () => {
    const tables = ['strategy_policy', 'strategy_regime_eligibility', 'evaluation_rankings'];
    const { rows } = await db.pool.query(
      `select c.relname as name from pg_class c
        where c.relnamespace = 'kapitaal'::regnamespace and c.relname = any($1) and obj_description(c.oid, 'pg_class') is null`,
      [tables],
    );
    expect(rows).toEqual([]);
    const fns = await db.pool.query(
      `select p.proname from pg_proc p where p.pronamespace = 'kapitaal'::regnamespace
          and (p.proname like 'strategy\\_\\_%' or p.proname like 'evaluation\\_rankings\\_\\_%')
          and obj_description(p.oid, 'pg_proc') is null`,
    );
    expect(fns.rows).toEqual([]);
    const nfns = await db.pool.query(
      `select count(*)::int n from pg_proc p where p.pronamespace = 'kapitaal'::regnamespace
          and (p.proname like 'strategy\\_\\_%' or p.proname like 'evaluation\\_rankings\\_\\_%')`,
    );
    expect(nfns.rows[0].n).toBe(4);
    // Columns whose meaning is not obvious from the name carry a comment.
    const uncommented = await db.pool.query(
      `select a.attname from pg_attribute a
        where a.attrelid = 'kapitaal.strategy_policy'::regclass and a.attnum > 0 and not a.attisdropped
          and col_description(a.attrelid, a.attnum) is null
          and a.attname not in ('strategy', 'description', 'updated_at')`,
    );
    expect(uncommented.rows).toEqual([]);
  });
});
