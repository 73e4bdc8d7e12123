// ingest_epoch__publish: epochs count each committed raw row exactly once (late commits included),
// per-symbol snapshots carry counts, newest data per channel, book validity and freshness.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

type Q = { query: pg.Pool['query'] };

async function startRun(config: object): Promise<string> {
  const { rows } = await db.pool.query<{ run_id: string }>(
    `select run_id from ingest_run__start($1::jsonb, 'test', 'host')`,
    [JSON.stringify(config)],
  );
  return rows[0]!.run_id;
}

async function trades(q: Q, run: string, symbol: string, ids: number[], at = '2026-01-01T00:00:00Z') {
  await q.query(
    `insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
     select $1, $2, 'buy', 100.5, 0.10000000, 'limit', id, $4, $4 from unnest($3::bigint[]) id`,
    [run, symbol, ids, at],
  );
}

async function l2(q: Q, run: string, symbol: string, ok: boolean, updates: number, at: string) {
  await q.query(
    `insert into l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum,
                                  checksum_ok, updates_applied, received_at)
     values ($1, $2, 10, false, '{100.1}', '{1.0}', '{100.2}', '{2.0}', 123, $3, $4, $5)`,
    [run, symbol, ok, updates, at],
  );
}

/**
 * Waits until every transaction committed so far is below the cluster's xmin. Test files run in
 * parallel on one cluster, and their open transactions hold the horizon back (as any long
 * transaction would in production): epochs then count our rows a little later, never wrongly.
 */
async function settle() {
  const { rows } = await db.pool.query<{ x: string }>('select pg_snapshot_xmax(pg_current_snapshot())::text as x');
  const target = rows[0]!.x;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await db.pool.query<{ ok: boolean }>('select kapitaal.raw_txid_horizon() >= $1::xid8 as ok', [target]);
    if (r.rows[0]!.ok) return;
    if (Date.now() > deadline) throw new Error('horizon never passed our commits');
    await new Promise((res) => setTimeout(res, 20));
  }
}

async function publish(run: string, now = '2026-01-01T00:00:05Z', within = '10 seconds', wait = true) {
  if (wait) await settle();
  const { rows } = await db.pool.query(
    `select epoch::int, trade_rows::int, l2_rows::int, trade_max_seq is not null as has_seq, symbols,
            symbols_book_valid, symbols_fresh
       from ingest_epoch__publish($1, $2, $3)`,
    [run, now, within],
  );
  return rows[0]!;
}

async function snapshot(run: string, epoch: number, symbol: string) {
  const { rows } = await db.pool.query(
    `select trade_rows::int, l2_rows::int, l2_updates::int, last_trade_at, book_valid, fresh, data_age::text,
            in_universe
       from ingest_snapshots where run_id = $1 and epoch = $2 and symbol = $3`,
    [run, epoch, symbol],
  );
  return rows[0];
}

describe('ingest_epoch__publish', () => {
  it('numbers epochs 1, 2, … and keeps cumulative counts per table and symbol', async () => {
    const run = await startRun({ test: 'epochs-cumulative' });
    expect(await publish(run)).toMatchObject({ epoch: 1, trade_rows: 0, symbols: 0 });
    await trades(db.pool, run, 'BTC/USD', [1, 2, 3]);
    await trades(db.pool, run, 'ETH/USD', [1]);
    expect(await publish(run)).toMatchObject({ epoch: 2, trade_rows: 4, has_seq: true, symbols: 2 });
    await trades(db.pool, run, 'BTC/USD', [4, 5], '2026-01-01T00:00:03Z');
    expect(await publish(run)).toMatchObject({ epoch: 3, trade_rows: 6, symbols: 2 });
    expect(await snapshot(run, 3, 'BTC/USD')).toMatchObject({ trade_rows: 5, last_trade_at: new Date('2026-01-01T00:00:03Z') });
    // A symbol without new rows is carried forward unchanged.
    expect(await snapshot(run, 3, 'ETH/USD')).toMatchObject({ trade_rows: 1 });
    // Nothing new: same totals, next number.
    expect(await publish(run)).toMatchObject({ epoch: 4, trade_rows: 6 });
  });

  it('never skips a row whose transaction commits after a later one, and never counts one twice', async () => {
    const run = await startRun({ test: 'epochs-late-commit' });
    const slow = await db.client();
    const fast = await db.client();
    await slow.query('begin');
    await trades(slow, run, 'BTC/USD', [1, 2]); // takes the lower txid, commits last
    await fast.query('begin');
    await trades(fast, run, 'BTC/USD', [3]);
    await fast.query('commit');
    // The slow transaction is still open: nothing at or above its txid may be counted yet.
    expect(await publish(run, undefined, undefined, false)).toMatchObject({ epoch: 1, trade_rows: 0 });
    await slow.query('commit');
    expect(await publish(run)).toMatchObject({ epoch: 2, trade_rows: 3 });
    expect(await publish(run)).toMatchObject({ epoch: 3, trade_rows: 3 });
    const { rows } = await db.pool.query(`select count(*)::int as n from trade_samples where run_id = $1`, [run]);
    expect(rows[0]!.n).toBe(3);
  });

  it('carries book validity from the newest L2 sample and sums folded updates', async () => {
    const run = await startRun({ test: 'epochs-book' });
    await l2(db.pool, run, 'BTC/USD', true, 1, '2026-01-01T00:00:01Z');
    await l2(db.pool, run, 'BTC/USD', false, 3, '2026-01-01T00:00:02Z');
    expect(await publish(run)).toMatchObject({ epoch: 1, l2_rows: 2, symbols_book_valid: 0 });
    expect(await snapshot(run, 1, 'BTC/USD')).toMatchObject({ l2_rows: 2, l2_updates: 4, book_valid: false });
    await publish(run);
    expect(await snapshot(run, 2, 'BTC/USD')).toMatchObject({ book_valid: false });
    await l2(db.pool, run, 'BTC/USD', true, 1, '2026-01-01T00:00:03Z');
    expect(await publish(run)).toMatchObject({ epoch: 3, symbols_book_valid: 1 });
    expect(await snapshot(run, 3, 'BTC/USD')).toMatchObject({ l2_updates: 5, book_valid: true });
  });

  it('says how fresh each symbol is, against the limit the caller gives', async () => {
    const run = await startRun({ test: 'epochs-fresh' });
    await trades(db.pool, run, 'BTC/USD', [1], '2026-01-01T00:00:00Z');
    await trades(db.pool, run, 'ETH/USD', [1], '2026-01-01T00:00:20Z');
    expect(await publish(run, '2026-01-01T00:00:25Z', '10 seconds')).toMatchObject({ symbols: 2, symbols_fresh: 1 });
    expect(await snapshot(run, 1, 'BTC/USD')).toMatchObject({ fresh: false, data_age: '00:00:25' });
    expect(await snapshot(run, 1, 'ETH/USD')).toMatchObject({ fresh: true, data_age: '00:00:05' });
  });

  it('lists universe pairs that have no data yet, as not fresh', async () => {
    const run = await startRun({ test: 'epochs-universe' });
    await db.pool.query(
      `select run_pairs__sync($1, $2::jsonb)`,
      [run, JSON.stringify([{ symbol: 'XRP/USD', base: 'XRP', quote: 'USD', status: 'online', price_precision: 5,
        qty_precision: 8, cost_precision: 5, price_increment: '0.00001', qty_increment: '0.00000001', qty_min: '10',
        cost_min: '0.5', in_universe: true }])],
    );
    await publish(run);
    expect(await snapshot(run, 1, 'XRP/USD')).toMatchObject({ in_universe: true, fresh: false, trade_rows: 0, data_age: null });
  });

  it('refuses an unknown run', async () => {
    await expect(db.pool.query(`select ingest_epoch__publish(987654321)`)).rejects.toThrow(/no ingest run 987654321/);
  });
});
