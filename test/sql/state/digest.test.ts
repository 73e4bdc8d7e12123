// run_symbol_state__digest: changes whenever any state column except generation_id and
// refreshed_at changes (every column of the table, looked up in the catalog, so a column added
// later and forgotten in the digest fails here), and does not depend on the session's TimeZone.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { refresh, seed, settle, startRun } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

describe('run_symbol_state__digest', () => {
  it('changes with every column but generation_id and refreshed_at, and not with the session time zone', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 120, mid: (i) => 100 + i * 0.01 });
    await seed(db.pool, run, 'BBB/USD', { from: 0, to: 120, mid: (i) => 10 + i * 0.001 });
    await settle(db.pool, run);
    await refresh(db.pool, run, 121);
    const cols = await db.pool.query<{ name: string; type: string; notnull: boolean }>(
      `select attname as name, format_type(atttypid, atttypmod) as type, attnotnull as notnull
         from pg_attribute where attrelid = 'kapitaal.run_symbol_state'::regclass and attnum > 0 and not attisdropped
        order by attnum`,
    );
    expect(cols.rows.length).toBeGreaterThan(40);
    const c = await db.pool.connect();
    try {
      const digest = async () => (await c.query(`select run_symbol_state__digest($1) d`, [run])).rows[0].d as string;
      const base = await digest();
      const changed: string[] = [];
      for (const col of cols.rows) {
        const id = `"${col.name}"`;
        // a different value of the column's type that passes its check constraints
        const expr =
          col.name === 'symbol' ? `${id} || 'X'`
          : col.name === 'book_source' ? `case when ${id} = 'l2' then 'ticker' else 'l2' end`
          : /^regime(_indicated|_candidate)?$/.test(col.name) ? `case when ${id} = 'CHAOS' then 'RANGE' else 'CHAOS' end`
          : col.type === 'text' ? `coalesce(${id}, '') || 'x'`
          : col.type === 'boolean' ? `not coalesce(${id}, false)`
          : col.type === 'timestamp with time zone' ? `coalesce(${id}, now()) + interval '1 microsecond'`
          : col.type === 'numeric' ? `coalesce(${id}, 0) + 0.0001`
          : `coalesce(${id}, 0) + 1`;
        await c.query('begin');
        await c.query(`update run_symbol_state set ${id} = ${expr} where run_id = $1 and symbol = 'AAA/USD'`, [run]);
        if ((await digest()) !== base) changed.push(col.name);
        await c.query('rollback');
      }
      const all = cols.rows.map((r) => r.name);
      expect(changed).toEqual(all.filter((n) => n !== 'generation_id' && n !== 'refreshed_at'));

      // numeric scale is part of the state (1.5 vs 1.50 as synced), for every numeric column that
      // holds a value (the digest hashes values, and numeric hashing ignores trailing zeros)
      const numeric = cols.rows.filter((r) => r.type === 'numeric').map((r) => r.name);
      const valued: string[] = [];
      const rescaled: string[] = [];
      for (const name of numeric) {
        const v = await c.query(`select "${name}" is not null as v from run_symbol_state where run_id = $1 and symbol = 'AAA/USD'`, [run]);
        if (!v.rows[0].v) continue;
        valued.push(name);
        await c.query('begin');
        await c.query(`update run_symbol_state set "${name}" = "${name}"::numeric(40, 20) where run_id = $1 and symbol = 'AAA/USD'`, [run]);
        if ((await digest()) !== base) rescaled.push(name);
        await c.query('rollback');
      }
      expect(rescaled).toEqual(valued);
      expect(rescaled.length).toBeGreaterThan(15);

      await c.query(`set timezone = 'Asia/Kolkata'`);
      await c.query(`set datestyle = 'SQL, DMY'`);
      expect(await digest()).toBe(base);
    } finally {
      await c.query('reset timezone; reset datestyle').catch(() => {});
      c.release();
    }
  });
});
