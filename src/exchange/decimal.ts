// Exact decimal arithmetic for money: a private Decimal constructor (its settings never leak into,
// or from, other users of decimal.js). Results leave as plain decimal strings without exponent.
import { Decimal as Base } from 'decimal.js';

export const Dec = Base.clone({ precision: 60, rounding: Base.ROUND_HALF_EVEN, toExpNeg: -60, toExpPos: 60 });
export type Dec = InstanceType<typeof Dec>;

const DECIMAL_TEXT = /^\d+(\.\d+)?$/;

/** Parses a non-negative decimal string strictly (no exponent, no sign, no spaces). */
export function dec(text: string, what = 'amount'): Dec {
  if (!DECIMAL_TEXT.test(text)) throw new RangeError(`${what} is not a non-negative decimal string: ${JSON.stringify(text)}`);
  return new Dec(text);
}

/** Plain decimal text, trailing zeros dropped ("1.50" → "1.5", "0" → "0"). */
export function str(d: Dec): string {
  return d.toFixed();
}

/** Fixed number of decimals (trailing zeros kept), rounding as given (default half-even). */
export function fixed(d: Dec, decimals: number, rounding: Base.Rounding = Base.ROUND_HALF_EVEN): string {
  return d.toFixed(decimals, rounding);
}

export const ROUND_UP = Base.ROUND_UP;
export const ROUND_DOWN = Base.ROUND_DOWN;
export const ROUND_HALF_EVEN = Base.ROUND_HALF_EVEN;

/** Number of decimals a decimal string carries ("1.250" → 3). */
export function decimalsOf(text: string): number {
  const i = text.indexOf('.');
  return i < 0 ? 0 : text.length - i - 1;
}

export const ZERO = new Dec(0);
