import { describe, expect, it } from 'vitest';
import {
  checksumDigits, compareDecimalText, formatDecimalText, formatScaled, formatScaledTrimmed, normalizeDecimalText, parseScaled,
} from '../../../src/kraken/decimal-text.ts';

describe('decimal-text', () => {
  it('formats scaled integers with trailing zeros at the precision', () => {
    expect(formatScaled(10000000n, 8)).toBe('0.10000000');
    expect(formatScaled(452852n, 1)).toBe('45285.2');
    expect(formatScaled(1n, 8)).toBe('0.00000001');
    expect(formatScaled(0n, 2)).toBe('0.00');
    expect(formatScaled(-5n, 2)).toBe('-0.05');
    expect(formatScaled(42n, 0)).toBe('42');
  });

  it('parses decimal text exactly, including exponent notation', () => {
    expect(parseScaled('0.1', 8)).toBe(10000000n);
    expect(parseScaled('45285.2', 1)).toBe(452852n);
    expect(parseScaled('1e-8', 8)).toBe(1n);
    expect(parseScaled('1.5E+3', 2)).toBe(150000n);
    expect(parseScaled('-0.50', 2)).toBe(-50n);
    expect(() => parseScaled('0.123', 2)).toThrow(/more than 2 decimals/);
    expect(() => parseScaled('abc', 2)).toThrow();
  });

  it('re-formats text at a precision (the JSON.parse trap)', () => {
    expect(formatDecimalText(String(JSON.parse('0.10000000')), 8)).toBe('0.10000000');
    expect(formatDecimalText('0.563', 6)).toBe('0.563000');
  });

  it('applies the checksum digit rule', () => {
    expect(checksumDigits('0.00100000')).toBe('100000');
    expect(checksumDigits('45285.2')).toBe('452852');
    expect(checksumDigits('0.10000000')).toBe('10000000');
  });

  it('compares and normalizes without floats', () => {
    expect(compareDecimalText('45285.2', '45285.20')).toBe(0);
    expect(compareDecimalText('9.9', '10')).toBe(-1);
    expect(compareDecimalText('0.00000002', '0.00000001')).toBe(1);
    expect(compareDecimalText('-1', '0')).toBe(-1);
    expect(compareDecimalText('0.0', '0')).toBe(0);
    // Beyond float precision: still exact.
    expect(compareDecimalText('12345678901234567.01', '12345678901234567.02')).toBe(-1);
    expect(normalizeDecimalText('045.10')).toBe('45.1');
    expect(normalizeDecimalText('1e-8')).toBe('0.00000001');
  });

  it('formatScaledTrimmed is normalizeDecimalText(formatScaled(…)) without regexes', () => {
    expect(formatScaledTrimmed(1250000n, 6)).toBe('1.25');
    expect(formatScaledTrimmed(0n, 18)).toBe('0');
    expect(formatScaledTrimmed(-5n, 2)).toBe('-0.05');
    expect(formatScaledTrimmed(3000n, 3)).toBe('3');
    expect(formatScaledTrimmed(42n, 0)).toBe('42');
    let x = 12345n;
    for (let i = 0; i < 2000; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) % (1n << 64n);
      const v = (x >> BigInt(i % 60)) * (i % 3 === 0 ? -1n : 1n) * (i % 7 === 0 ? 1000n : 1n);
      const d = i % 20;
      expect(formatScaledTrimmed(v, d)).toBe(normalizeDecimalText(formatScaled(v, d)));
    }
  });
});
