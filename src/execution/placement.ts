// Reading back (and logging) what evaluation__place_orders decided for an evaluation.
import type { Logger } from 'pino';
import { mark } from '../log/logger.ts';
import { type Db, rowsOf } from './db.ts';

export interface Placement {
  evaluation_id: string;
  outcome: 'placed' | 'no_candidate' | 'unknown_pair' | 'pair_not_tradable' | 'no_room' | 'below_minimum' | 'invalid_price';
  marker: 'ORDER_INTENT_CREATED' | 'CAPITAL_NO_ROOM' | 'ORDER_LIMITS_REJECTED';
  reason: string;
  symbol: string | null;
  strategy: string | null;
  order_id: string | null;
  client_order_id: string | null;
}

/** The placement of an evaluation (null when it had no candidates), logged with its marker. */
export async function logPlacement(db: Db, evaluationId: number, log?: Logger): Promise<Placement | null> {
  const [p] = await rowsOf<Placement>(
    db,
    `select evaluation_id, outcome, marker, reason, symbol, strategy, order_id, client_order_id
       from kapitaal.evaluation_placements where evaluation_id = $1`,
    [evaluationId],
  );
  if (!p) return null;
  if (log) {
    const f = { evaluation_id: p.evaluation_id, outcome: p.outcome, symbol: p.symbol, strategy: p.strategy, order_id: p.order_id, reason: p.reason };
    if (p.outcome === 'placed') mark(log, 'ORDER_INTENT_CREATED', f);
    else log.warn({ marker: p.marker, ...f }, p.marker);
  }
  return p;
}
