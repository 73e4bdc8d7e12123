// Helpers for the strategy-layer tests: run_symbol_state rows crafted directly (explicit
// generation_id, every column the strategies read), optional run_pairs rows, and typed
// wrappers around the SQL calls. Time is injected through p_now.
import type pg from 'pg';

type Q = pg.Client | pg.PoolClient | pg.Pool;

/** The evaluation time of every test. */
export const NOW = '2026-01-01T12:05:00.000Z';
/** The instant `sec` seconds before NOW. */
export const ago = (sec: number): string => new Date(Date.parse(NOW) - sec * 1000).toISOString();

let nextRun = 700_000 + Math.floor(Math.random() * 1000) * 1000;
/** A run id no other test in this file uses (run_symbol_state has no foreign key to ingest_runs). */
export const newRun = (): number => nextRun++;

/**
 * A state row that is ready for every strategy and fresh for every route, in RANGE, with no
 * signal: mid 100, bid 99.99, ask 100.01 (spread 2 bps, so entry/exit costs are exactly 1 bp
 * each), microprice = mid, flat returns, 1-minute volume at the 5-minute average (surge 1),
 * half of the 5-minute volume bought, 10 base resting at the best bid.
 */
export function baseState(runId: number, symbol: string): Record<string, unknown> {
  return {
    run_id: runId,
    symbol,
    generation_id: 4242,
    refreshed_at: ago(1),
    last_ticker_at: ago(1),
    last_trade_at: ago(1),
    last_l2_at: ago(1),
    last_l3_at: ago(1),
    book_source: 'l2',
    best_bid: '99.99',
    best_ask: '100.01',
    mid: '100',
    spread_bps: '2',
    microprice: '100',
    bid_depth_10bps_quote: '50000',
    ask_depth_10bps_quote: '50000',
    bid_depth_50bps_quote: '200000',
    ask_depth_50bps_quote: '200000',
    book_imbalance: '0',
    book_valid: true,
    last_trade_price: '100',
    l3_bid_touch_qty: '10',
    l3_bid_touch_orders: 3,
    l3_ask_touch_qty: '10',
    l3_ask_touch_orders: 3,
    l3_valid: true,
    l3_touch_churn_1m: 0,
    ret_1m_bps: '0',
    ret_5m_bps: '0',
    vol_1m_bps: '10',
    vol_5m_bps: '20',
    trend_strength_5m: '0',
    price_buckets_5m: 60,
    trades_1m: 20,
    trades_5m: 100,
    quote_volume_1m: '20000',
    quote_volume_5m: '100000',
    buy_quote_volume_5m: '50000',
    l2_checksum_failures_1m: 0,
    l2_checksum_failures_5m: 0,
    l3_checksum_failures_1m: 0,
    l2_resyncs_5m: 0,
    trade_id_gaps_5m: 0,
    regime: 'RANGE',
    regime_since: ago(600),
    regime_indicated: 'RANGE',
    regime_reason: 'test',
    regime_candidate: null,
    regime_streak: 0,
  };
}

/** Momentum's textbook case: TREND, +400 bps in 5 minutes with trend strength 0.8. */
export const trendUp = { regime: 'TREND', regime_indicated: 'TREND', ret_5m_bps: '400', trend_strength_5m: '0.8' };
/** Liquidity's textbook case: RANGE after a 300 bps dip in the last minute. */
export const rangeDip = { regime: 'RANGE', ret_1m_bps: '-300' };

export async function putState(q: Q, runId: number, symbol: string, over: Record<string, unknown> = {}): Promise<void> {
  await q.query(
    `insert into run_symbol_state select * from jsonb_populate_record(null::run_symbol_state, $1::jsonb)`,
    [JSON.stringify({ ...baseState(runId, symbol), ...over })],
  );
}

export async function putPair(q: Q, runId: number, symbol: string, tick: string, status = 'online'): Promise<void> {
  await q.query(
    `insert into run_pairs (run_id, symbol, base, quote, status, price_precision, qty_precision, cost_precision,
                            price_increment, qty_increment, qty_min, cost_min, in_universe, first_seen_at, updated_at,
                            status_changed_at, universe_changed_at)
     values ($1, $2, split_part($2, '/', 1), split_part($2, '/', 2), $4, 2, 8, 5, $3::numeric, 0.00000001, 0.0001, 0.5,
             true, $5::timestamptz, $5::timestamptz, $5::timestamptz, $5::timestamptz)`,
    [runId, symbol, tick, status, ago(3600)],
  );
}

export interface Ranked {
  rank: number;
  selected: boolean;
  symbol: string;
  strategy: string;
  regime: string | null;
  entry_liquidity: string;
  order_type: string;
  post_only: boolean;
  entry_price: string | null;
  queue_ahead_qty: string | null;
  expected_move_bps: string | null;
  gross_edge_bps: string | null;
  fee_bps: string | null;
  net_edge_bps: string | null;
  fill_probability: string | null;
  score: string | null;
  data_ok: boolean;
  selectable: boolean;
  reason: string;
  gates: string[];
  inputs: any;
}

export async function rank(q: Q, runId: number, sizeQuote: string | null = null): Promise<Ranked[]> {
  const { rows } = await q.query<Ranked>(`select * from strategy__rank($1, $2::timestamptz, $3::numeric)`, [runId, NOW, sizeQuote]);
  return rows;
}

export const find = (rows: Ranked[], symbol: string, strategy: string): Ranked => {
  const r = rows.find((x) => x.symbol === symbol && x.strategy === strategy);
  if (!r) throw new Error(`no proposal ${strategy}/${symbol}`);
  return r;
};

export interface Top {
  outcome: 'selected' | 'economically_empty' | 'data_blocked';
  symbol: string | null;
  strategy: string | null;
  net_edge_bps: string | null;
  score: string | null;
  proposals: number;
  selectable_proposals: number;
  reason: string;
  inputs: any;
}

export async function selectTop(q: Q, runId: number): Promise<Top[]> {
  const { rows } = await q.query<Top>(`select * from strategy__select_top($1, $2::timestamptz)`, [runId, NOW]);
  return rows;
}
