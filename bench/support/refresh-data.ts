// The data and machinery of the refresh benchmarks (bench/refresh.ts, bench/refresh-floor.ts): the
// synthetic market data of one collector flush per refresh, the history loader, and the clocks.
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { quantile } from './report.ts';

export const SYMBOLS = 500;
// Mix of one collector flush of 10 000 rows (per symbol: 4 ticker, 8 trades, 6 L2, 2 L3).
export const PER_SYMBOL = { ticker: 4, trades: 8, l2: 6, l3: 2 } as const;
export const NEW_ROWS = SYMBOLS * (PER_SYMBOL.ticker + PER_SYMBOL.trades + PER_SYMBOL.l2 + PER_SYMBOL.l3);
export const CADENCE_S = 2;
export const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Inserts `perSymbol` rows per symbol and table spread over [fromS, fromS + spanS) seconds after T0. */
export async function insertRows(pool: pg.Pool, run: number, fromS: number, spanS: number, per: { ticker: number; trades: number; l2: number; l3: number }, tradeIdBase: number) {
  const c = await pool.connect();
  try {
    await c.query('begin');
    const gen = (n: number) => `from generate_series(1, ${SYMBOLS}) s, generate_series(0, ${n} - 1) k,
      lateral (select 'S' || s || '/USD' as sym,
                      to_timestamp(${T0 / 1000} + ${fromS} + ${spanS} * (k + (s % 7) / 7.0) / ${n}) as t) x,
      lateral (select round((10 + s + sin(extract(epoch from x.t) / 30 + s) * 0.05)::numeric, 6) as m) y`;
    if (per.ticker)
      await c.query(`insert into ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
        select $1, sym, m - 0.001, 3, m + 0.001, 3, m, 1000, t ${gen(per.ticker)}`, [run]);
    if (per.trades)
      await c.query(`insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
        select $1, sym, case when k % 2 = 0 then 'buy' else 'sell' end, m, 0.5, 'market', $2::bigint + k, t, t ${gen(per.trades)}`, [run, tradeIdBase]);
    if (per.l2)
      await c.query(`insert into l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum, checksum_ok, received_at)
        select $1, sym, 10, false, array[m - 0.001, m - 0.002, m - 0.003, m - 0.004, m - 0.005], '{5,6,7,8,9}'::numeric[],
               array[m + 0.001, m + 0.002, m + 0.003, m + 0.004, m + 0.005], '{5,6,7,8,9}'::numeric[], 0, true, t ${gen(per.l2)}`, [run]);
    if (per.l3)
      await c.query(`insert into l3_queue_metrics (run_id, symbol, bid_px, bid_qty, bid_orders, ask_px, ask_qty, ask_orders, touch_adds, touch_deletes, checksum, checksum_ok, received_at)
        select $1, sym, array[m - 0.001], '{5}'::numeric[], '{3}'::int[], array[m + 0.001], '{5}'::numeric[], '{4}'::int[], 1, 1, 0, true, t ${gen(per.l3)}`, [run]);
    await c.query('commit');
  } catch (e) {
    await c.query('rollback');
    throw e;
  } finally {
    c.release();
  }
}

export async function rawRows(pool: pg.Pool, run: number): Promise<number> {
  const { rows } = await pool.query(
    `select (select count(*) from ticker_samples where run_id = $1) + (select count(*) from trade_samples where run_id = $1)
          + (select count(*) from l2_snap_metrics where run_id = $1) + (select count(*) from l3_queue_metrics where run_id = $1) as n`,
    [run],
  );
  return Number(rows[0].n);
}

/** Waits until every transaction so far has finished for the snapshot xmin (nothing else writes). */
export async function settle(pool: pg.Pool) {
  const { rows } = await pool.query(`select pg_current_xact_id()::text as x`);
  for (;;) {
    const r = await pool.query(`select pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8 as ok`, [rows[0].x]);
    if (r.rows[0].ok) return;
    await new Promise((res) => setTimeout(res, 5));
  }
}

/**
 * Bulk history far before the windows, one transaction per ~1 M rows, with the same table mix,
 * generated symbol by symbol (lateral) so index insertion stays local. The bench then marks it
 * as already refreshed (advances the watermarks): the state a long-running run is in, whose
 * old rows were folded in by refreshes long ago. Stops early when the time budget is spent.
 */
export async function loadHistory(pool: pg.Pool, run: number, rows: number, startS: number, budgetS: number, log: (msg: string) => void): Promise<{ seconds: number; rows: number }> {
  const t = performance.now();
  const perSymbolRound = 20; // rows per symbol per history "second": ticker 4 + trades 8 + l2 6 + l3 2
  const chunkRounds = Math.max(1, Math.floor(1_000_000 / (SYMBOLS * perSymbolRound)));
  let loaded = 0;
  for (let r = 0; loaded < rows; r += chunkRounds) {
    const n = Math.min(chunkRounds, Math.ceil((rows - loaded) / (SYMBOLS * perSymbolRound)));
    const c = await pool.connect();
    try {
      await c.query('begin');
      const gen = (per: number) => `from generate_series(1, ${SYMBOLS}) s
        cross join lateral generate_series(0, ${per * n} - 1 + 0 * s) k,
        lateral (select 'S' || s || '/USD' as sym,
                        to_timestamp(${T0 / 1000} + ${startS} + ${r} + k::float8 / ${per}) as t,
                        10 + s + (k % 100) * 0.0001 as m) x`;
      await c.query(`insert into ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
        select $1, sym, m - 0.001, 3, m + 0.001, 3, m, 1000, t ${gen(PER_SYMBOL.ticker)}`, [run]);
      await c.query(`insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
        select $1, sym, 'buy', m, 0.5, 'market', ${1_000_000_000 + r * 8} + k, t, t ${gen(PER_SYMBOL.trades)}`, [run]);
      await c.query(`insert into l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum, checksum_ok, received_at)
        select $1, sym, 10, false, array[m - 0.001, m - 0.002, m - 0.003, m - 0.004, m - 0.005], '{5,6,7,8,9}'::numeric[],
               array[m + 0.001, m + 0.002, m + 0.003, m + 0.004, m + 0.005], '{5,6,7,8,9}'::numeric[], 0, true, t ${gen(PER_SYMBOL.l2)}`, [run]);
      await c.query(`insert into l3_queue_metrics (run_id, symbol, bid_px, bid_qty, bid_orders, ask_px, ask_qty, ask_orders, checksum, checksum_ok, received_at)
        select $1, sym, array[m - 0.001], '{5}'::numeric[], '{3}'::int[], array[m + 0.001], '{5}'::numeric[], '{4}'::int[], 0, true, t ${gen(PER_SYMBOL.l3)}`, [run]);
      await c.query('commit');
    } finally {
      c.release();
    }
    loaded += n * SYMBOLS * perSymbolRound;
    const elapsed = (performance.now() - t) / 1000;
    log(`  history ${(loaded / 1e6).toFixed(1)} M rows, ${elapsed.toFixed(0)} s`);
    if (elapsed > budgetS && loaded < rows) {
      log(`  load budget of ${budgetS} s spent: measuring at the size reached`);
      break;
    }
  }
  await pool.query(`analyze ticker_samples, trade_samples, l2_snap_metrics, l3_queue_metrics`);
  await settle(pool);
  await pool.query(
    `update state_refresh_watermarks set watermark = greatest(watermark, pg_snapshot_xmin(pg_current_snapshot())) where run_id = $1`,
    [run],
  );
  return { seconds: (performance.now() - t) / 1000, rows: loaded };
}

/**
 * CPU time the server process has used so far (ms; NaN where /proc is not readable). The clusters are
 * local, so this is the refreshing backend's own work: unlike wall time it barely moves when other
 * work shares the cores, which makes runs on a busy machine comparable.
 */
export function backendCpuMs(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

/** Machine calibration: median ms of 5 runs of `select count(*) from generate_series(1, 1000000)`. */
export async function calibrate(pool: pg.Pool): Promise<number> {
  const cal: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await pool.query(`select count(*) from generate_series(1, 1000000)`);
    cal.push(performance.now() - t);
  }
  cal.sort((a, b) => a - b);
  return quantile(cal, 0.5);
}

/** The closing line of a refresh benchmark's section: how fast and how busy the machine was at the end. */
export async function calibrationNote(pool: pg.Pool): Promise<string> {
  const ms = await calibrate(pool);
  return `Machine calibration at the end of the run: \`select count(*) from generate_series(1, 1000000)\` took ${ms.toFixed(0)} ms ` +
    `(median of 5) with a 1-minute load average of ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores.`;
}
