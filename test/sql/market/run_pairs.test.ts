// run_pairs__sync: the run's universe with exchange limits, and the changes it reports.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

type Q = { query: TestDatabase['pool']['query'] };

const pair = (symbol: string, over: Record<string, unknown> = {}) => ({
  symbol,
  base: symbol.split('/')[0],
  quote: symbol.split('/')[1],
  status: 'online',
  price_precision: 1,
  qty_precision: 8,
  cost_precision: 5,
  price_increment: '0.1',
  qty_increment: '0.00000001',
  qty_min: '0.00010000',
  cost_min: '0.50000',
  in_universe: true,
  liquidity_rank: 1,
  volume_24h_quote: '123456789.123456789',
  ...over,
});

async function startRun(q: Q): Promise<string> {
  const { rows } = await q.query<{ run_id: string }>(
    `select run_id from ingest_run__start('{"test":"run_pairs"}'::jsonb, 'test', 'host')`,
  );
  return rows[0]!.run_id;
}

async function sync(q: Q, runId: string, pairs: unknown[], now = '2026-01-01T00:00:00Z') {
  const { rows } = await q.query<{ symbol: string; change: string }>(
    'select symbol, change from run_pairs__sync($1, $2::jsonb, $3)',
    [runId, JSON.stringify(pairs), now],
  );
  return rows;
}

describe('run_pairs__sync', () => {
  it('stores each pair with its limits exactly as the exchange sent them', async () => {
    await db.rollback(async (c) => {
      const run = await startRun(c);
      expect(await sync(c, run, [pair('BTC/USD'), pair('ETH/USD', { in_universe: false, liquidity_rank: 2 })])).toEqual([
        { symbol: 'BTC/USD', change: 'added' },
        { symbol: 'ETH/USD', change: 'added' },
      ]);
      const { rows } = await c.query(
        `select symbol, status, qty_min::text, cost_min::text, price_increment::text, qty_increment::text,
                price_precision, qty_precision, cost_precision, in_universe, volume_24h_quote::text
           from run_pairs where run_id = $1 order by symbol`,
        [run],
      );
      expect(rows[0]).toEqual({
        symbol: 'BTC/USD', status: 'online', qty_min: '0.00010000', cost_min: '0.50000', price_increment: '0.1',
        qty_increment: '0.00000001', price_precision: 1, qty_precision: 8, cost_precision: 5, in_universe: true,
        volume_24h_quote: '123456789.123456789',
      });
      expect(rows[1]).toMatchObject({ symbol: 'ETH/USD', in_universe: false });
    });
  });

  it('reports status changes and universe moves, keeps the row, and stamps when each changed', async () => {
    await db.rollback(async (c) => {
      const run = await startRun(c);
      await sync(c, run, [pair('BTC/USD'), pair('ETH/USD')]);
      expect(await sync(c, run, [pair('BTC/USD', { status: 'cancel_only', in_universe: false })], '2026-01-01T00:01:00Z'))
        .toEqual([
          { symbol: 'BTC/USD', change: 'status online -> cancel_only' },
          { symbol: 'BTC/USD', change: 'left universe' },
        ]);
      // Unchanged pairs report nothing.
      expect(await sync(c, run, [pair('ETH/USD')], '2026-01-01T00:02:00Z')).toEqual([]);
      const { rows } = await c.query(
        `select symbol, status, in_universe, status_changed_at = '2026-01-01T00:01:00Z' as status_moved,
                first_seen_at = '2026-01-01T00:00:00Z' as first_kept
           from run_pairs where run_id = $1 order by symbol`,
        [run],
      );
      expect(rows).toEqual([
        { symbol: 'BTC/USD', status: 'cancel_only', in_universe: false, status_moved: true, first_kept: true },
        { symbol: 'ETH/USD', status: 'online', in_universe: true, status_moved: false, first_kept: true },
      ]);
    });
  });

  it('refuses a pair with an impossible limit', async () => {
    await db.rollback(async (c) => {
      const run = await startRun(c);
      await expect(sync(c, run, [pair('BTC/USD', { price_increment: '0' })])).rejects.toThrow(/price_increment/);
    });
  });
});
