// Stale runs are abandoned on start-up; write batches are idempotent; gaps are recorded plainly.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

type Q = { query: TestDatabase['pool']['query'] };
const start = async (q: Q, config: object, now: string) =>
  (await q.query<{ run_id: string }>(`select run_id from ingest_run__start($1::jsonb, 'test', 'host', 1, $2)`, [
    JSON.stringify(config), now,
  ])).rows[0]!.run_id;

describe('ingest_runs__abandon_stale', () => {
  it('abandons only running runs of the same configuration whose heartbeat is stale', async () => {
    await db.rollback(async (c) => {
      const cfg = { quote: ['USD'], test: 'abandon' };
      const dead = await start(c, cfg, '2026-01-01T00:00:00Z');
      const alive = await start(c, cfg, '2026-01-01T00:00:00Z');
      const other = await start(c, { quote: ['EUR'], test: 'abandon' }, '2026-01-01T00:00:00Z');
      await c.query(`select ingest_run__heartbeat($1, '2026-01-01T00:00:55Z')`, [alive]);
      const { rows } = await c.query<{ run_id: string; status: string; end_reason: string }>(
        `select run_id, status, end_reason from ingest_runs__abandon_stale($1::jsonb, '30 seconds', '2026-01-01T00:01:00Z')`,
        [JSON.stringify(cfg)],
      );
      expect(rows.map((r) => [r.run_id, r.status])).toEqual([[dead, 'abandoned']]);
      expect(rows[0]!.end_reason).toMatch(/heartbeat older than/);
      const st = await c.query(`select run_id, status from ingest_runs where run_id = any($1) order by run_id`, [[dead, alive, other]]);
      expect(st.rows.map((r) => r.status)).toEqual(['abandoned', 'running', 'running']);
    });
  });

  it('refuses a non-positive staleness', async () => {
    await db.rollback(async (c) => {
      await expect(c.query(`select * from ingest_runs__abandon_stale('{}'::jsonb, '0 seconds')`)).rejects.toThrow(/positive/);
    });
  });
});

describe('ingest_write_batch__record and ingest_gap__record', () => {
  it('claims a batch number once; a retry of the same batch gets null', async () => {
    await db.rollback(async (c) => {
      const q = `select ingest_write_batch__record(1, 7, 1, 2, 3, 4) as claimed`;
      expect((await c.query(q)).rows[0]!.claimed).toBe(true);
      expect((await c.query(q)).rows[0]!.claimed).toBeNull();
    });
  });

  it('records a gap with its range and refuses a reversed range', async () => {
    await db.rollback(async (c) => {
      const { rows } = await c.query(
        `select ingest_gap__record(1, 'trade_samples', '2026-01-01T00:00:00Z', '2026-01-01T00:00:09Z', 42, 'buffer full') as id`,
      );
      expect(Number(rows[0]!.id)).toBeGreaterThan(0);
      await expect(
        c.query(`select ingest_gap__record(1, 'trade_samples', '2026-01-01T00:00:09Z', '2026-01-01T00:00:00Z', 1, 'x')`),
      ).rejects.toThrow(/check constraint/);
    });
  });
});
