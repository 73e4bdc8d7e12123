// Decimal numbers as text or as scaled bigint integers. Money never goes through a float here:
// Kraken's checksum hashes the exact digits it sent, trailing zeros included.

const PLAIN = /^(-)?(\d+)(?:\.(\d+))?$/;
const EXPONENT = /^(-)?(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/;

/** Scaled integer → text with exactly `decimals` fraction digits: (452852n, 1) → "45285.2". */
export function formatScaled(value: bigint, decimals: number): string {
  const neg = value < 0n;
  const digits = (neg ? -value : value).toString();
  if (decimals === 0) return neg ? `-${digits}` : digits;
  const padded = digits.padStart(decimals + 1, '0');
  const cut = padded.length - decimals;
  return `${neg ? '-' : ''}${padded.slice(0, cut)}.${padded.slice(cut)}`;
}

/**
 * Scaled integer → canonical text (no trailing fraction zeros, no '.' when whole), the same as
 * normalizeDecimalText(formatScaled(value, decimals)) without its regexes: (1250000n, 6) → "1.25".
 */
export function formatScaledTrimmed(value: bigint, decimals: number): string {
  const neg = value < 0n;
  const digits = (neg ? -value : value).toString();
  if (digits === '0') return '0';
  let text: string;
  if (decimals === 0) text = digits;
  else {
    const padded = digits.length > decimals ? digits : '0'.repeat(decimals + 1 - digits.length) + digits;
    const cut = padded.length - decimals;
    let end = padded.length;
    while (end > cut && padded.charCodeAt(end - 1) === 48) end--;
    text = end === cut ? padded.slice(0, cut) : `${padded.slice(0, cut)}.${padded.slice(cut, end)}`;
  }
  return neg ? `-${text}` : text;
}

/**
 * Decimal text (plain or exponent form, as JS prints 1e-8) → integer scaled by 10^decimals.
 * Throws when the text carries non-zero digits beyond `decimals`: that is a precision bug, not rounding.
 */
export function parseScaled(text: string, decimals: number): bigint {
  // Hot path: plain digits (optionally one '.'), no regex.
  const n = text.length;
  let k = 0;
  let dot = -1;
  let plain = n > 0;
  for (; k < n; k++) {
    const c = text.charCodeAt(k);
    if (c === 46 && dot < 0 && k > 0) dot = k;
    else if (c < 48 || c > 57) { plain = false; break; }
  }
  if (plain && dot !== n - 1) {
    if (dot < 0) return BigInt(decimals === 0 ? text : text + '0'.repeat(decimals));
    let end = n;
    while (end > dot + 1 && text.charCodeAt(end - 1) === 48) end--;
    const fracLen = end - dot - 1;
    if (fracLen > decimals) throw new RangeError(`${text} has more than ${decimals} decimals`);
    return BigInt(text.slice(0, dot) + text.slice(dot + 1, end) + '0'.repeat(decimals - fracLen));
  }
  const { neg, intPart, frac } = splitDecimal(text);
  const trimmed = frac.replace(/0+$/, '');
  if (trimmed.length > decimals) throw new RangeError(`${text} has more than ${decimals} decimals`);
  const v = BigInt(intPart + trimmed.padEnd(decimals, '0'));
  return neg ? -v : v;
}

/** Re-format decimal text at a precision with trailing zeros: ("0.1", 8) → "0.10000000". */
export function formatDecimalText(text: string, decimals: number): string {
  return formatScaled(parseScaled(text, decimals), decimals);
}

/** Checksum digit rule: drop the '.', then strip leading zeros ("0.00100000" → "100000"). */
export function checksumDigits(text: string): string {
  // Hot path (every level of every message): no regex.
  const dot = text.indexOf('.');
  const s = dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1);
  let k = 0;
  while (k < s.length && s.charCodeAt(k) === 48) k++;
  return k === 0 ? s : s.slice(k);
}

/** Canonical form for map keys and equality: no exponent, no leading/trailing zeros ("045.10" → "45.1"). */
export function normalizeDecimalText(text: string): string {
  const { neg, intPart, frac } = splitDecimal(text);
  const i = intPart.replace(/^0+(?=\d)/, '');
  const f = frac.replace(/0+$/, '');
  const body = f ? `${i}.${f}` : i;
  return neg && body !== '0' ? `-${body}` : body;
}

/** Compares two non-negative-or-negative decimal texts numerically without floats. */
export function compareDecimalText(a: string, b: string): number {
  const x = splitDecimal(a);
  const y = splitDecimal(b);
  const xz = isZero(x);
  const yz = isZero(y);
  const xs = xz ? 0 : x.neg ? -1 : 1;
  const ys = yz ? 0 : y.neg ? -1 : 1;
  if (xs !== ys) return xs < ys ? -1 : 1;
  if (xs === 0) return 0;
  const mag = compareMagnitude(x, y);
  return xs < 0 ? -mag : mag;
}

/** Key of zero (and of -0) in decimalKey order. */
export const ZERO_KEY = '\u8000';

/**
 * An order-preserving, equality-preserving key for decimal text: for decimal texts a and b,
 * `decimalKey(a) < decimalKey(b)` exactly when a < b numerically, and the keys are equal exactly when
 * the values are ("45.10" and "045.1" share a key). Built once per price so that book searches
 * compare short strings instead of re-parsing decimal text. Throws on anything that is not decimal text.
 * Layout: one char encoding sign and integer-digit count, then the significant digits (for negative
 * numbers 9-complemented and closed by '~', which sorts above every digit).
 */
export function decimalKey(text: string): string {
  const n = text.length;
  let p = 0;
  let neg = false;
  if (text.charCodeAt(0) === 45) { neg = true; p = 1; }
  let dot = -1;
  let ok = p < n;
  for (let k = p; k < n; k++) {
    const c = text.charCodeAt(k);
    if (c === 46 && dot < 0 && k > p) dot = k;
    else if (c < 48 || c > 57) { ok = false; break; }
  }
  let intDigits: string;
  let frac: string;
  if (ok && dot !== n - 1) {
    const intEnd = dot < 0 ? n : dot;
    let a = p;
    while (a < intEnd && text.charCodeAt(a) === 48) a++;
    let end = n;
    if (dot >= 0) while (end > dot + 1 && text.charCodeAt(end - 1) === 48) end--;
    intDigits = text.slice(a, intEnd);
    frac = dot < 0 ? '' : text.slice(dot + 1, end);
  } else {
    const sp = splitDecimal(text); // exponent form (or a RangeError for non-decimal text)
    neg = sp.neg;
    intDigits = sp.intPart.replace(/^0+/, '');
    frac = sp.frac.replace(/0+$/, '');
  }
  if (intDigits.length === 0 && frac.length === 0) return ZERO_KEY;
  if (intDigits.length > 0x7000) throw new RangeError(`decimal text too long: ${text.length} characters`);
  if (!neg) return String.fromCharCode(0x8000 + intDigits.length) + intDigits + frac;
  let c = String.fromCharCode(0x7fff - intDigits.length);
  const digits = intDigits + frac;
  for (let k = 0; k < digits.length; k++) c += String.fromCharCode(105 - digits.charCodeAt(k)); // '0'..'9' → '9'..'0'
  return `${c}~`;
}

/** True for text that is a finite decimal number in plain or exponent notation. */
export function isDecimalText(text: string): boolean {
  return PLAIN.test(text) || EXPONENT.test(text);
}

interface Split { neg: boolean; intPart: string; frac: string }

function splitDecimal(text: string): Split {
  const p = PLAIN.exec(text);
  if (p) return { neg: p[1] === '-', intPart: p[2] ?? '0', frac: p[3] ?? '' };
  const e = EXPONENT.exec(text);
  if (!e) throw new RangeError(`not a decimal number: ${JSON.stringify(text)}`);
  // Shift the decimal point by the exponent, using only string operations.
  const digits = (e[2] ?? '') + (e[3] ?? '');
  const point = (e[2] ?? '').length + Number(e[4]);
  if (point <= 0) return { neg: e[1] === '-', intPart: '0', frac: '0'.repeat(-point) + digits };
  if (point >= digits.length) return { neg: e[1] === '-', intPart: digits.padEnd(point, '0'), frac: '' };
  return { neg: e[1] === '-', intPart: digits.slice(0, point), frac: digits.slice(point) };
}

function isZero(s: Split): boolean {
  return /^0*$/.test(s.intPart) && /^0*$/.test(s.frac);
}

function compareMagnitude(x: Split, y: Split): number {
  const xi = x.intPart.replace(/^0+/, '');
  const yi = y.intPart.replace(/^0+/, '');
  if (xi.length !== yi.length) return xi.length < yi.length ? -1 : 1;
  if (xi !== yi) return xi < yi ? -1 : 1;
  const n = Math.max(x.frac.length, y.frac.length);
  const xf = x.frac.padEnd(n, '0');
  const yf = y.frac.padEnd(n, '0');
  return xf === yf ? 0 : xf < yf ? -1 : 1;
}
