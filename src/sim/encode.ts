// JSON text for the messages the simulator sends. Written by hand because Kraken's numbers carry
// trailing zeros at the pair's precision (0.10000000) and JSON.stringify cannot produce that;
// connection_id is a bare u64 literal for the same reason.
import type { L2Touch, L3Out } from './feed.ts';
import type { PairSpec, PairStatus } from './pairs.ts';
import { formatScaled } from '../kraken/decimal-text.ts';

const EXTRA = ',"x_sim_extra":{"note":"unknown field","n":1}';
const str = JSON.stringify;
/** JSON text of each symbol, quoted once (every data message carries it). */
const symbolJson = new Map<string, string>();
function sym(symbol: string): string {
  let j = symbolJson.get(symbol);
  if (j === undefined) { j = str(symbol); if (symbolJson.size < 10_000) symbolJson.set(symbol, j); }
  return j;
}

/** RFC 3339 UTC with `digits` fraction digits from ns since epoch. */
let cachedSecond = -1n;
let cachedWhole = '';

/** The last timestamp formatted per precision: the events of one step (and its message) share their time. */
const lastNs: Record<6 | 9, bigint> = { 6: -1n, 9: -1n };
const lastText: Record<6 | 9, string> = { 6: '', 9: '' };

export function isoTime(ns: bigint, digits: 6 | 9 = 6): string {
  if (ns === lastNs[digits]) return lastText[digits];
  const text = formatIsoTime(ns, digits);
  lastNs[digits] = ns;
  lastText[digits] = text;
  return text;
}

function formatIsoTime(ns: bigint, digits: 6 | 9): string {
  // Date formatting is costly; most timestamps in a burst share their second.
  const sec = ns / 1_000_000_000n;
  if (sec !== cachedSecond) { cachedSecond = sec; cachedWhole = new Date(Number(sec) * 1000).toISOString().slice(0, 19); }
  const whole = cachedWhole;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').slice(0, digits);
  return `${whole}.${frac}Z`;
}

export function heartbeat(): string { return '{"channel":"heartbeat"}'; }

export function statusMessage(connectionId: bigint, system: string, extra = false): string {
  return `{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":${connectionId.toString()},"system":${str(system)},"version":"2.0.10"${extra ? EXTRA : ''}}]${extra ? EXTRA : ''}}`;
}

export function pong(reqId: number | undefined, timeIn: string, timeOut: string): string {
  return `{"method":"pong"${reqId === undefined ? '' : `,"req_id":${reqId}`},"time_in":${str(timeIn)},"time_out":${str(timeOut)}}`;
}

export function ackSuccess(method: string, result: Record<string, unknown>, reqId: number | undefined, timeIn: string, timeOut: string): string {
  return `{"method":${str(method)},"result":${str(result)},"success":true,"time_in":${str(timeIn)},"time_out":${str(timeOut)}${reqId === undefined ? '' : `,"req_id":${reqId}`}}`;
}

export function ackFailure(method: string, error: string, symbol: string | undefined, reqId: number | undefined, timeIn: string, timeOut: string): string {
  return `{"error":${str(error)},"method":${str(method)},"success":false${symbol === undefined ? '' : `,"symbol":${sym(symbol)}`},"time_in":${str(timeIn)},"time_out":${str(timeOut)}${reqId === undefined ? '' : `,"req_id":${reqId}`}}`;
}

function levels(ls: readonly L2Touch[]): string {
  let s = '[';
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    s += `${i ? ',' : ''}{"price":${l.price},"qty":${l.qty}}`;
  }
  return s + ']';
}

export function bookMessage(type: 'snapshot' | 'update', symbol: string, bids: readonly L2Touch[], asks: readonly L2Touch[], checksum: number, ts: bigint, extra = false): string {
  return `{"channel":"book","type":"${type}","data":[{"symbol":${sym(symbol)},"bids":${levels(bids)},"asks":${levels(asks)},"checksum":${checksum},"timestamp":"${isoTime(ts)}"${extra ? EXTRA : ''}}]${extra ? EXTRA : ''}}`;
}

function orders(os: readonly L3Out[], withEvent: boolean): string {
  let s = '[';
  for (let i = 0; i < os.length; i++) {
    const o = os[i]!;
    s += `${i ? ',' : ''}{${withEvent ? `"event":"${o.event}",` : ''}"order_id":"${o.order_id}","limit_price":${o.limit_price},"order_qty":${o.order_qty},"timestamp":"${isoTime(o.ts, 9)}"}`;
  }
  return s + ']';
}

export function l3Message(type: 'snapshot' | 'update', symbol: string, bids: readonly L3Out[], asks: readonly L3Out[], checksum: number, ts: bigint, extra = false): string {
  const upd = type === 'update';
  return `{"channel":"level3","type":"${type}","data":[{"symbol":${sym(symbol)},"checksum":${checksum},"bids":${orders(bids, upd)},"asks":${orders(asks, upd)},"timestamp":"${isoTime(ts, 9)}"${extra ? EXTRA : ''}}]${extra ? EXTRA : ''}}`;
}

export interface TradeOut { side: string; priceText: string; qtyText: string; ordType: string; tradeId: number; ts: bigint }

export function tradeMessage(type: 'snapshot' | 'update', symbol: string, trades: readonly TradeOut[], extra = false): string {
  let s = '[';
  for (let i = 0; i < trades.length; i++) {
    const t = trades[i]!;
    s += `${i ? ',' : ''}{"symbol":${sym(symbol)},"side":"${t.side}","price":${t.priceText},"qty":${t.qtyText},"ord_type":"${t.ordType}","trade_id":${t.tradeId},"timestamp":"${isoTime(t.ts)}"${extra ? EXTRA : ''}}`;
  }
  return `{"channel":"trade","type":"${type}","data":${s}]${extra ? EXTRA : ''}}`;
}

export function tickerMessage(type: 'snapshot' | 'update', symbol: string, f: Record<string, string>, ts: bigint, extra = false): string {
  return `{"channel":"ticker","type":"${type}","data":[{"symbol":${sym(symbol)},"bid":${f.bid},"bid_qty":${f.bid_qty},"ask":${f.ask},"ask_qty":${f.ask_qty},"last":${f.last},"volume":${f.volume},"vwap":${f.vwap},"low":${f.low},"high":${f.high},"change":${f.change},"change_pct":${f.change_pct},"timestamp":"${isoTime(ts)}"${extra ? EXTRA : ''}}]${extra ? EXTRA : ''}}`;
}

function unit(decimals: number): string {
  return formatScaled(1n, decimals);
}

export function instrumentMessage(type: 'snapshot' | 'update', pairs: readonly { spec: PairSpec; status: PairStatus }[], includeAssets: boolean): string {
  const assets = new Set<string>();
  if (includeAssets) for (const p of pairs) { assets.add(p.spec.base); assets.add(p.spec.quote); }
  const a = [...assets].map((id) => `{"id":${str(id)},"status":"enabled","precision":${id === 'USD' || id === 'EUR' ? 4 : 10},"precision_display":${id === 'USD' || id === 'EUR' ? 2 : 5},"borrowable":false,"collateral_value":0,"margin_rate":0}`);
  const ps = pairs.map(({ spec: p, status }) =>
    `{"symbol":${str(p.symbol)},"base":${str(p.base)},"quote":${str(p.quote)},"status":${str(status)},"qty_precision":${p.qtyPrecision},"qty_increment":${unit(p.qtyPrecision)},"price_precision":${p.pricePrecision},"price_increment":${unit(p.pricePrecision)},"cost_precision":${p.costPrecision},"cost_min":${p.costMin},"qty_min":${p.qtyMin},"marginable":false,"has_index":true}`);
  return `{"channel":"instrument","type":"${type}","data":{"assets":[${a.join(',')}],"pairs":[${ps.join(',')}]}}`;
}
