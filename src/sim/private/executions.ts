// Execution reports of the simulator's accounts in Kraken's WS v2 `executions` shape (PROTOCOL.md,
// "WebSocket v2 private"), fanned out to the private WebSocket's subscribers of each account.
// Fed by the MatchingVenue's hooks: `new` when an order is accepted, `trade`/`filled` for every fill
// (after the fill is in TradesHistory, so a client that polls on the report finds it), and
// `canceled`/`expired` when an order closes without being filled completely.
import { randomBytes } from 'node:crypto';
import { Dec, str } from '../../exchange/decimal.ts';
import type { VenueOrder, VenueTrade } from '../../exchange/matching.ts';

/** One execution report as JSON text (an element of the message's `data`). */
export type ReportListener = (report: string) => void;

/** Amounts are written as bare JSON numbers from their decimal text, as Kraken writes them. */
const num = (decimalText: string): string => decimalText;
const q = JSON.stringify;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z'); // 6 fraction digits like Kraken's executions
}

function orderStatus(o: VenueOrder): string {
  if (o.status === 'canceled' || (o.status === 'closed' && new Dec(o.volExec).lt(new Dec(o.vol)))) return 'canceled';
  if (o.status === 'expired') return 'expired';
  if (o.status === 'closed') return 'filled';
  return new Dec(o.volExec).isZero() ? 'new' : 'partially_filled';
}

function orderFields(o: VenueOrder): string {
  const avg = new Dec(o.volExec).isZero() ? '0' : str(new Dec(o.cost).div(new Dec(o.volExec)).toDecimalPlaces(12));
  return (
    `"order_id":${q(o.txid)}${o.clOrdId === null ? '' : `,"cl_ord_id":${q(o.clOrdId)}`},"symbol":${q(o.symbol)},"side":${q(o.side)}` +
    `,"order_type":${q(o.ordertype)},"order_qty":${num(o.vol)}${o.price === null ? '' : `,"limit_price":${num(o.price)}`}` +
    `,"time_in_force":${q(o.timeInForce.toLowerCase())},"post_only":${o.postOnly}` +
    `,"cum_qty":${num(o.volExec)},"cum_cost":${num(o.cost)},"avg_price":${num(avg)}`
  );
}

export function newReport(o: VenueOrder): string {
  return `{${orderFields(o)},"exec_id":${q(execId())},"exec_type":"new","order_status":"new","timestamp":${q(iso(o.openedAt))}}`;
}

export function fillReport(t: VenueTrade, o: VenueOrder, quote: string): string {
  const filled = new Dec(o.volExec).gte(new Dec(o.vol));
  return (
    `{${orderFields(o)},"exec_id":${q(t.txid)},"exec_type":${filled ? '"filled"' : '"trade"'},"trade_id":${t.seq}` +
    `,"last_qty":${num(t.vol)},"last_price":${num(t.price)},"cost":${num(t.cost)},"liquidity_ind":${t.maker ? '"m"' : '"t"'}` +
    `,"fees":[{"asset":${q(quote)},"qty":${num(t.fee)}}],"order_status":${filled ? '"filled"' : '"partially_filled"'},"timestamp":${q(iso(t.time))}}`
  );
}

/** The report for a closed order, or null when its last fill already said `filled`. */
export function closeReport(o: VenueOrder): string | null {
  const status = orderStatus(o);
  if (status === 'filled') return null;
  return (
    `{${orderFields(o)},"exec_id":${q(execId())},"exec_type":${q(status)},"order_status":${q(status)}` +
    `${o.reason === null ? '' : `,"reason":${q(o.reason)}`},"timestamp":${q(iso(o.closedAt ?? o.openedAt))}}`
  );
}

/** An open order as it appears in a `snap_orders` snapshot. */
export function snapshotOrder(o: VenueOrder): string {
  return `{${orderFields(o)},"exec_type":"new","order_status":${q(orderStatus(o))},"timestamp":${q(iso(o.openedAt))}}`;
}

function execId(): string {
  return randomBytes(12).toString('base64url');
}

/** Subscribers per account (API key). */
export class ExecutionReports {
  private readonly listeners = new Map<string, Set<ReportListener>>();

  subscribe(apiKey: string, l: ReportListener): () => void {
    let set = this.listeners.get(apiKey);
    if (!set) this.listeners.set(apiKey, (set = new Set()));
    set.add(l);
    return () => set.delete(l);
  }

  publish(apiKey: string, report: string | null): void {
    if (report === null) return;
    for (const l of this.listeners.get(apiKey) ?? []) l(report);
  }
}
