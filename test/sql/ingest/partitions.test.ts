// Raw tables are partitioned by run: rows land in their run's partition, a run
// without partitions is refused clearly, and creating partitions is race-safe.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { backendPid, waitUntilBlocked } from '../../support/locks.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const startRun = async (q: { query: TestDatabase['pool']['query'] }, config = { quote: 'USD' }) =>
  (
    await q.query<{ run_id: string; parent_run_id: string | null }>(
      `select run_id, parent_run_id from ingest_run__start($1::jsonb, 'test', 'host')`,
      [JSON.stringify(config)],
    )
  ).rows[0]!;

describe('raw table partitions', () => {
  it('routes a row for run N into run N’s partition of every raw table', async () => {
    await db.rollback(async (c) => {
      const run = await startRun(c);
      await c.query(
        `insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
         values ($1, 'BTC/USD', 'buy', 45285.2, 0.00100000, 'limit', 1, now(), now())`,
        [run.run_id],
      );
      const { rows } = await c.query(`select tableoid::regclass::text as part, qty::text from trade_samples where run_id = $1`, [
        run.run_id,
      ]);
      expect(rows).toEqual([{ part: `trade_samples_r${run.run_id}`, qty: '0.00100000' }]);
      const parts = await c.query(
        `select inhparent::regclass::text as parent from pg_inherits where inhrelid::regclass::text like '%\\_r' || $1`,
        [run.run_id],
      );
      expect(parts.rows.map((r) => r.parent).sort()).toEqual(
        ['l2_snap_metrics', 'l3_queue_metrics', 'ticker_samples', 'trade_samples'],
      );
    });
  });

  it('refuses a row for a run that has no partition, naming the run', async () => {
    await db.rollback(async (c) => {
      await expect(
        c.query(
          `insert into ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
           values (987654, 'BTC/USD', 1, 1, 2, 1, 1.5, 10, now())`,
        ),
      ).rejects.toMatchObject({
        message: expect.stringContaining('no partition of relation "ticker_samples" found for row'),
        detail: expect.stringContaining('(run_id) = (987654)'),
      });
    });
  });

  it('lets two concurrent create-partitions calls for one run both succeed, leaving one partition each', async () => {
    const a = await db.client();
    const b = await db.client();
    // A run row is not required for partitions; use an id no other test uses.
    const runId = 424242;
    await a.query('begin');
    const first = await a.query('select ingest_run__create_partitions($1)', [runId]);
    // b blocks on the advisory lock until a commits, then finds the partitions.
    const bPid = await backendPid(b);
    const second = b.query('select ingest_run__create_partitions($1)', [runId]);
    await waitUntilBlocked(db.pool, bPid);
    await a.query('commit');
    const res = await second;
    expect(first.rowCount).toBe(4);
    expect(res.rows.map((r) => r.ingest_run__create_partitions)).toEqual(
      first.rows.map((r) => r.ingest_run__create_partitions),
    );
    const { rows } = await a.query(`select count(*)::int as n from pg_class where relname like '%\\_r${runId}'`);
    expect(rows[0].n).toBe(4);
  });

  it('rejects a non-positive run id with a clear error', async () => {
    await expect(db.pool.query('select ingest_run__create_partitions(0)')).rejects.toThrow(/run_id must be a positive run id/);
  });
});
