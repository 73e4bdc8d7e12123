// refresh_run_symbol_state: generations, the outcome, empty and ended runs, serialised
// concurrent refreshes, and equality with the from-scratch recomputation.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { backendPid, waitUntilBlocked } from '../../support/locks.ts';
import { at, oracleDiff, refresh, seed, settle, startRun, stateRow } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const wave = (i: number) => 100 + Math.sin(i / 7) * 0.3 + i * 0.001;

describe('refresh_run_symbol_state', () => {
  it('records a generation for an empty run and returns a zero outcome', async () => {
    const run = await startRun(db.pool);
    const o = await refresh(db.pool, run, 10);
    expect(o).toMatchObject({ run_id: run, rows_read: 0, symbols: 0, symbols_changed: 0, ticker_rows: 0 });
    expect(o.generation_id).toBeGreaterThan(0);
    const { rows } = await db.pool.query(`select symbols, state_digest from state_generations where generation_id = $1`, [
      o.generation_id,
    ]);
    expect(rows).toEqual([{ symbols: 0, state_digest: 'd41d8cd98f00b204e9800998ecf8427e' }]); // md5('')
  });

  it('folds every committed row in once, stamps one generation on all rows and equals the recomputation', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 299, mid: wave });
    await seed(db.pool, run, 'BBB/USD', { from: 100, to: 299, step: 2, mid: (i) => 20 + i * 0.01 });
    await settle(db.pool, run);
    const o = await refresh(db.pool, run, 300);
    expect(o).toMatchObject({ ticker_rows: 400, trade_rows: 400, l2_rows: 400, l3_rows: 400, rows_read: 1600 });
    expect(o).toMatchObject({ symbols: 2, symbols_changed: 2 });
    expect(await oracleDiff(db.pool, run, 300)).toEqual({ onlyIncremental: [], onlyRecomputed: [] });

    const gens = await db.pool.query(`select distinct generation_id from run_symbol_state where run_id = $1`, [run]);
    expect(gens.rows.map((r) => Number(r.generation_id))).toEqual([o.generation_id]);
    const digest = await db.pool.query(`select run_symbol_state__digest($1) d`, [run]);
    expect(digest.rows[0].d).toBe(o.state_digest);

    // Nothing new: nothing read, the same metrics, a new generation on every row (and the
    // regime hysteresis counted one more refresh, so the digest moved).
    const metrics = `select array_agg(run_symbol_state__metrics(s) order by symbol)::text m from run_symbol_state s where run_id = $1`;
    const before = (await db.pool.query(metrics, [run])).rows[0].m;
    const o2 = await refresh(db.pool, run, 300);
    expect(o2).toMatchObject({ rows_read: 0, symbols: 2, symbols_changed: 0 });
    expect((await db.pool.query(metrics, [run])).rows[0].m).toBe(before);
    expect(o2.generation_id).toBeGreaterThan(o.generation_id);
    expect(o2.watermark_from).toBe(o.watermark_to);
    const gens2 = await db.pool.query(`select distinct generation_id from run_symbol_state where run_id = $1`, [run]);
    expect(gens2.rows.map((r) => Number(r.generation_id))).toEqual([o2.generation_id]);

    const aaa = await stateRow(db.pool, run, 'AAA/USD');
    expect(aaa).toMatchObject({ book_source: 'l2', book_valid: true, l3_valid: true, trades_5m: 290, trades_1m: 50, price_buckets_5m: 29 });
    // 5-minute window at 300 s = buckets 10 s … 300 s: samples 10..299 (290), 1-minute window 250..299.
    expect(aaa.last_l2_at.toISOString()).toBe(at(299));
  });

  it('equals the recomputation after batches refreshed one by one while the windows slide', async () => {
    const run = await startRun(db.pool);
    let total = 0;
    for (let k = 0; k < 6; k++) {
      await seed(db.pool, run, 'AAA/USD', { from: k * 100, to: k * 100 + 99, mid: wave, firstTradeId: k * 100 + 1 });
      await seed(db.pool, run, 'CCC/USD', { from: k * 100 + 50, to: k * 100 + 99, mid: (i) => 5 + i * 0.002, firstTradeId: k * 100 + 1 });
      await settle(db.pool, run);
      const o = await refresh(db.pool, run, k * 100 + 100);
      total += o.rows_read;
      expect(await oracleDiff(db.pool, run, k * 100 + 100)).toEqual({ onlyIncremental: [], onlyRecomputed: [] });
    }
    expect(total).toBe(6 * 150 * 4);
    // Buckets older than the 5-minute window were deleted: 30 buckets at most per symbol.
    const { rows } = await db.pool.query(`select symbol, count(*)::int n from state_buckets where run_id = $1 group by 1 order by 1`, [run]);
    expect(rows.every((r) => r.n <= 30)).toBe(true);
  });

  it('still refreshes an ingest run that has ended (its last rows are folded in)', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 59, mid: wave });
    await db.pool.query(`select ingest_run__end($1, 'ended', 'test', $2::timestamptz)`, [run, at(60)]);
    await settle(db.pool, run);
    const o = await refresh(db.pool, run, 61);
    expect(o).toMatchObject({ rows_read: 240, symbols: 1 });
    expect(await oracleDiff(db.pool, run, 61)).toEqual({ onlyIncremental: [], onlyRecomputed: [] });
  });

  it('shows the last generation and the rows waiting above the watermark in engine_status', async () => {
    const run = await startRun(db.pool);
    const o = await refresh(db.pool, run, 10);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 9, mid: wave });
    const { rows } = await db.pool.query(
      `select status, last_generation_id, symbols, pending_rows::int from engine_status where run_id = $1`,
      [run],
    );
    expect(rows).toEqual([{ status: 'running', last_generation_id: String(o.generation_id), symbols: 0, pending_rows: 40 }]);
    await settle(db.pool, run);
    await refresh(db.pool, run, 11);
    const after = await db.pool.query(`select pending_rows::int, symbols from engine_status where run_id = $1`, [run]);
    expect(after.rows).toEqual([{ pending_rows: 0, symbols: 1 }]);
  });

  it('never moves the clock back: an earlier p_now is clamped to the previous refresh time', async () => {
    const run = await startRun(db.pool);
    await refresh(db.pool, run, 300);
    const o = await refresh(db.pool, run, 200);
    expect(o.refreshed_at.toISOString()).toBe(at(300));
  });

  it('refuses an unknown run and a REPEATABLE READ transaction', async () => {
    await expect(db.pool.query(`select * from refresh_run_symbol_state(987654321)`)).rejects.toMatchObject({ code: 'P0002' });
    const run = await startRun(db.pool);
    await db.rollback(async (c) => {
      await c.query('set transaction isolation level repeatable read');
      await expect(c.query(`select * from refresh_run_symbol_state($1)`, [run])).rejects.toThrow(/READ COMMITTED/);
    });
  });

  it('serialises concurrent refreshes of one run: the second waits and starts at the first one’s watermark', async () => {
    const run = await startRun(db.pool);
    await seed(db.pool, run, 'AAA/USD', { from: 0, to: 99, mid: wave });
    await settle(db.pool, run);
    const a = await db.client();
    const b = await db.client();
    await a.query('begin');
    const first = await refresh(a, run, 100);
    const bPid = await backendPid(b);
    const second = refresh(b, run, 101);
    await waitUntilBlocked(db.pool, bPid);
    // Rows committed while the first refresh is still open belong to the second one.
    await seed(db.pool, run, 'AAA/USD', { from: 100, to: 109, mid: wave, firstTradeId: 101 });
    await a.query('commit');
    const o2 = await second;
    expect(first.rows_read).toBe(400);
    expect(o2.watermark_from).toBe(first.watermark_to);
    expect(o2.generation_id).toBeGreaterThan(first.generation_id);
    await settle(db.pool, run);
    const o3 = await refresh(db.pool, run, 110);
    expect(first.rows_read + o2.rows_read + o3.rows_read).toBe(440);
    expect(await oracleDiff(db.pool, run, 110)).toEqual({ onlyIncremental: [], onlyRecomputed: [] });
    const { rows } = await db.pool.query(
      `select generation_id from state_generations where run_id = $1 order by generation_id`,
      [run],
    );
    expect(rows.map((r) => Number(r.generation_id))).toEqual([first.generation_id, o2.generation_id, o3.generation_id]);
  });
});
