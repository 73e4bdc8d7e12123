// Hand-written single-pass parser for the hot Kraken WS v2 data messages (book, level3, trade,
// ticker). It reads the frame once, keeps decimal fields as their exact text and builds the same
// values the zod schemas in messages.ts produce, without the regex quoting pass, JSON.parse and zod.
//
// Contract: fastParseKrakenMessage(raw) either returns exactly what parseKrakenMessage(raw) would
// return for an accepted message, or `undefined` ("not handled here"). It never rejects: anything
// unusual (escapes in strings, duplicate keys, decimal fields sent as strings, exponent integers,
// channel not first, a value it cannot prove valid) makes it give up, and the caller falls back to
// the zod path, which stays the reference and produces the error messages. So the combined parser
// (parseKrakenFrame) accepts and rejects exactly the frames parseKrakenMessage does
// (test/unit/collector/fast-parse.test.ts checks this on random mutations of real frames).
import { parseKrakenMessage, type KrakenWsMessage, type ParseResult } from './messages.ts';

/** Thrown (a shared instance, never escapes this module) to abandon the fast path. */
const BAIL = { bail: true };

let s = '';
let i = 0;

const QUOTE = 34;
const BACKSLASH = 92;

function bail(): never {
  throw BAIL;
}

function ws(): void {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return;
  }
}

function expect(ch: number): void {
  ws();
  if (s.charCodeAt(i) !== ch) bail();
  i++;
}

/** A JSON string without escapes (else bail); returns its content. */
function str(): string {
  ws();
  if (s.charCodeAt(i) !== QUOTE) bail();
  const start = ++i;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) break;
    if (c === BACKSLASH || c < 32 || c !== c) bail(); // escape, control character, or end of input (NaN)
    i++;
  }
  return s.slice(start, i++);
}

function nonEmptyStr(): string {
  const v = str();
  if (v.length === 0) bail();
  return v;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * A decimal field: the bare number text as the quoting regex of messages.ts takes it
 * (-?\d+(\.\d+)?([eE][+-]?\d+)?, followed by optional whitespace and , } or ]).
 */
function dec(): string {
  ws();
  const start = i;
  if (s.charCodeAt(i) === 45) i++;
  if (!isDigit(s.charCodeAt(i))) bail();
  while (isDigit(s.charCodeAt(i))) i++;
  if (s.charCodeAt(i) === 46) {
    i++;
    if (!isDigit(s.charCodeAt(i))) bail();
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 101 || e === 69) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === 43 || sign === 45) i++;
    if (!isDigit(s.charCodeAt(i))) bail();
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const end = i;
  ws();
  const n = s.charCodeAt(i);
  if (n !== 44 && n !== 125 && n !== 93) bail();
  return s.slice(start, end);
}

/** A non-negative integer written as plain JSON digits (no sign, fraction, exponent or leading zero). */
function uint(max: number): number {
  ws();
  const start = i;
  const c0 = s.charCodeAt(i);
  if (!isDigit(c0)) bail();
  i++;
  if (c0 === 48) {
    if (isDigit(s.charCodeAt(i))) bail();
  } else {
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const c = s.charCodeAt(i);
  if (c === 46 || c === 101 || c === 69 || i - start > 15) bail();
  const v = Number(s.slice(start, i));
  if (v > max) bail();
  return v;
}

/** Skips any strictly valid JSON value (bails on anything JSON.parse might see differently). */
function skipValue(depth = 0): void {
  if (depth > 64) bail();
  ws();
  const c = s.charCodeAt(i);
  if (c === QUOTE) {
    i++;
    for (;;) {
      const d = s.charCodeAt(i);
      if (d === QUOTE) { i++; return; }
      if (d !== d || d < 32) bail();
      if (d === BACKSLASH) {
        const e = s.charCodeAt(i + 1);
        if (e === 117) {
          for (let k = 2; k < 6; k++) {
            const h = s.charCodeAt(i + k);
            if (!(isDigit(h) || (h >= 97 && h <= 102) || (h >= 65 && h <= 70))) bail();
          }
          i += 6;
        } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
          i += 2;
        } else bail();
      } else i++;
    }
  }
  if (c === 123) {
    i++;
    ws();
    if (s.charCodeAt(i) === 125) { i++; return; }
    for (;;) {
      str();
      expect(58);
      skipValue(depth + 1);
      ws();
      const d = s.charCodeAt(i++);
      if (d === 125) return;
      if (d !== 44) bail();
    }
  }
  if (c === 91) {
    i++;
    ws();
    if (s.charCodeAt(i) === 93) { i++; return; }
    for (;;) {
      skipValue(depth + 1);
      ws();
      const d = s.charCodeAt(i++);
      if (d === 93) return;
      if (d !== 44) bail();
    }
  }
  if (c === 116 && s.startsWith('true', i)) { i += 4; return; }
  if (c === 102 && s.startsWith('false', i)) { i += 5; return; }
  if (c === 110 && s.startsWith('null', i)) { i += 4; return; }
  // A strict JSON number: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
  if (c === 45 || isDigit(c)) {
    if (c === 45) i++;
    const first = s.charCodeAt(i);
    if (!isDigit(first)) bail();
    i++;
    if (first !== 48) while (isDigit(s.charCodeAt(i))) i++;
    if (s.charCodeAt(i) === 46) {
      i++;
      if (!isDigit(s.charCodeAt(i))) bail();
      while (isDigit(s.charCodeAt(i))) i++;
    }
    const e = s.charCodeAt(i);
    if (e === 101 || e === 69) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 43 || sign === 45) i++;
      if (!isDigit(s.charCodeAt(i))) bail();
      while (isDigit(s.charCodeAt(i))) i++;
    }
    return;
  }
  bail();
}

/** Opens an object: true when it has members (then the first key follows). */
function openObject(): boolean {
  expect(123);
  ws();
  if (s.charCodeAt(i) === 125) { i++; return false; }
  return true;
}

/** A member's key and its colon; the value follows. */
function key(): string {
  const k = str();
  expect(58);
  return k;
}

/** After a member's value: true when another member follows, false at the closing brace. */
function more(): boolean {
  ws();
  const d = s.charCodeAt(i++);
  if (d === 44) return true;
  if (d !== 125) bail();
  return false;
}

function array<T>(item: () => T): T[] {
  const out: T[] = [];
  expect(91);
  ws();
  if (s.charCodeAt(i) === 93) { i++; return out; }
  for (;;) {
    out.push(item());
    ws();
    const d = s.charCodeAt(i++);
    if (d === 93) return out;
    if (d !== 44) bail();
  }
}

/** Bit per known key; a key seen twice bails. */
function once(seen: number, bit: number): number {
  if (seen & bit) bail();
  return seen | bit;
}

// ---- element parsers ----------------------------------------------------------------------

interface Level { price: string; qty: string }

function bookLevel(): Level {
  let price: string | undefined;
  let qty: string | undefined;
  let seen = 0;
  if (openObject()) do {
    const k = key();
    if (k === 'price') { seen = once(seen, 1); price = dec(); } else if (k === 'qty') { seen = once(seen, 2); qty = dec(); } else skipValue();
  } while (more());
  if (price === undefined || qty === undefined) bail();
  return { price, qty };
}

function bookData(): object {
  let symbol: string | undefined;
  let bids: Level[] | undefined;
  let asks: Level[] | undefined;
  let checksum: number | undefined;
  let timestamp: string | undefined;
  let seen = 0;
  if (openObject()) do {
    const k = key();
    switch (k) {
      case 'symbol': seen = once(seen, 1); symbol = nonEmptyStr(); continue;
      case 'bids': seen = once(seen, 2); bids = array(bookLevel); continue;
      case 'asks': seen = once(seen, 4); asks = array(bookLevel); continue;
      case 'checksum': seen = once(seen, 8); checksum = uint(0xffffffff); continue;
      case 'timestamp': seen = once(seen, 16); timestamp = nonEmptyStr(); continue;
      default: skipValue();
    }
  } while (more());
  if (symbol === undefined || bids === undefined || asks === undefined || checksum === undefined) bail();
  return timestamp === undefined ? { symbol, bids, asks, checksum } : { symbol, bids, asks, checksum, timestamp };
}

interface Order { order_id: string; limit_price: string; order_qty: string; timestamp: string; event?: string }

let l3IsUpdate = false;

function l3Order(): Order {
  let order_id: string | undefined;
  let limit_price: string | undefined;
  let order_qty: string | undefined;
  let timestamp: string | undefined;
  let event: string | undefined;
  let seen = 0;
  if (openObject()) do {
    const k = key();
    switch (k) {
      case 'order_id': seen = once(seen, 1); order_id = nonEmptyStr(); continue;
      case 'limit_price': seen = once(seen, 2); limit_price = dec(); continue;
      case 'order_qty': seen = once(seen, 4); order_qty = dec(); continue;
      case 'timestamp': seen = once(seen, 8); timestamp = nonEmptyStr(); continue;
      case 'event':
        if (!l3IsUpdate) { skipValue(); continue; } // stripped from snapshot orders, like zod does
        seen = once(seen, 16);
        event = str();
        if (event !== 'add' && event !== 'modify' && event !== 'delete') bail();
        continue;
      default: skipValue();
    }
  } while (more());
  if (order_id === undefined || limit_price === undefined || order_qty === undefined || timestamp === undefined) bail();
  if (l3IsUpdate) {
    if (event === undefined) bail();
    return { order_id, limit_price, order_qty, timestamp, event };
  }
  return { order_id, limit_price, order_qty, timestamp };
}

function l3Data(): object {
  let symbol: string | undefined;
  let bids: Order[] | undefined;
  let asks: Order[] | undefined;
  let checksum: number | undefined;
  let timestamp: string | undefined;
  let seen = 0;
  if (openObject()) do {
    const k = key();
    switch (k) {
      case 'symbol': seen = once(seen, 1); symbol = nonEmptyStr(); continue;
      case 'bids': seen = once(seen, 2); bids = array(l3Order); continue;
      case 'asks': seen = once(seen, 4); asks = array(l3Order); continue;
      case 'checksum': seen = once(seen, 8); checksum = uint(0xffffffff); continue;
      case 'timestamp': seen = once(seen, 16); timestamp = nonEmptyStr(); continue;
      default: skipValue();
    }
  } while (more());
  if (symbol === undefined || bids === undefined || asks === undefined || checksum === undefined) bail();
  return timestamp === undefined ? { symbol, checksum, bids, asks } : { symbol, checksum, bids, asks, timestamp };
}

function tradeData(): object {
  let symbol: string | undefined;
  let side: string | undefined;
  let price: string | undefined;
  let qty: string | undefined;
  let ord_type: string | undefined;
  let trade_id: number | undefined;
  let timestamp: string | undefined;
  let seen = 0;
  if (openObject()) do {
    const k = key();
    switch (k) {
      case 'symbol': seen = once(seen, 1); symbol = nonEmptyStr(); continue;
      case 'side': seen = once(seen, 2); side = str(); if (side !== 'buy' && side !== 'sell') bail(); continue;
      case 'price': seen = once(seen, 4); price = dec(); continue;
      case 'qty': seen = once(seen, 8); qty = dec(); continue;
      case 'ord_type': seen = once(seen, 16); ord_type = str(); if (ord_type !== 'market' && ord_type !== 'limit') bail(); continue;
      case 'trade_id': seen = once(seen, 32); trade_id = uint(Number.MAX_SAFE_INTEGER); continue;
      case 'timestamp': seen = once(seen, 64); timestamp = nonEmptyStr(); continue;
      default: skipValue();
    }
  } while (more());
  if (seen !== 127) bail();
  return { symbol, side, price, qty, ord_type, trade_id, timestamp };
}

function tickerData(): object {
  let symbol: string | undefined;
  let timestamp: string | undefined;
  // Locals and a switch, not a record keyed by field name (a dictionary object per message was this
  // parser's top frame on the ticker channel).
  let bid = '', bid_qty = '', ask = '', ask_qty = '', last = '', volume = '';
  let vwap = '', low = '', high = '', change = '', change_pct = '';
  let seen = 0;
  if (openObject()) do {
    const k = key();
    switch (k) {
      case 'bid': seen = once(seen, 1); bid = dec(); continue;
      case 'bid_qty': seen = once(seen, 2); bid_qty = dec(); continue;
      case 'ask': seen = once(seen, 4); ask = dec(); continue;
      case 'ask_qty': seen = once(seen, 8); ask_qty = dec(); continue;
      case 'last': seen = once(seen, 16); last = dec(); continue;
      case 'volume': seen = once(seen, 32); volume = dec(); continue;
      case 'vwap': seen = once(seen, 64); vwap = dec(); continue;
      case 'low': seen = once(seen, 128); low = dec(); continue;
      case 'high': seen = once(seen, 256); high = dec(); continue;
      case 'change': seen = once(seen, 512); change = dec(); continue;
      case 'change_pct': seen = once(seen, 1024); change_pct = dec(); continue;
      case 'symbol': seen = once(seen, 2048); symbol = nonEmptyStr(); continue;
      case 'timestamp': seen = once(seen, 4096); timestamp = nonEmptyStr(); continue;
      default: skipValue();
    }
  } while (more());
  if (symbol === undefined || (seen & 2047) !== 2047) bail();
  return timestamp === undefined
    ? { symbol, bid, bid_qty, ask, ask_qty, last, volume, vwap, low, high, change, change_pct }
    : { symbol, bid, bid_qty, ask, ask_qty, last, volume, vwap, low, high, change, change_pct, timestamp };
}

// ---- envelope -----------------------------------------------------------------------------

const ELEMENT: Record<string, () => object> = { book: bookData, level3: l3Data, trade: tradeData, ticker: tickerData };

/**
 * The message, when the frame is a book/level3/trade/ticker data message this parser can prove
 * valid; `undefined` otherwise (use parseKrakenMessage). Never throws.
 */
export function fastParseKrakenMessage(raw: string): KrakenWsMessage | undefined {
  s = raw;
  i = 0;
  try {
    expect(123);
    if (str() !== 'channel') return undefined;
    expect(58);
    const channel = str();
    const element = ELEMENT[channel];
    if (element === undefined || !Object.hasOwn(ELEMENT, channel)) return undefined;
    let type: string | undefined;
    let data: object[] | undefined;
    ws();
    let d = s.charCodeAt(i++);
    while (d === 44) {
      const key = str();
      expect(58);
      if (key === 'type') {
        if (type !== undefined) bail();
        type = str();
        if (type !== 'snapshot' && type !== 'update') bail();
      } else if (key === 'data') {
        if (data !== undefined) bail();
        if (channel === 'level3') {
          if (type === undefined) bail(); // the element shape depends on the type
          l3IsUpdate = type === 'update';
        }
        data = array(element);
      } else if (key === 'channel') {
        bail();
      } else skipValue();
      ws();
      d = s.charCodeAt(i++);
    }
    if (d !== 125) bail();
    ws();
    if (i !== s.length) bail();
    if (type === undefined || data === undefined) bail();
    if (data.length === 0 && channel !== 'trade') bail();
    const kind = channel === 'level3' ? (type === 'snapshot' ? 'level3_snapshot' : 'level3_update') : channel;
    return { kind, channel, type, data } as KrakenWsMessage;
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  } finally {
    s = '';
  }
}

/** parseKrakenMessage with the fast path for the hot data messages. Never throws. */
export function parseKrakenFrame(raw: string): ParseResult {
  const m = fastParseKrakenMessage(raw);
  return m === undefined ? parseKrakenMessage(raw) : { ok: true, message: m };
}
