// The exit loop: exits__scan in SQL, markers here.
import { mark } from '../log/logger.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, rowsOf } from './db.ts';

export interface ExitScanRow {
  position_id: string;
  symbol: string;
  outcome: 'hold' | 'exit_created' | 'exit_exists' | 'in_flight' | 'no_mark' | 'stale_mark' | 'unknown_pair' | 'below_minimum';
  exit_trigger: string | null;
  mark_price: string | null;
  order_id: string | null;
  client_order_id: string | null;
  created: boolean;
  reason: string;
}

export async function scanExits(db: Db, ctx: ExecutionContext = executionContext()): Promise<ExitScanRow[]> {
  const rows = await rowsOf<ExitScanRow>(db, 'select * from kapitaal.exits__scan($1, $2)', [nowOf(ctx), ctx.account ?? 'default']);
  for (const r of rows) {
    const f = { position_id: r.position_id, symbol: r.symbol, outcome: r.outcome, trigger: r.exit_trigger, mark: r.mark_price, order_id: r.order_id, reason: r.reason };
    if (r.outcome === 'exit_created') mark(ctx.log, 'EXIT_TRIGGERED', f);
    else if (r.outcome === 'no_mark' || r.outcome === 'stale_mark' || r.outcome === 'unknown_pair' || r.outcome === 'below_minimum') {
      ctx.log.warn({ marker: 'EXIT_SKIPPED', ...f }, 'EXIT_SKIPPED');
    }
  }
  return rows;
}
