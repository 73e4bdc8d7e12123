// COPY text encoding: escaping, nulls, numeric arrays that keep Kraken's digits.
import { describe, expect, it } from 'vitest';
import {
  copyExchangeTs, copyIntArray, copyMillis, copyNullable, copyNumericArray, copyText, isTimestampText, TIMESTAMP_PATTERN,
} from '../../../src/ingest/copy-text.ts';
import { l2Line, tradeLine } from '../../../src/ingest/rows.ts';

describe('COPY text encoding', () => {
  it('escapes backslash, tab, newline and carriage return, and nothing else', () => {
    expect(copyText('BTC/USD')).toBe('BTC/USD');
    expect(copyText('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(copyText('é "quoted" ,{}')).toBe('é "quoted" ,{}');
    expect(copyNullable(null)).toBe('\\N');
    expect(copyNullable('\\N')).toBe('\\\\N');
  });

  it('writes numeric arrays with the exact decimal text, and refuses anything else', () => {
    expect(copyNumericArray(['45285.2', '0.10000000', '1e-8'])).toBe('{45285.2,0.10000000,1e-8}');
    expect(copyNumericArray([])).toBe('{}');
    expect(() => copyNumericArray(['1,2'])).toThrow(/not decimal/);
    expect(() => copyNumericArray(['1\t2'])).toThrow(/not decimal/);
    expect(copyIntArray([3, 0, 12])).toBe('{3,0,12}');
    expect(() => copyIntArray([1.5])).toThrow();
  });

  it('keeps well-formed exchange timestamps and turns others into null', () => {
    expect(copyExchangeTs('2023-09-25T09:04:31.742599Z')).toBe('2023-09-25T09:04:31.742599Z');
    expect(copyExchangeTs('yesterday')).toBe('\\N');
    expect(copyExchangeTs(undefined)).toBe('\\N');
    expect(isTimestampText('2023-09-25T09:04:31Z')).toBe(true);
  });

  it('builds whole lines in column order with a trailing newline', () => {
    const line = tradeLine('7', {
      symbol: 'BTC/USD', side: 'sell', price: '45285.2', qty: '0.00100000', ord_type: 'limit', trade_id: 42,
      timestamp: '2023-09-25T09:04:31.742599Z',
    }, Date.UTC(2026, 0, 1));
    expect(line).toBe('7\tBTC/USD\tsell\t45285.2\t0.00100000\tlimit\t42\t2023-09-25T09:04:31.742599Z\t2026-01-01T00:00:00.000Z\n');
    expect(() => tradeLine('7', {
      symbol: 'X', side: 'buy', price: '1', qty: '1', ord_type: 'limit', trade_id: 1, timestamp: 'nope',
    }, 0)).toThrow(/timestamp/);
    const l2 = l2Line('7', {
      symbol: 'BTC/USD', depth: 10, isSnapshot: true, bids: [{ price: '1.0', qty: '2.50' }], asks: [],
      checksum: 0xffffffff, checksumOk: false, updatesApplied: 3, exchangeTs: null,
    }, 0);
    expect(l2.split('\t')).toEqual([
      '7', 'BTC/USD', '10', 't', '{1.0}', '{2.50}', '{}', '{}', '4294967295', 'f', '3', '\\N', '1970-01-01T00:00:00.000Z\n',
    ]);
  });

  it('isTimestampText accepts exactly what its regular expression does, on edge forms and random mutations', () => {
    const seeds = ['2023-09-25T09:04:31.742599Z', '2023-09-25T09:04:31Z', '2023-09-25 09:04:31.123456789+02:00',
      '2023-09-25T09:04:31-0530', '2023-09-25T09:04:31.1+00:00', '2023-09-25T09:04:31.1234567890Z', '2023-09-25T09:04:31.Z',
      '2023-09-25T09:04:31+02:0', '2023-09-25T09:04:31+02:000', '2023-09-25T09:04:31Zx', '2023-9-25T09:04:31Z', '', 'Z'];
    const alphabet = '0123456789-+:.TZ tz\n٣';
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    const cases = [...seeds];
    for (let i = 0; i < 20_000; i++) {
      const a = [...seeds[rnd(seeds.length)]!];
      for (let m = 1 + rnd(3); m > 0; m--) {
        const at = rnd(a.length + 1);
        const op = rnd(3);
        const ch = alphabet[rnd(alphabet.length)]!;
        if (op === 0) a.splice(at, 1); else if (op === 1) a.splice(at, 0, ch); else a.splice(at, 1, ch);
      }
      cases.push(a.join(''));
    }
    let accepted = 0;
    for (const c of cases) {
      expect(isTimestampText(c), JSON.stringify(c)).toBe(TIMESTAMP_PATTERN.test(c));
      if (isTimestampText(c)) accepted++;
    }
    expect(accepted).toBeGreaterThan(200); // both sides of the decision are exercised
    expect(accepted).toBeLessThan(cases.length - 1000);
  });

  it('copyMillis is toISOString, also across seconds, repeats and odd values', () => {
    const base = Date.UTC(2026, 10, 25, 23, 59, 59, 990);
    const values = [base, base, base + 9, base + 10, base + 10, base - 1, 0, -1, -1001, 1.5, 253402300800000, 8.64e15];
    for (let i = 0; i < 3000; i++) values.push(base + ((i * 7919) % 5000) - 2500);
    for (const ms of values) expect(copyMillis(ms)).toBe(new Date(ms).toISOString());
  });
});
