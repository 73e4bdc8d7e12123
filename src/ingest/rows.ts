// Typed raw rows and their COPY text lines (see raw-tables.ts for the column order). Prices and
// quantities are the decimal text Kraken sent; run_id is the text of a bigint. The write* functions
// encode a row straight into a LineBuffer (the hot path); the *Line functions return the same line
// as a string (tests, tools).
import { copyMillis, isTimestampText } from './copy-text.ts';
import { LineBuffer } from './line-buffer.ts';

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

/** Encodes one row into `out` (between its beginRow and endRow); throws on a row that cannot be stored. */
export type RowWriter<R> = (out: LineBuffer, runId: string, row: R, receivedMs: number) => void;

const TAB = 9;
const NL = 10;
const NULL_N = '\\N';

function nullableDecimal(out: LineBuffer, v: string | null | undefined): void {
  if (v === null || v === undefined) out.ascii(NULL_N);
  else out.decimal(v);
}

/** The last exchange timestamp text that passed isTimestampText (rows of one message share it). */
let lastTs = '1970-01-01T00:00:00Z';
/** A timestamp the exchange sent: kept when well-formed, null otherwise (never poisons a batch). */
function exchangeTs(out: LineBuffer, v: string | null | undefined): void {
  if (v === null || v === undefined) out.ascii(NULL_N);
  else if (v === lastTs || isTimestampText(v)) {
    lastTs = v;
    out.ascii(v);
  } else out.ascii(NULL_N);
}

function bool(out: LineBuffer, v: boolean): void {
  out.byte(v ? 116 : 102);
}

function orders(out: LineBuffer, levels: readonly QueueLevel[]): void {
  out.byte(123);
  for (let i = 0; i < levels.length; i++) {
    if (i > 0) out.byte(44);
    out.int(levels[i]!.orders);
  }
  out.byte(125);
}

export const writeTicker: RowWriter<TickerRow> = (out, runId, r, receivedMs) => {
  out.ascii(runId); out.byte(TAB);
  out.text(r.symbol); out.byte(TAB);
  out.decimal(r.bid); out.byte(TAB);
  out.decimal(r.bid_qty); out.byte(TAB);
  out.decimal(r.ask); out.byte(TAB);
  out.decimal(r.ask_qty); out.byte(TAB);
  out.decimal(r.last); out.byte(TAB);
  out.decimal(r.volume); out.byte(TAB);
  nullableDecimal(out, r.vwap); out.byte(TAB);
  nullableDecimal(out, r.low); out.byte(TAB);
  nullableDecimal(out, r.high); out.byte(TAB);
  nullableDecimal(out, r.change); out.byte(TAB);
  nullableDecimal(out, r.change_pct); out.byte(TAB);
  exchangeTs(out, r.timestamp); out.byte(TAB);
  out.ascii(copyMillis(receivedMs)); out.byte(NL);
};

/** Throws on a trade that cannot be stored (its exchange time is required). */
export const writeTrade: RowWriter<TradeRow> = (out, runId, r, receivedMs) => {
  if (r.timestamp !== lastTs && !isTimestampText(r.timestamp)) {
    throw new TypeError(`trade timestamp is not RFC 3339: ${JSON.stringify(r.timestamp)}`);
  }
  lastTs = r.timestamp;
  if (!Number.isSafeInteger(r.trade_id)) throw new TypeError(`trade_id is not an integer: ${r.trade_id}`);
  out.ascii(runId); out.byte(TAB);
  out.text(r.symbol); out.byte(TAB);
  out.ascii(r.side === 'buy' ? 'buy' : 'sell'); out.byte(TAB);
  out.decimal(r.price); out.byte(TAB);
  out.decimal(r.qty); out.byte(TAB);
  out.ascii(r.ord_type === 'market' ? 'market' : 'limit'); out.byte(TAB);
  out.int(r.trade_id); out.byte(TAB);
  out.ascii(r.timestamp); out.byte(TAB);
  out.ascii(copyMillis(receivedMs)); out.byte(NL);
};

export const writeL2: RowWriter<L2Row> = (out, runId, r, receivedMs) => {
  out.ascii(runId); out.byte(TAB);
  out.text(r.symbol); out.byte(TAB);
  out.int(r.depth); out.byte(TAB);
  bool(out, r.isSnapshot); out.byte(TAB);
  out.decimalField(r.bids, true); out.byte(TAB);
  out.decimalField(r.bids, false); out.byte(TAB);
  out.decimalField(r.asks, true); out.byte(TAB);
  out.decimalField(r.asks, false); out.byte(TAB);
  out.int(r.checksum >>> 0); out.byte(TAB);
  bool(out, r.checksumOk); out.byte(TAB);
  out.int(r.updatesApplied); out.byte(TAB);
  exchangeTs(out, r.exchangeTs); out.byte(TAB);
  out.ascii(copyMillis(receivedMs)); out.byte(NL);
};

export const writeL3: RowWriter<L3Row> = (out, runId, r, receivedMs) => {
  out.ascii(runId); out.byte(TAB);
  out.text(r.symbol); out.byte(TAB);
  out.decimalField(r.bids, true); out.byte(TAB);
  out.decimalField(r.bids, false); out.byte(TAB);
  orders(out, r.bids); out.byte(TAB);
  out.decimalField(r.asks, true); out.byte(TAB);
  out.decimalField(r.asks, false); out.byte(TAB);
  orders(out, r.asks); out.byte(TAB);
  out.int(r.adds); out.byte(TAB);
  out.int(r.modifies); out.byte(TAB);
  out.int(r.deletes); out.byte(TAB);
  out.decimal(r.addedQty); out.byte(TAB);
  out.decimal(r.removedQty); out.byte(TAB);
  out.int(r.touchAdds); out.byte(TAB);
  out.int(r.touchDeletes); out.byte(TAB);
  out.int(r.checksum >>> 0); out.byte(TAB);
  bool(out, r.checksumOk); out.byte(TAB);
  exchangeTs(out, r.exchangeTs); out.byte(TAB);
  out.ascii(copyMillis(receivedMs)); out.byte(NL);
};

/** The line a RowWriter produces, as a string. */
export function lineOf<R>(write: RowWriter<R>, runId: string, row: R, receivedMs: number): string {
  const b = new LineBuffer();
  b.beginRow();
  write(b, runId, row, receivedMs);
  b.endRow(receivedMs);
  return b.bytes().toString('utf8');
}

export const tickerLine = (runId: string, r: TickerRow, receivedMs: number): string => lineOf(writeTicker, runId, r, receivedMs);
/** Throws on a trade that cannot be stored (its exchange time is required). */
export const tradeLine = (runId: string, r: TradeRow, receivedMs: number): string => lineOf(writeTrade, runId, r, receivedMs);
export const l2Line = (runId: string, r: L2Row, receivedMs: number): string => lineOf(writeL2, runId, r, receivedMs);
export const l3Line = (runId: string, r: L3Row, receivedMs: number): string => lineOf(writeL3, runId, r, receivedMs);
