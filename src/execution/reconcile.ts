// order__reconcile: fills first, then the status of every working order as the exchange reports it
// (by client order id), then the maker fallback for post-only entries that waited too long.
import { Dec } from '../exchange/decimal.ts';
import { mark } from '../log/logger.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, oneOf, rowsOf } from './db.ts';
import { type FillsPollResult, pollFills } from './fills.ts';
import { applyExchangeState } from './submit.ts';
import type { ExchangeOrder } from '../exchange/types.ts';

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
  /** Orders whose overdue missing fills made the fills cursor rewind (FILL_MISSING). */
  fillsRepaired: number;
  fallbacks: { orderId: number; action: 'taker' | 'cancel'; fallbackOrderId: number | null; reason: string }[];
}

export async function reconcileOrders(db: Db, ctx: ExecutionContext = executionContext()): Promise<ReconcileResult> {
  const fills = await pollFills(db, ctx);
  const out: ReconcileResult = { fills, checked: 0, changed: 0, missing: 0, makerCancels: 0, fillsRepaired: 0, fallbacks: [] };
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
    if (ex.closedAt && new Dec(ex.qtyExec).gt(0) && (await repairMissingFills(db, ctx, o.order_id, ex))) out.fillsRepaired++;
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

const REPAIR_EVERY_MS = 5 * 60_000;
/** Per order: when its missing fills were last re-read (this process). */
const lastRepair = new Map<string, number>();

interface MissingRow { booked_qty: string; exchange_qty_exec: string; shortfall: string; missing_trade_ids: string[]; overdue: boolean }

/**
 * A closed order whose executed quantity the ledger has not booked long after it closed: a trade the
 * fills cursor passed by. Says so (FILL_MISSING, with the trade ids), rewinds the cursor to just before
 * the order opened and polls again, so the fills are booked now. True when it rewound.
 */
async function repairMissingFills(db: Db, ctx: ExecutionContext, orderId: string, ex: ExchangeOrder): Promise<boolean> {
  const rows = await rowsOf<MissingRow>(
    db,
    'select booked_qty::text, exchange_qty_exec::text, shortfall::text, missing_trade_ids, overdue from kapitaal.order__fills_missing($1, $2, $3, $4, $5)',
    [orderId, ex.qtyExec, ex.tradeIds, ex.closedAt, nowOf(ctx)],
  );
  const m = rows[0];
  if (!m?.overdue) return false;
  // A trade that stays missing would otherwise be warned about and re-read every reconcile cycle.
  const now = nowOf(ctx).getTime();
  const last = lastRepair.get(orderId);
  if (last !== undefined && now - last < REPAIR_EVERY_MS) return false;
  lastRepair.set(orderId, now);
  const from = new Date((ex.openedAt ?? ex.closedAt!).getTime() - 1_000);
  const cursor = ctx.exchange.fillsCursorAt?.(from) ?? null;
  ctx.log.warn(
    { marker: 'FILL_MISSING', order_id: orderId, exchange_order_id: ex.exchangeOrderId, exchange_qty_exec: m.exchange_qty_exec, booked_qty: m.booked_qty,
      shortfall: m.shortfall, missing_trade_ids: m.missing_trade_ids, closed_at: ex.closedAt, rewind_to: cursor === null ? null : from },
    cursor === null ? 'FILL_MISSING: the exchange reports fills the ledger lacks, and this venue cannot be re-read' : 'FILL_MISSING: the exchange reports fills the ledger lacks; re-reading the fills from before the order opened',
  );
  if (cursor === null) return false;
  await rowsOf(db, 'select * from kapitaal.fills__rewind($1, $2, $3)', [ctx.venue, cursor, nowOf(ctx)]);
  await pollFills(db, ctx);
  return true;
}
