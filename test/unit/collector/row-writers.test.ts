// The row writers (rows.ts) encode straight into a LineBuffer; their bytes must be exactly the COPY
// text lines built from the copy-text helpers (the string encoders they replaced), for random rows and
// edge values, and a row that cannot be encoded must leave nothing behind.
import { describe, expect, it } from 'vitest';
import {
  copyBool, copyDecimal, copyExchangeTs, copyMillis, copyNullableDecimal, copyNumericField, copyText, isTimestampText,
} from '../../../src/ingest/copy-text.ts';
import { LineBuffer } from '../../../src/ingest/line-buffer.ts';
import {
  lineOf, writeL2, writeL3, writeTicker, writeTrade, type L2Row, type L3Row, type RowWriter, type TickerRow, type TradeRow,
} from '../../../src/ingest/rows.ts';

// ---- reference encoders (string concatenation over the copy-text helpers) ----------------------------
const ints = (ls: readonly { orders: number }[]) => `{${ls.map((l) => { if (!Number.isSafeInteger(l.orders)) throw new TypeError('int'); return l.orders; }).join(',')}}`;
const refTicker = (id: string, r: TickerRow, ms: number) =>
  [id, copyText(r.symbol), copyDecimal(r.bid), copyDecimal(r.bid_qty), copyDecimal(r.ask), copyDecimal(r.ask_qty),
    copyDecimal(r.last), copyDecimal(r.volume), copyNullableDecimal(r.vwap), copyNullableDecimal(r.low),
    copyNullableDecimal(r.high), copyNullableDecimal(r.change), copyNullableDecimal(r.change_pct),
    copyExchangeTs(r.timestamp), copyMillis(ms)].join('\t') + '\n';
const refTrade = (id: string, r: TradeRow, ms: number) => {
  if (!isTimestampText(r.timestamp)) throw new TypeError('timestamp');
  if (!Number.isSafeInteger(r.trade_id)) throw new TypeError('trade_id');
  return [id, copyText(r.symbol), r.side === 'buy' ? 'buy' : 'sell', copyDecimal(r.price), copyDecimal(r.qty),
    r.ord_type === 'market' ? 'market' : 'limit', r.trade_id, r.timestamp, copyMillis(ms)].join('\t') + '\n';
};
const refL2 = (id: string, r: L2Row, ms: number) =>
  [id, copyText(r.symbol), r.depth, copyBool(r.isSnapshot), copyNumericField(r.bids, 'price'), copyNumericField(r.bids, 'qty'),
    copyNumericField(r.asks, 'price'), copyNumericField(r.asks, 'qty'), r.checksum >>> 0, copyBool(r.checksumOk),
    r.updatesApplied, copyExchangeTs(r.exchangeTs), copyMillis(ms)].join('\t') + '\n';
const refL3 = (id: string, r: L3Row, ms: number) =>
  [id, copyText(r.symbol), copyNumericField(r.bids, 'price'), copyNumericField(r.bids, 'qty'), ints(r.bids),
    copyNumericField(r.asks, 'price'), copyNumericField(r.asks, 'qty'), ints(r.asks), r.adds, r.modifies, r.deletes,
    copyDecimal(r.addedQty), copyDecimal(r.removedQty), r.touchAdds, r.touchDeletes, r.checksum >>> 0,
    copyBool(r.checksumOk), copyExchangeTs(r.exchangeTs), copyMillis(ms)].join('\t') + '\n';

// ---- random values, biased to edges --------------------------------------------------------------
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const DECIMALS = ['0', '0.0', '0.00000000', '1', '10', '45285.2', '0.10000000', '1e-8', '2.5E+3', '-1.5', '-0', '000.100',
  '123456789012345678901234567890.123456789012345678', '7.'.slice(0, 1)];
const BAD = ['', '1,2', '1\t2', '.5', '5.', '1..2', 'NaN', 'Infinity', '1e', '٣', '1 ', '１'];
const dec = () => (rnd() < 0.5 ? pick(DECIMALS) : `${Math.floor(rnd() * 1e6)}.${String(Math.floor(rnd() * 1e8)).padStart(8, '0')}`);
const SYMBOLS = ['BTC/USD', 'ETH/EUR', 'é/€', 'A\\B', 'tab\there', 'nl\nx', 'cr\rx', '😀/USD', 'X\\N'];
const TS = ['2023-09-25T09:04:31.742599Z', '2023-09-25T09:04:31Z', '2023-09-25 09:04:31.1+02:00', 'yesterday', ''];
const levels = (n: number) => Array.from({ length: n }, () => ({ price: dec(), qty: dec(), orders: Math.floor(rnd() * 50) }));
const ms = () => pick([0, -1, 1.5, Date.UTC(2026, 10, 25, 23, 59, 59, 999), 1764115200000 + Math.floor(rnd() * 5000)]);
const ticker = (): TickerRow => ({ symbol: pick(SYMBOLS), bid: dec(), bid_qty: dec(), ask: dec(), ask_qty: dec(), last: dec(),
  volume: dec(), vwap: pick([dec(), null, undefined]), low: pick([dec(), null]), high: dec(), change: pick([dec(), undefined]),
  change_pct: dec(), timestamp: pick([...TS, null, undefined]) });
const trade = (): TradeRow => ({ symbol: pick(SYMBOLS), side: pick(['buy', 'sell'] as const), price: dec(), qty: dec(),
  ord_type: pick(['market', 'limit'] as const), trade_id: pick([0, 1, 9, 10, 99, 4294967296, Number.MAX_SAFE_INTEGER, -7, Math.floor(rnd() * 1e9)]),
  timestamp: pick(TS.slice(0, 3)) });
const l2 = (): L2Row => ({ symbol: pick(SYMBOLS), depth: pick([10, 25, 1000]), isSnapshot: rnd() < 0.5, bids: levels(Math.floor(rnd() * 11)),
  asks: levels(Math.floor(rnd() * 11)), checksum: pick([0, -1, 0x7fffffff, 0xffffffff, Math.floor(rnd() * 2 ** 32)]), checksumOk: rnd() < 0.5,
  updatesApplied: Math.floor(rnd() * 300), exchangeTs: pick([...TS, null, undefined]) });
const l3 = (): L3Row => ({ symbol: pick(SYMBOLS), bids: levels(Math.floor(rnd() * 11)), asks: levels(Math.floor(rnd() * 11)),
  adds: Math.floor(rnd() * 20), modifies: Math.floor(rnd() * 20), deletes: 0, addedQty: dec(), removedQty: dec(),
  touchAdds: 3, touchDeletes: 12345, checksum: Math.floor(rnd() * 2 ** 32) - 2 ** 31, checksumOk: rnd() < 0.5,
  exchangeTs: pick([...TS, null, undefined]) });

const kinds = [
  [writeTicker, refTicker, ticker], [writeTrade, refTrade, trade], [writeL2, refL2, l2], [writeL3, refL3, l3],
] as unknown as [RowWriter<unknown>, (id: string, r: unknown, ms: number) => string, () => unknown][];

/** The reference line, or the error it throws. */
const ref = (f: (id: string, r: unknown, m: number) => string, id: string, r: unknown, m: number) => {
  try { return f(id, r, m); } catch { return null; }
};

describe('row writers', () => {
  it('write exactly the reference COPY lines, into one buffer across chunks, and leave nothing of a row they reject', () => {
    const buf = new LineBuffer();
    const expected: string[] = [];
    let rejected = 0;
    for (let i = 0; i < 40_000; i++) {
      const [write, reference, make] = kinds[i % 4]!;
      const row = make() as Record<string, unknown>;
      // Now and then a value that is not decimal text, or an order count that is not an integer.
      if (rnd() < 0.05) {
        if ('bids' in row && (row.bids as unknown[]).length > 0) (row.bids as Record<string, unknown>[])[0]![pick(['price', 'qty', 'orders'])] = pick([...BAD, 1.5, undefined]);
        else if ('price' in row) row.price = pick(BAD);
        else if ('bid' in row) row.bid = pick(BAD);
      }
      const m = ms();
      const want = ref(reference, '7', row, m);
      buf.beginRow();
      let threw = false;
      try { write(buf, '7', row, m); } catch { threw = true; }
      if (threw) { buf.abortRow(); rejected++; } else buf.endRow(m);
      expect(threw, JSON.stringify(row)).toBe(want === null);
      if (want !== null) {
        expected.push(want);
        if (i < 2000) expect(lineOf(write, '7', row, m)).toBe(want);
      }
    }
    expect(rejected).toBeGreaterThan(100);
    expect(buf.rows).toBe(expected.length);
    expect(buf.bytes().toString('utf8')).toBe(expected.join(''));
  });

  it('keeps the decimal digits as sent, escapes text and writes integers at the edges', () => {
    const b = new LineBuffer();
    b.beginRow();
    for (const d of ['0.00000000', '-1.50', '1e-8', '2.5E+3', '000.100']) { b.decimal(d); b.byte(44); }
    for (const v of [0, 9, 10, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) { b.int(v); b.byte(44); }
    b.text('a\\b\tc\nd\re é😀\t');
    b.endRow(0);
    expect(b.bytes().toString('utf8')).toBe(
      `0.00000000,-1.50,1e-8,2.5E+3,000.100,0,9,10,-1,${Number.MAX_SAFE_INTEGER},-${Number.MAX_SAFE_INTEGER},a\\\\b\\tc\\nd\\re é😀\\t`);
    for (const bad of BAD) expect(() => new LineBuffer().decimal(bad)).toThrow(/not decimal/);
    expect(() => new LineBuffer().int(1.5)).toThrow();
    expect(() => new LineBuffer().int(2 ** 53)).toThrow();
  });
});
