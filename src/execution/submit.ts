// The order__submit job body. DB-first and crash-safe:
//   1. order__submit_begin commits (generation gate for entries, new -> submitting) before any call;
//   2. a retry (order already submitting) asks the exchange about the client order id first and adopts
//      what it says; it sends only when the exchange does not know the order;
//   3. an answer that never came (OutcomeUnknownError) is resolved by querying the client id with
//      backoff, never by sending again; without an answer the job fails and its retry starts at 2.
import { DuplicateClientOrderIdError, ExchangeError, OutcomeUnknownError } from '../exchange/errors.ts';
import type { AddOrderRequest, ExchangeOrder } from '../exchange/types.ts';
import { mark } from '../log/logger.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, oneOf, sleep } from './db.ts';

export interface SubmitBeginRow {
  action: 'send' | 'query_first' | 'done' | 'blocked';
  order_id: string;
  status: string;
  client_order_id: string;
  exchange_order_id: string | null;
  symbol: string;
  side: 'buy' | 'sell';
  order_type: 'limit' | 'market';
  post_only: boolean;
  price: string | null;
  qty: string;
  purpose: 'entry' | 'exit';
  submit_attempts: number;
  gate_allowed: boolean;
  reason: string | null;
  marker: string | null;
}

export type SubmitResult =
  | { orderId: number; action: 'blocked' | 'done'; status: string; reason: string | null }
  | { orderId: number; action: 'sent' | 'adopted'; status: string; exchangeOrderId: string; reason: string | null }
  | { orderId: number; action: 'rejected' | 'withdrawn'; status: string; reason: string };

const DEFAULT_BACKOFF = [100, 250, 500, 1000, 2000];
/** Pause before the confirming query that must also find nothing before an order is sent again. */
const DEFAULT_RESEND_CONFIRM_MS = 2000;

export class SubmitOutcomeUnknown extends Error {
  constructor(orderId: number, clientOrderId: string, why: string) {
    super(`order ${orderId}: the exchange's answer to AddOrder (cl_ord_id ${clientOrderId}) is unknown and it does not report the order yet (${why}); ` +
      'it stays submitting, the job retries and queries again before any resend');
    this.name = 'SubmitOutcomeUnknown';
  }
}

/** Applies an exchange status through order__apply_exchange_state; returns the resulting status. */
export async function applyExchangeState(db: Db, ctx: ExecutionContext, orderId: number | string, ex: Pick<ExchangeOrder, 'status' | 'exchangeOrderId'> & Partial<ExchangeOrder>, note: string): Promise<{ to_status: string; changed: boolean; note: string }> {
  const data = {
    venue_status: ex.venueStatus ?? null,
    reason: ex.reason ?? null,
    qty_exec: ex.qtyExec ?? null,
    cost: ex.cost ?? null,
    fee: ex.fee ?? null,
    avg_price: ex.avgPrice ?? null,
    trade_ids: ex.tradeIds ?? null,
  };
  return oneOf(db, 'select to_status, changed, note from kapitaal.order__apply_exchange_state($1, $2, $3, $4::jsonb, $5, $6)', [
    orderId,
    ex.status,
    ex.exchangeOrderId,
    JSON.stringify(data),
    nowOf(ctx),
    note,
  ]);
}

/** Asks "run the fills poll now" (job key fills__poll: at most one pending). */
export async function requestFillsPoll(db: Db): Promise<void> {
  await db.query(`select graphile_worker.add_job('fills__poll', '{}'::json, job_key => 'fills__poll', max_attempts => 5)`);
}

/** queryOrderByClientId with retries on errors; null means the venue answered "no such order". */
async function queryWithRetry(ctx: ExecutionContext, clientOrderId: string, backoff: readonly number[]): Promise<ExchangeOrder | null> {
  let last: unknown;
  for (let i = 0; i <= backoff.length; i++) {
    try {
      return await ctx.exchange.queryOrderByClientId(clientOrderId);
    } catch (err) {
      last = err;
      if (i < backoff.length) await sleep(backoff[i]!);
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

export async function submitOrder(db: Db, orderId: number, ctx: ExecutionContext = executionContext()): Promise<SubmitResult> {
  const log = ctx.log;
  const backoff = ctx.unknownOutcomeBackoffMs ?? DEFAULT_BACKOFF;
  ctx.hooks?.at('before_begin_submit', { orderId });
  const b = await oneOf<SubmitBeginRow>(db, 'select * from kapitaal.order__submit_begin($1, $2)', [orderId, nowOf(ctx)]);
  const ids = { order_id: orderId, client_order_id: b.client_order_id, symbol: b.symbol, purpose: b.purpose, attempt: b.submit_attempts };

  if (b.action === 'blocked') {
    mark(log, 'EXECUTION_BLOCKED_GENERATION_MISMATCH', { ...ids, reason: b.reason }, 'entry not sent: generation gate blocked');
    return { orderId, action: 'blocked', status: b.status, reason: b.reason };
  }
  if (b.action === 'done') return { orderId, action: 'done', status: b.status, reason: b.reason };
  ctx.hooks?.at('after_begin_submit', { orderId });

  const adopt = async (ex: ExchangeOrder, why: string): Promise<SubmitResult> => {
    const r = await applyExchangeState(db, ctx, orderId, ex, `${why}: venue status ${ex.venueStatus}${ex.reason ? ` (${ex.reason})` : ''}, executed ${ex.qtyExec} of ${ex.qty}`);
    mark(log, 'ORDER_ADOPTED_FROM_EXCHANGE', { ...ids, exchange_order_id: ex.exchangeOrderId, status: r.to_status, venue_status: ex.venueStatus, qty_exec: ex.qtyExec, note: r.note });
    if (ex.qtyExec !== '0' && Number(ex.qtyExec) !== 0) await requestFillsPoll(db);
    return { orderId, action: 'adopted', status: r.to_status, exchangeOrderId: ex.exchangeOrderId, reason: r.note };
  };

  if (b.action === 'query_first') {
    mark(log, 'ORDER_SUBMIT_RECOVERY_QUERY', { ...ids, reason: b.reason });
    let ex = await queryWithRetry(ctx, b.client_order_id, backoff);
    if (ex) return adopt(ex, 'recovery query found the order');
    // "No such order" right after a lost answer can be Kraken not listing a just-placed order yet: ask
    // once more after a pause before sending it again (a filled market order would not stop a resend,
    // since client ids are unique among open orders only).
    await sleep(ctx.resendConfirmMs ?? DEFAULT_RESEND_CONFIRM_MS);
    ex = await queryWithRetry(ctx, b.client_order_id, backoff);
    if (ex) return adopt(ex, 'the confirming recovery query found the order');
    if (!b.gate_allowed) {
      const note = `withdrawn: the exchange does not know client order id ${b.client_order_id} and the generation gate now blocks (${b.reason})`;
      const r = await oneOf<{ to_status: string }>(
        db,
        `select to_status from kapitaal.order__transition($1, 'cancelled', null, $2::jsonb, $3, $4)`,
        [orderId, JSON.stringify({ gate_reason: b.reason }), nowOf(ctx), note],
      );
      mark(log, 'EXECUTION_BLOCKED_GENERATION_MISMATCH', { ...ids, reason: b.reason }, 'entry withdrawn on recovery: generation gate blocked');
      return { orderId, action: 'withdrawn', status: r.to_status, reason: note };
    }
  }

  const req: AddOrderRequest = {
    clientOrderId: b.client_order_id,
    symbol: b.symbol,
    side: b.side,
    orderType: b.order_type,
    price: b.order_type === 'limit' ? (b.price ?? undefined) : undefined,
    qty: b.qty,
    postOnly: b.post_only,
  };
  let exchangeOrderId: string;
  try {
    ({ exchangeOrderId } = await ctx.exchange.addOrder(req));
  } catch (err) {
    if (err instanceof OutcomeUnknownError || err instanceof DuplicateClientOrderIdError) {
      // Never resend blindly: the venue may have the order. Ask until it answers.
      mark(log, 'ORDER_OUTCOME_UNKNOWN', { ...ids, err: err.message });
      for (const delay of [0, ...backoff]) {
        if (delay) await sleep(delay);
        let ex: ExchangeOrder | null = null;
        try {
          ex = await ctx.exchange.queryOrderByClientId(b.client_order_id);
        } catch {
          continue;
        }
        if (ex) return adopt(ex, 'after an unknown AddOrder outcome the query found the order');
      }
      throw new SubmitOutcomeUnknown(orderId, b.client_order_id, err.message);
    }
    if (err instanceof ExchangeError && !err.retryable) {
      const text = err.krakenErrors.length ? err.krakenErrors.join(', ') : err.message;
      const r = await oneOf<{ to_status: string }>(
        db,
        `select to_status from kapitaal.order__transition($1, 'rejected', null, $2::jsonb, $3, $4)`,
        [orderId, JSON.stringify({ errors: err.krakenErrors, category: err.category, message: err.message }), nowOf(ctx), `exchange rejected: ${text}`],
      );
      mark(log, 'ORDER_REJECTED', { ...ids, errors: err.krakenErrors, category: err.category, reason: text });
      return { orderId, action: 'rejected', status: r.to_status, reason: text };
    }
    // Retryable (rate limit, unavailable, nonce): not processed. The job retries; the retry queries first.
    throw err;
  }
  ctx.hooks?.at('after_add_order', { orderId, exchangeOrderId });
  const r = await applyExchangeState(db, ctx, orderId, { status: 'open', exchangeOrderId }, `acknowledged by ${ctx.exchange.kind}: txid ${exchangeOrderId}`);
  mark(log, 'ORDER_SUBMITTED', { ...ids, exchange_order_id: exchangeOrderId, status: r.to_status, side: b.side, order_type: b.order_type, qty: b.qty, price: b.price });
  await requestFillsPoll(db);
  return { orderId, action: 'sent', status: r.to_status, exchangeOrderId, reason: null };
}
