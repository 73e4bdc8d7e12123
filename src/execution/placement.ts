// Reading back (and logging) what evaluation__place_orders decided for an evaluation.
import type { Logger } from 'pino';
import { mark } from '../log/logger.ts';
import { RepeatFilter } from '../log/repeat-filter.ts';
import { type Db, rowsOf } from './db.ts';

export interface Placement {
  evaluation_id: string;
  outcome: 'placed' | 'no_candidate' | 'unknown_pair' | 'pair_not_tradable' | 'no_room' | 'below_minimum' | 'invalid_price' | 'halted';
  marker: 'ORDER_INTENT_CREATED' | 'CAPITAL_NO_ROOM' | 'ORDER_LIMITS_REJECTED' | 'ENTRIES_HALTED';
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
    const repeats = repeatsOf(log);
    const verdict = p.outcome === 'placed' ? { first: true, ended: repeats.reset() } : repeats.see(`${p.marker} ${p.outcome} ${p.symbol} ${p.strategy}`);
    if (verdict.ended) {
      log.info({ marker: verdict.ended.key.split(' ')[0], repeated: verdict.ended.repeats, streak: verdict.ended.key },
        `the previous placement refusal repeated ${verdict.ended.repeats} more times (logged at debug)`);
    }
    if (p.outcome === 'placed') mark(log, 'ORDER_INTENT_CREATED', f);
    else if (verdict.first) log.warn({ marker: p.marker, ...f }, p.marker);
    // The same refusal as the evaluation before: every one is in evaluation_placements anyway.
    else log.debug({ marker: p.marker, ...f }, p.marker);
  }
  return p;
}

const filters = new WeakMap<Logger, RepeatFilter>();
function repeatsOf(log: Logger): RepeatFilter {
  let f = filters.get(log);
  if (!f) filters.set(log, (f = new RepeatFilter()));
  return f;
}
