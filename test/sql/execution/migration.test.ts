// The execution SQL is idempotent: applying it again (as graphile-migrate watch does) changes nothing and keeps
// what operators changed in the policy tables.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { areaSql, includedSqlFiles, sqlFilesOnDisk } from '../../support/sql-files.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const executionSql = () => areaSql('execution');

describe('execution migration', () => {
  it('is committed whole: every file under sql/execution is included by a migration', () => {
    expect(includedSqlFiles('execution').sort()).toEqual(sqlFilesOnDisk('execution'));
  });

  it('can be applied twice and keeps operator changes to policies', async () => {
    await db.rollback(async (c) => {
      await c.query(`update capital_policy set mode = 'compounding', fixed_equity = 500 where account = 'default'`);
      await c.query(`update exit_policy set stop_loss_pct = 3 where strategy = 'default'`);
      const before = (await c.query(`select instance_id from execution_instance`)).rows;
      await c.query(executionSql());
      expect((await c.query(`select mode, fixed_equity from capital_policy where account = 'default'`)).rows[0]).toEqual({
        mode: 'compounding', fixed_equity: '500',
      });
      expect((await c.query(`select stop_loss_pct from exit_policy where strategy = 'default'`)).rows[0].stop_loss_pct).toBe('3');
      expect((await c.query(`select instance_id from execution_instance`)).rows).toEqual(before);
      expect((await c.query(`select count(*)::int as n from order_status_transitions`)).rows[0].n).toBe(16);
    });
  });

  it('comments every execution table, view and function', async () => {
    const { rows } = await db.pool.query(
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'kapitaal' and c.relkind in ('r', 'v')
          and c.relname in ('orders', 'order_events', 'order_statuses', 'order_status_transitions', 'execution_instance',
                            'fills', 'positions', 'capital_policy', 'capital_snapshots', 'exit_policy', 'open_positions',
                            'order_status', 'fills_ledger')
          and obj_description(c.oid, 'pg_class') is null
       union all
       select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'kapitaal'
          and (p.proname like 'order\\_\\_%' or p.proname like 'position%' or p.proname like 'capital\\_\\_%'
               or p.proname like 'open\\_positions%' or p.proname = 'tg__append_only')
          and obj_description(p.oid, 'pg_proc') is null`,
    );
    expect(rows).toEqual([]);
  });
});
