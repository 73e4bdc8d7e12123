// Helpers for the state-layer tests: crafted market data at controlled times, and a
// refresh wrapper. Time is injected through p_now; rows carry explicit received_at.
import type pg from 'pg';

type Q = pg.Client | pg.PoolClient | pg.Pool;

/** Start of every crafted timeline. */
export const T0 = Date.parse('2026-01-01T12:00:00Z');
/** The instant `sec` seconds after T0 (fractions allowed, microsecond precision kept by SQL). */
export const at = (sec: number): string => new Date(T0 + Math.round(sec * 1000)).toISOString();

export async function startRun(q: Q, config: Record<string, unknown> = { test: Math.random() }): Promise<number> {
  const { rows } = await q.query<{ run_id: string }>(
    `select run_id from ingest_run__start($1::jsonb, 'test', 'host')`,
    [JSON.stringify(config)],
  );
  return Number(rows[0]!.run_id);
}

export interface Outcome {
  generation_id: number;
  run_id: number;
  refreshed_at: Date;
  ticker_rows: number;
  trade_rows: number;
  l2_rows: number;
  l3_rows: number;
  rows_read: number;
  symbols: number;
  symbols_changed: number;
  buckets_deleted: number;
  watermark_from: bigint;
  watermark_to: bigint;
  state_digest: string;
  duration_ms: number;
  symbols_recomputed: number;
  /** Symbols whose windows moved by subtraction (state__window_advance). */
  symbols_moved: number;
}

export async function refresh(q: Q, runId: number, nowSec?: number): Promise<Outcome> {
  const { rows } = await q.query(
    nowSec === undefined
      ? `select * from refresh_run_symbol_state($1)`
      : `select * from refresh_run_symbol_state($1, $2::timestamptz)`,
    nowSec === undefined ? [runId] : [runId, at(nowSec)],
  );
  const r = rows[0]!;
  return {
    ...r,
    generation_id: Number(r.generation_id),
    run_id: Number(r.run_id),
    watermark_from: BigInt(r.watermark_from),
    watermark_to: BigInt(r.watermark_to),
    duration_ms: Number(r.duration_ms),
  } as Outcome;
}

/**
 * Waits until every transaction that wrote raw rows of the run has finished, as seen by
 * the snapshot xmin (which is cluster-wide: other test files' open transactions can hold
 * it back for a moment). Polls PostgreSQL's own state; asserts nothing about time.
 */
export async function settle(q: Q, runId: number, timeoutMs = 30_000): Promise<void> {
  const { rows } = await q.query<{ max: string | null }>(
    `select max(m)::text as max from (
       select max(txid) m from ticker_samples where run_id = $1 union all
       select max(txid) from trade_samples where run_id = $1 union all
       select max(txid) from l2_snap_metrics where run_id = $1 union all
       select max(txid) from l3_queue_metrics where run_id = $1) x`,
    [runId],
  );
  if (rows[0]!.max === null) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await q.query<{ ok: boolean }>(`select kapitaal.raw_txid_horizon() > $1::xid8 as ok`, [rows[0]!.max]);
    if (r.rows[0]!.ok) return;
    if (Date.now() > deadline) throw new Error(`transactions below ${rows[0]!.max} never finished`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

export interface SeedOptions {
  /** First and last second (relative to T0), inclusive, one sample per `step` seconds. */
  from: number;
  to: number;
  step?: number;
  /** Mid price at sample i (0-based) and second t. */
  mid: (i: number, t: number) => number;
  spreadBps?: number;
  levels?: number;
  /** Distance between book levels in bps. */
  levelStepBps?: number;
  /** Base quantity per book level. */
  levelQty?: number;
  tradeQty?: number;
  /** Channels to write (all by default). */
  ticker?: boolean;
  trades?: boolean;
  l2?: boolean;
  l3?: boolean;
  l2ChecksumOk?: (i: number) => boolean;
  l3ChecksumOk?: (i: number) => boolean;
  /** First trade id; ids increase by one per trade unless skipTradeId says so. */
  firstTradeId?: number;
  skipTradeId?: (i: number) => boolean;
}

const px = (x: number) => x.toFixed(8);

/** Writes crafted ticker/trade/L2/L3 rows for one symbol, one sample per step, committed by q. */
export async function seed(q: Q, runId: number, symbol: string, o: SeedOptions): Promise<void> {
  const step = o.step ?? 1;
  const times: string[] = [];
  const mids: string[] = [];
  const l2ok: boolean[] = [];
  const l3ok: boolean[] = [];
  const tradeIds: number[] = [];
  let id = o.firstTradeId ?? 1;
  for (let i = 0, t = o.from; t <= o.to + 1e-9; i++, t += step) {
    times.push(at(t));
    mids.push(px(o.mid(i, t)));
    l2ok.push(o.l2ChecksumOk ? o.l2ChecksumOk(i) : true);
    l3ok.push(o.l3ChecksumOk ? o.l3ChecksumOk(i) : true);
    if (o.skipTradeId?.(i)) id++;
    tradeIds.push(id++);
  }
  const half = (o.spreadBps ?? 2) / 2e4;
  const levels = o.levels ?? 5;
  const lstep = (o.levelStepBps ?? 5) / 1e4;
  const qty = String(o.levelQty ?? 10);
  const args = [runId, symbol, times, mids, half, levels, lstep, qty];
  const src = `from unnest($3::timestamptz[], $4::numeric[]) with ordinality as u(at, mid, i)`;
  if (o.ticker !== false) {
    await q.query(
      `insert into ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
       select $1, $2, round(mid * (1 - $5::numeric), 8), $6::numeric, round(mid * (1 + $5::numeric), 8), $6::numeric, mid, 1000, at
       ${src}`,
      [runId, symbol, times, mids, half, qty],
    );
  }
  if (o.trades !== false) {
    await q.query(
      `insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
       select $1, $2, case when i % 2 = 0 then 'buy' else 'sell' end, mid, $5::numeric, 'market', id, at, at
         from unnest($3::timestamptz[], $4::numeric[], $6::bigint[]) with ordinality as u(at, mid, id, i)`,
      [runId, symbol, times, mids, String(o.tradeQty ?? 0.5), tradeIds],
    );
  }
  if (o.l2 !== false) {
    await q.query(
      `insert into l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum, checksum_ok, received_at)
       select $1, $2, 10, i = 1,
              array(select round(mid * (1 - $5::numeric) * (1 - k * $7::numeric), 8) from generate_series(0, $6::int - 1) k),
              array_fill($8::numeric, array[$6::int]),
              array(select round(mid * (1 + $5::numeric) * (1 + k * $7::numeric), 8) from generate_series(0, $6::int - 1) k),
              array_fill($8::numeric, array[$6::int]),
              0, ok, at
         from unnest($3::timestamptz[], $4::numeric[], $9::boolean[]) with ordinality as u(at, mid, ok, i)`,
      [...args, l2ok],
    );
  }
  if (o.l3 !== false) {
    await q.query(
      `insert into l3_queue_metrics (run_id, symbol, bid_px, bid_qty, bid_orders, ask_px, ask_qty, ask_orders,
                                     adds, deletes, touch_adds, touch_deletes, checksum, checksum_ok, received_at)
       select $1, $2, array[round(mid * (1 - $5::numeric), 8)], array[$6::numeric], array[3],
              array[round(mid * (1 + $5::numeric), 8)], array[$6::numeric], array[4], 2, 1, 1, 1, 0, ok, at
         from unnest($3::timestamptz[], $4::numeric[], $7::boolean[]) with ordinality as u(at, mid, ok, i)`,
      [runId, symbol, times, mids, half, qty, l3ok],
    );
  }
}

/** Rows of the incremental state and of the recomputation that differ (both directions). */
export async function oracleDiff(q: Q, runId: number, nowSec: number): Promise<{ onlyIncremental: unknown[]; onlyRecomputed: unknown[] }> {
  const a = await q.query(
    `select run_symbol_state__metrics(s) m from run_symbol_state s where run_id = $1
     except select run_symbol_state__metrics(r) from run_symbol_state__recompute($1, $2::timestamptz) r`,
    [runId, at(nowSec)],
  );
  const b = await q.query(
    `select run_symbol_state__metrics(r) m from run_symbol_state__recompute($1, $2::timestamptz) r
     except select run_symbol_state__metrics(s) from run_symbol_state s where run_id = $1`,
    [runId, at(nowSec)],
  );
  return { onlyIncremental: a.rows.map((r) => r.m), onlyRecomputed: b.rows.map((r) => r.m) };
}

export async function stateRow(q: Q, runId: number, symbol: string): Promise<Record<string, any>> {
  const { rows } = await q.query(`select * from run_symbol_state where run_id = $1 and symbol = $2`, [runId, symbol]);
  if (!rows[0]) throw new Error(`no state for ${symbol} in run ${runId}`);
  return rows[0];
}
