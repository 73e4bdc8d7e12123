// Ingest runs record their lineage; ending is explicit and final; retention drops
// only old finished runs' partitions.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

type Q = { query: TestDatabase['pool']['query'] };
interface RunRow {
  run_id: string;
  parent_run_id: string | null;
  status: string;
  config_hash: string;
}

const start = async (q: Q, config: object, now = '2026-11-01T00:00:00Z') =>
  (
    await q.query<RunRow>(`select * from ingest_run__start($1::jsonb, 'v-test', 'host-a', 123, $2)`, [
      JSON.stringify(config),
      now,
    ])
  ).rows[0]!;

const end = (q: Q, runId: string, now: string, status = 'ended') =>
  q.query(`select * from ingest_run__end($1, $2, 'test', $3)`, [runId, status, now]);

const partitionsOf = async (q: Q, runId: string) =>
  (
    await q.query<{ relname: string }>(
      `select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where c.relname like '%\\_r' || $1 order by 1`,
      [runId],
    )
  ).rows.map((r) => r.relname);

describe('ingest run lineage', () => {
  it('gives a new run the previous run of the same configuration as parent', async () => {
    await db.rollback(async (c) => {
      const first = await start(c, { quote: 'USD', top: 20 });
      const other = await start(c, { quote: 'EUR', top: 20 });
      // Same configuration with keys in another order: jsonb normalises, so one lineage.
      const second = await start(c, { top: 20, quote: 'USD' });
      expect(first.parent_run_id).toBeNull();
      expect(other.parent_run_id).toBeNull();
      expect(second.parent_run_id).toBe(first.run_id);
      expect(second.config_hash).toBe(first.config_hash);
      expect(first.status).toBe('running');
    });
  });

  it('ends a run once, keeps the first ending, and rejects unknown statuses and runs', async () => {
    await db.rollback(async (c) => {
      const run = await start(c, { quote: 'USD' });
      const ended = (await end(c, run.run_id, '2026-11-01T01:00:00Z')).rows[0];
      expect(ended).toMatchObject({ status: 'ended', end_reason: 'test' });
      const again = (await end(c, run.run_id, '2026-11-02T00:00:00Z', 'failed')).rows[0];
      expect(again.status).toBe('ended');
      expect(again.ended_at.toISOString()).toBe('2026-11-01T01:00:00.000Z');
      const beat = await c.query('select ingest_run__heartbeat($1) as alive', [run.run_id]);
      expect(beat.rows[0].alive).toBeNull();
      await c.query('savepoint s');
      await expect(end(c, run.run_id, '2026-11-02T00:00:00Z', 'paused')).rejects.toThrow(/must be ended, failed or abandoned/);
      await c.query('rollback to savepoint s');
      await expect(end(c, '999999', '2026-11-02T00:00:00Z')).rejects.toThrow(/no ingest run 999999/);
    });
  });
});

describe('retention', () => {
  it('drops the partitions of runs that ended before the cut-off and keeps the rest', async () => {
    await db.rollback(async (c) => {
      const old = await start(c, { r: 1 }, '2026-10-01T00:00:00Z');
      await end(c, old.run_id, '2026-10-02T00:00:00Z');
      const recent = await start(c, { r: 2 }, '2026-11-20T00:00:00Z');
      await end(c, recent.run_id, '2026-11-21T00:00:00Z');
      const running = await start(c, { r: 3 }, '2026-10-01T00:00:00Z'); // old but still running
      await c.query(
        `insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
         select r, 'BTC/USD', 'buy', 1, 1, 'limit', 1, now(), now() from unnest($1::bigint[]) r`,
        [[old.run_id, recent.run_id, running.run_id]],
      );

      const dropped = await c.query<{ run_id: string; dropped: string }>(
        `select * from ingest_runs__drop_expired_partitions(interval '7 days', '2026-11-25T00:00:00Z')`,
      );
      expect(new Set(dropped.rows.map((r) => r.run_id))).toEqual(new Set([old.run_id]));
      expect(dropped.rows.map((r) => r.dropped).sort()).toEqual(
        ['l2_snap_metrics', 'l3_queue_metrics', 'ticker_samples', 'trade_samples'].map((t) => `${t}_r${old.run_id}`),
      );
      expect(await partitionsOf(c, old.run_id)).toEqual([]);
      expect(await partitionsOf(c, recent.run_id)).toHaveLength(4);
      expect(await partitionsOf(c, running.run_id)).toHaveLength(4);
      const left = await c.query('select run_id::text from trade_samples order by run_id');
      expect(left.rows.map((r) => r.run_id)).toEqual([recent.run_id, running.run_id]);
      const runRow = await c.query('select partitions_dropped_at from ingest_runs where run_id = $1', [old.run_id]);
      expect(runRow.rows[0].partitions_dropped_at.toISOString()).toBe('2026-11-25T00:00:00.000Z');
      // A second pass finds nothing more to drop.
      const again = await c.query(`select * from ingest_runs__drop_expired_partitions(interval '7 days', '2026-11-25T00:00:00Z')`);
      expect(again.rowCount).toBe(0);
    });
  });
});
