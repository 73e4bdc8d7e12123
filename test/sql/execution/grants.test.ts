// Least privilege on the execution objects: execution writes through the functions only, read-only reads,
// the ingest writer sees nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { cid, fill, intent, openEntry } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const as = (role: string, fn: (c: import('pg').PoolClient) => Promise<unknown>) =>
  db.rollback(async (c) => {
    await c.query(`set local role ${role}`);
    return fn(c);
  });

describe('execution grants', () => {
  it('lets kapitaal_execution run the whole order lifecycle through the functions', async () => {
    await as('kapitaal_execution', async (c) => {
      const o = await openEntry(c, { clientOrderId: cid('g') });
      const f = await fill(c, o, 'G-1', '100', '1', '0.4');
      await c.query(`select * from position__exit_decision($1, 99, 'RANGE')`, [f.position_id]);
      await c.query(`select * from capital__snapshot('{"BTC/USD": 100}'::jsonb)`);
      await c.query(`select * from capital__position_size('BTC/USD', 100)`);
      await c.query(`select * from positions__verify()`);
      await c.query(`select * from open_positions, order_status, fills_ledger`);
    });
  });

  it('does not let kapitaal_execution write the tables directly', async () => {
    for (const sql of [
      `insert into orders (client_order_id, run_id, symbol, side, order_type, reference_price, qty, strategy, purpose, reason, created_at, updated_at)
       values ('x', 1, 'B', 'buy', 'market', 1, 1, 's', 'entry', 'r', now(), now())`,
      `update orders set status = 'filled'`,
      `update positions set realised_pnl = 0`,
      `delete from fills`,
      `update capital_policy set max_total_exposure_pct = 100`,
    ]) {
      await expect(as('kapitaal_execution', (c) => c.query(sql))).rejects.toThrow(/permission denied/);
    }
  });

  it('lets kapitaal_readonly read everything and call no writer', async () => {
    await as('kapitaal_readonly', async (c) => {
      await c.query(`select * from orders, order_events, fills, positions, capital_snapshots, capital_policy, exit_policy limit 1`);
      await c.query(`select * from open_positions, order_status, fills_ledger limit 1`);
      await c.query(`select * from order__conform_to_limits('buy', 1, 1, 0.1, 0.1, 0, 0)`);
    });
    await expect(as('kapitaal_readonly', (c) => intent(c))).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_readonly', (c) => c.query(`select * from order__transition(1, 'open')`))).rejects.toThrow(/permission denied/);
  });

  it('gives kapitaal_ingest_writer nothing here', async () => {
    await expect(as('kapitaal_ingest_writer', (c) => c.query(`select * from orders`))).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_ingest_writer', (c) => c.query(`select * from fills_ledger`))).rejects.toThrow(/permission denied/);
    await expect(as('kapitaal_ingest_writer', (c) => intent(c))).rejects.toThrow(/permission denied/);
  });
});
