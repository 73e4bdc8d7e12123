// Helpers for the placement-glue SQL tests: crafted evaluations, rankings, pairs and state on one
// decision database, and typed wrappers. Time is injected through p_now.
import type pg from 'pg';
import { NOW, ago, newRun, putState } from '../strategy/support.ts';

export { NOW, ago, newRun, putState };

type Q = pg.Pool | pg.PoolClient | pg.Client;

export async function putPair(q: Q, runId: number, symbol: string, o: { tick?: string; lot?: string; qtyMin?: string; costMin?: string; status?: string } = {}) {
  await q.query(
    `insert into kapitaal.run_pairs (run_id, symbol, base, quote, status, price_precision, qty_precision, cost_precision,
                            price_increment, qty_increment, qty_min, cost_min, in_universe, first_seen_at, updated_at,
                            status_changed_at, universe_changed_at)
     values ($1, $2, split_part($2, '/', 1), split_part($2, '/', 2), $3, 2, 8, 5, $4::numeric, $5::numeric, $6::numeric,
             $7::numeric, true, $8::timestamptz, $8::timestamptz, $8::timestamptz, $8::timestamptz)`,
    [runId, symbol, o.status ?? 'online', o.tick ?? '0.01', o.lot ?? '0.00000001', o.qtyMin ?? '0.0001', o.costMin ?? '0.5', ago(3600)],
  );
}

export async function putEvaluation(q: Q, runId: number, generationId = 4242): Promise<number> {
  const { rows } = await q.query(
    `insert into kapitaal.evaluations (run_id, epoch, generation_id, outcome, reason, evaluated_at)
     values ($1, 1, $2, 'candidates', 'test', $3::timestamptz) returning evaluation_id`,
    [runId, generationId, NOW],
  );
  return Number(rows[0].evaluation_id);
}

export interface RankingOver {
  symbol?: string;
  strategy?: string;
  order_type?: 'limit' | 'market';
  post_only?: boolean;
  entry_price?: string;
  selected?: boolean;
}

export async function putRanking(q: Q, evaluationId: number, runId: number, o: RankingOver = {}) {
  const liquidity = (o.strategy ?? 'liquidity') === 'liquidity';
  await q.query(
    `insert into kapitaal.evaluation_rankings (evaluation_id, symbol, strategy, rank, score, net_edge_bps, selected, reason,
       inputs, run_id, generation_id, regime, side, entry_liquidity, order_type, post_only, entry_price, queue_ahead_qty,
       gross_edge_bps, fee_bps, fill_probability, selectable, gates, recorded_at)
     values ($1, $2, $3, 1, 50, 50, $4, 'selected: best score 50 of 1 selectable proposals', '{}', $5, 4242, 'RANGE', 'buy',
             $6, $7, $8, $9::numeric, 0, 115, 65, 1, true, '{}', $10::timestamptz)`,
    [evaluationId, o.symbol ?? 'AAA/USD', o.strategy ?? 'liquidity', o.selected ?? true, runId, liquidity ? 'maker' : 'taker',
     o.order_type ?? (liquidity ? 'limit' : 'market'), o.post_only ?? liquidity, o.entry_price ?? '99.99', NOW],
  );
}

export interface PlacementRow {
  evaluation_id: string;
  outcome: string;
  marker: string;
  reason: string;
  order_id: string | null;
  client_order_id: string | null;
  details: any;
}

export async function place(q: Q, evaluationId: number, runId: number): Promise<PlacementRow> {
  const { rows } = await q.query(`select * from kapitaal.evaluation__place_orders($1, $2, 4242, $3::timestamptz)`, [evaluationId, runId, NOW]);
  return rows[0];
}
