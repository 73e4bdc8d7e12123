// order__reconcile: fills first, then the status of every working order as the exchange reports it
// (by client order id), then the maker fallback for post-only entries that waited too long.
import { Dec } from '../exchange/decimal.ts';
import { mark } from '../log/logger.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, oneOf, rowsOf } from './db.ts';
import { type FillsPollResult, pollFills } from './fills.ts';
import { applyExchangeState } from './submit.ts';

interface ReconcileRow {
  order_id: string;
  client_order_id: string;
  exchange_order_id: string | null;
  status: string;
  symbol: string;
  post_only: boolean;
  purpose: string;
  maker_action: 'wait' | 'cancel' | 'cancel_and_taker' | 'none' | null;
  maker_reason: string | null;
}

export interface ReconcileResult {
  fills: FillsPollResult;
  checked: number;
  changed: number;
  missing: number;
  makerCancels: number;
  fallbacks: { orderId: number; action: 'taker' | 'cancel'; fallbackOrderId: number | null; reason: string }[];
}

export async function reconcileOrders(db: Db, ctx: ExecutionContext = executionContext()): Promise<ReconcileResult> {
  const fills = await pollFills(db, ctx);
  const out: ReconcileResult = { fills, checked: 0, changed: 0, missing: 0, makerCancels: 0, fallbacks: [] };
  const list = await rowsOf<ReconcileRow>(db, 'select * from kapitaal.orders__to_reconcile($1)', [nowOf(ctx)]);
  const fallbackDue: { row: ReconcileRow; qtyExec: string | null }[] = [];
  for (const o of list) {
    const maker = o.maker_action === 'cancel' || o.maker_action === 'cancel_and_taker';
    if (maker && (o.status === 'open' || o.status === 'partially_filled')) {
      await ctx.exchange.cancelOrder(o.exchange_order_id ? { exchangeOrderId: o.exchange_order_id } : { clientOrderId: o.client_order_id });
      out.makerCancels++;
      mark(ctx.log, 'MAKER_FALLBACK', { order_id: o.order_id, step: 'cancel_sent', decision: o.maker_action, reason: o.maker_reason });
    }
    out.checked++;
    const ex = await ctx.exchange.queryOrderByClientId(o.client_order_id);
    if (!ex) {
      if (o.status !== 'submitting') {
        out.missing++;
        ctx.log.warn({ marker: 'ORDER_NOT_ON_EXCHANGE', order_id: o.order_id, client_order_id: o.client_order_id, status: o.status }, 'ORDER_NOT_ON_EXCHANGE');
      }
      continue;
    }
    const r = await applyExchangeState(db, ctx, o.order_id, ex, `reconcile: venue status ${ex.venueStatus}${ex.reason ? ` (${ex.reason})` : ''}, executed ${ex.qtyExec} of ${ex.qty}`);
    if (r.changed) out.changed++;
    if (maker && (r.to_status === 'cancelled' || r.to_status === 'expired')) fallbackDue.push({ row: o, qtyExec: ex.qtyExec });
  }
  if (fallbackDue.length > 0) {
    // Fills made before the cancel must be booked before the rest is computed.
    const more = await pollFills(db, ctx);
    out.fills.recorded += more.recorded;
    for (const { row, qtyExec } of fallbackDue) {
      const { filled_qty } = await oneOf<{ filled_qty: string }>(db, 'select filled_qty::text from kapitaal.orders where order_id = $1', [row.order_id]);
      if (qtyExec !== null && !new Dec(qtyExec).eq(new Dec(filled_qty))) {
        ctx.log.info({ order_id: row.order_id, qty_exec: qtyExec, filled_qty }, 'maker fallback postponed: fills not all booked yet');
        continue;
      }
      const f = await oneOf<{ action: 'taker' | 'cancel' | null; fallback_order_id: string | null; reason: string | null }>(
        db,
        'select action, fallback_order_id, reason from kapitaal.order__maker_fallback($1, $2)',
        [row.order_id, nowOf(ctx)],
      );
      if (!f.action) continue;
      out.fallbacks.push({ orderId: Number(row.order_id), action: f.action, fallbackOrderId: f.fallback_order_id === null ? null : Number(f.fallback_order_id), reason: f.reason ?? '' });
      mark(ctx.log, 'MAKER_FALLBACK', { order_id: row.order_id, step: f.action, fallback_order_id: f.fallback_order_id, reason: f.reason });
    }
  }
  return out;
}
