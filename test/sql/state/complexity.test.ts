// O(rows): a refresh reads the new rows and the buckets of its windows, never whole
// partitions. Grow the run's raw tables tenfold with OLD rows (already refreshed) and
// show that the next refresh of an equal batch reads the same rows and touches about the
// same number of buffers. Measured with the transaction-local counters of the cumulative
// statistics system (pg_stat_get_xact_*), taken around the refresh in one transaction.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, refresh, seed, settle, startRun, type Outcome } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('ingest');
});

const SYMBOLS = 10;

/** Bulk rows far before the windows: n per table per symbol, 1 per second from `startSec`. */
async function insertOld(runId: number, perSymbol: number, startSec: number) {
  const args = [runId, SYMBOLS, perSymbol, at(startSec)];
  const gen = `from generate_series(1, $2::int) s, generate_series(0, $3::int - 1) i,
               lateral (select 'OLD' || s || '/USD' as sym, $4::timestamptz + make_interval(secs => i) as t, 100 + (i % 50) * 0.01 as m) x`;
  await db.pool.query(
    `insert into ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
     select $1, sym, m, 1, m + 0.02, 1, m, 1000, t ${gen}`, args);
  await db.pool.query(
    `insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
     select $1, sym, 'buy', m, 0.1, 'limit', i, t, t ${gen}`, args);
  await db.pool.query(
    `insert into l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum, checksum_ok, received_at)
     select $1, sym, 10, false, array[m, m - 0.01, m - 0.02, m - 0.03, m - 0.04], array[1, 2, 3, 4, 5]::numeric[],
            array[m + 0.02, m + 0.03, m + 0.04, m + 0.05, m + 0.06], array[1, 2, 3, 4, 5]::numeric[], 0, true, t ${gen}`, args);
  await db.pool.query(
    `insert into l3_queue_metrics (run_id, symbol, bid_px, bid_qty, bid_orders, ask_px, ask_qty, ask_orders, checksum, checksum_ok, received_at)
     select $1, sym, array[m], array[1]::numeric[], array[1], array[m + 0.02], array[1]::numeric[], array[1], 0, true, t ${gen}`, args);
  await db.pool.query(`analyze ticker_samples, trade_samples, l2_snap_metrics, l3_queue_metrics`);
}

/** New rows inside the windows: SYMBOLS symbols (the same ones each time), `n` samples each. */
async function insertBatch(runId: number, fromSec: number, n: number) {
  for (let s = 1; s <= SYMBOLS; s++) {
    await seed(db.pool, runId, `NEW${s}/USD`, { from: fromSec, to: fromSec + n - 1, mid: (i) => 50 + s + i * 0.01, firstTradeId: fromSec + 1 });
  }
}

interface Measured {
  outcome: Outcome;
  blocks: number;
  rawBlocks: number;
  rawSeqScans: number;
  tuplesReturnedRaw: number;
}

/** One refresh inside a transaction, with the buffers it requested per relation. */
async function measuredRefresh(runId: number, nowSec: number): Promise<Measured> {
  // Same starting point for both measurements: no dead tuples left in the working set.
  await db.pool.query(`vacuum state_buckets, state_symbol_latest, run_symbol_state, state_refresh_watermarks`);
  const c = await db.pool.connect();
  const counters = `
    select coalesce(sum(pg_stat_get_xact_blocks_fetched(c.oid)), 0)::bigint as blocks,
           coalesce(sum(pg_stat_get_xact_blocks_fetched(c.oid)) filter (where r.raw), 0)::bigint as raw_blocks,
           coalesce(sum(pg_stat_get_xact_numscans(c.oid)) filter (where r.raw and c.relkind = 'r'), 0)::bigint as raw_seq,
           coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)) filter (where r.raw and c.relkind = 'r'), 0)::bigint as raw_tup
      from pg_class c
      left join pg_index i on i.indexrelid = c.oid
      cross join lateral (select coalesce(i.indrelid, c.oid) as base) b
      join pg_class bc on bc.oid = b.base
      cross join lateral (select bc.relispartition and bc.relname ~ '^(ticker_samples|trade_samples|l2_snap_metrics|l3_queue_metrics)_r' as raw) r
     where c.relnamespace = 'kapitaal'::regnamespace and c.relkind in ('r', 'i')`;
  try {
    await c.query('begin');
    const before = (await c.query(counters)).rows[0];
    const outcome = await refresh(c, runId, nowSec);
    const after = (await c.query(counters)).rows[0];
    await c.query('commit');
    return {
      outcome,
      blocks: Number(after.blocks) - Number(before.blocks),
      rawBlocks: Number(after.raw_blocks) - Number(before.raw_blocks),
      rawSeqScans: Number(after.raw_seq) - Number(before.raw_seq),
      tuplesReturnedRaw: Number(after.raw_tup) - Number(before.raw_tup),
    };
  } finally {
    c.release();
  }
}

describe('refresh cost is O(new rows + window), not O(table)', () => {
  it('reads the same rows and touches about the same buffers after the raw tables grew tenfold with old rows', async () => {
    const run = await startRun(db.pool);
    const OLD = 400; // per symbol and table: 4 000 rows per table, grown to 40 000
    await insertOld(run, OLD, -86_400);
    await insertBatch(run, 0, 30);
    await settle(db.pool, run);
    await refresh(db.pool, run, 30); // folds in the old rows and the first batch

    await insertBatch(run, 30, 30);
    await settle(db.pool, run);
    const small = await measuredRefresh(run, 60);

    await insertOld(run, OLD * 9, -80_000);
    await settle(db.pool, run);
    const grown = await refresh(db.pool, run, 60); // folds in the 9x old rows
    expect(grown.rows_read).toBe(OLD * 9 * SYMBOLS * 4);

    await insertBatch(run, 60, 30);
    await settle(db.pool, run);
    const large = await measuredRefresh(run, 90);

    const sizes = await db.pool.query(
      `select count(*)::int n from trade_samples where run_id = $1`, [run]);
    console.info('O(rows) evidence', JSON.stringify({
      tradeRowsInRun: sizes.rows[0].n,
      small: { rows: small.outcome.rows_read, blocks: small.blocks, rawBlocks: small.rawBlocks, rawSeqScans: small.rawSeqScans, rawTuples: small.tuplesReturnedRaw },
      large: { rows: large.outcome.rows_read, blocks: large.blocks, rawBlocks: large.rawBlocks, rawSeqScans: large.rawSeqScans, rawTuples: large.tuplesReturnedRaw },
    }));

    const batchRows = SYMBOLS * 30 * 4;
    expect(small.outcome.rows_read).toBe(batchRows);
    expect(large.outcome.rows_read).toBe(batchRows);
    expect(sizes.rows[0].n).toBeGreaterThanOrEqual(10 * OLD * SYMBOLS);
    // No sequential scan of a raw partition, before or after the growth.
    expect(small.rawSeqScans).toBe(0);
    expect(large.rawSeqScans).toBe(0);
    // Buffers: within a small factor (a tenfold table would show ~10x if it were scanned).
    expect(large.rawBlocks).toBeLessThanOrEqual(small.rawBlocks * 1.25 + 8);
    expect(large.blocks).toBeLessThanOrEqual(small.blocks * 1.25 + 8);
    expect(large.blocks).toBeGreaterThan(0);
  });
});
