// Typed raw rows and their COPY text lines (see raw-tables.ts for the column order). Prices and
// quantities are the decimal text Kraken sent; run_id is the text of a bigint.
import {
  copyBool, copyDecimal, copyExchangeTs, copyMillis, copyNullableDecimal, copyNumericField, copyText,
  isTimestampText,
} from './copy-text.ts';

export interface TickerRow {
  symbol: string;
  bid: string; bid_qty: string; ask: string; ask_qty: string; last: string; volume: string;
  vwap?: string | null; low?: string | null; high?: string | null; change?: string | null; change_pct?: string | null;
  timestamp?: string | null;
}

export interface TradeRow {
  symbol: string;
  side: 'buy' | 'sell';
  price: string;
  qty: string;
  ord_type: 'market' | 'limit';
  trade_id: number;
  timestamp: string;
}

export interface PriceQty { readonly price: string; readonly qty: string }

export interface L2Row {
  symbol: string;
  depth: number;
  isSnapshot: boolean;
  bids: readonly PriceQty[];
  asks: readonly PriceQty[];
  checksum: number;
  checksumOk: boolean;
  updatesApplied: number;
  exchangeTs: string | null | undefined;
}

export interface QueueLevel { readonly price: string; readonly qty: string; readonly orders: number }

export interface L3Row {
  symbol: string;
  bids: readonly QueueLevel[];
  asks: readonly QueueLevel[];
  adds: number;
  modifies: number;
  deletes: number;
  addedQty: string;
  removedQty: string;
  touchAdds: number;
  touchDeletes: number;
  checksum: number;
  checksumOk: boolean;
  exchangeTs: string | null | undefined;
}

export function tickerLine(runId: string, r: TickerRow, receivedMs: number): string {
  return `${runId}\t${copyText(r.symbol)}\t${copyDecimal(r.bid)}\t${copyDecimal(r.bid_qty)}\t${copyDecimal(r.ask)}\t${
    copyDecimal(r.ask_qty)}\t${copyDecimal(r.last)}\t${copyDecimal(r.volume)}\t${copyNullableDecimal(r.vwap)}\t${
    copyNullableDecimal(r.low)}\t${copyNullableDecimal(r.high)}\t${copyNullableDecimal(r.change)}\t${
    copyNullableDecimal(r.change_pct)}\t${copyExchangeTs(r.timestamp)}\t${copyMillis(receivedMs)}\n`;
}

/** Throws on a trade that cannot be stored (its exchange time is required). */
export function tradeLine(runId: string, r: TradeRow, receivedMs: number): string {
  if (!isTimestampText(r.timestamp)) throw new TypeError(`trade timestamp is not RFC 3339: ${JSON.stringify(r.timestamp)}`);
  if (!Number.isSafeInteger(r.trade_id)) throw new TypeError(`trade_id is not an integer: ${r.trade_id}`);
  return `${runId}\t${copyText(r.symbol)}\t${r.side === 'buy' ? 'buy' : 'sell'}\t${copyDecimal(r.price)}\t${
    copyDecimal(r.qty)}\t${r.ord_type === 'market' ? 'market' : 'limit'}\t${r.trade_id}\t${r.timestamp}\t${
    copyMillis(receivedMs)}\n`;
}

function prices(levels: readonly PriceQty[]): string {
  return copyNumericField(levels, 'price');
}
function qtys(levels: readonly PriceQty[]): string {
  return copyNumericField(levels, 'qty');
}
function orders(levels: readonly QueueLevel[]): string {
  let s = '{';
  for (let i = 0; i < levels.length; i++) {
    const v = levels[i]!.orders;
    if (!Number.isSafeInteger(v)) throw new TypeError(`not an integer: ${v}`);
    s += i === 0 ? `${v}` : `,${v}`;
  }
  return `${s}}`;
}

export function l2Line(runId: string, r: L2Row, receivedMs: number): string {
  return `${runId}\t${copyText(r.symbol)}\t${r.depth}\t${copyBool(r.isSnapshot)}\t${prices(r.bids)}\t${qtys(r.bids)}\t${
    prices(r.asks)}\t${qtys(r.asks)}\t${r.checksum >>> 0}\t${copyBool(r.checksumOk)}\t${r.updatesApplied}\t${
    copyExchangeTs(r.exchangeTs)}\t${copyMillis(receivedMs)}\n`;
}

export function l3Line(runId: string, r: L3Row, receivedMs: number): string {
  return `${runId}\t${copyText(r.symbol)}\t${prices(r.bids)}\t${qtys(r.bids)}\t${orders(r.bids)}\t${
    prices(r.asks)}\t${qtys(r.asks)}\t${orders(r.asks)}\t${r.adds}\t${r.modifies}\t${
    r.deletes}\t${copyDecimal(r.addedQty)}\t${copyDecimal(r.removedQty)}\t${r.touchAdds}\t${r.touchDeletes}\t${
    r.checksum >>> 0}\t${copyBool(r.checksumOk)}\t${copyExchangeTs(r.exchangeTs)}\t${copyMillis(receivedMs)}\n`;
}
