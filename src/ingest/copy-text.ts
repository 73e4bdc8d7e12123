// PostgreSQL COPY text format: one line per row, columns separated by tabs, `\N` for null.
// Backslash, tab, newline and carriage return inside a value are escaped; everything else goes
// through unchanged. Decimal numbers stay the text Kraken sent (never a JS number).
import { isDecimalText } from '../kraken/decimal-text.ts';

export const COPY_NULL = '\\N';

const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_G = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Escapes a text value for a COPY text column. */
export function copyText(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIAL_G, (c) => ESCAPES[c]!) : value;
}

/** A nullable text value. */
export function copyNullable(value: string | null | undefined): string {
  return value === null || value === undefined ? COPY_NULL : copyText(value);
}

/**
 * A numeric[] literal from decimal texts: ['45285.2', '0.10000000'] → {45285.2,0.10000000}.
 * The values must be decimal text (validated by the message schemas); a non-decimal value throws,
 * so it can never smuggle a delimiter into the row.
 */
export function copyNumericArray(values: readonly string[]): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!isPlainDecimal(v) && !isDecimalText(v)) throw new TypeError(`not decimal text: ${JSON.stringify(v)}`);
    s += i === 0 ? v : `,${v}`;
  }
  return `${s}}`;
}

/** The numeric[] literal of one field of each level: copyNumericField(levels, 'price') → {45285.2,45285.1}. */
export function copyNumericField<K extends string>(levels: readonly { readonly [k in K]: string }[], field: K): string {
  let s = '{';
  for (let i = 0; i < levels.length; i++) {
    const v = levels[i]![field];
    if (!isPlainDecimal(v) && !isDecimalText(v)) throw new TypeError(`not decimal text: ${JSON.stringify(v)}`);
    s += i === 0 ? v : `,${v}`;
  }
  return `${s}}`;
}

/** Hot-path check for \d+(\.\d+)? without a regex (anything else goes to isDecimalText). */
export function isPlainDecimal(v: string): boolean {
  const n = v.length;
  if (n === 0 || typeof v !== 'string') return false;
  let dot = -1;
  for (let k = 0; k < n; k++) {
    const c = v.charCodeAt(k);
    if (c === 46) {
      if (dot >= 0 || k === 0) return false;
      dot = k;
    } else if (c < 48 || c > 57) return false;
  }
  return dot !== n - 1;
}

/** An integer[] literal: [3, 1] → {3,1}. */
export function copyIntArray(values: readonly number[]): string {
  for (const v of values) if (!Number.isSafeInteger(v)) throw new TypeError(`not an integer: ${v}`);
  return `{${values.join(',')}}`;
}


/** A decimal text column; throws on anything that is not a finite decimal number. */
export function copyDecimal(value: string): string {
  if (!isPlainDecimal(value) && !isDecimalText(value)) throw new TypeError(`not decimal text: ${JSON.stringify(value)}`);
  return value;
}

export function copyNullableDecimal(value: string | null | undefined): string {
  return value === null || value === undefined ? COPY_NULL : copyDecimal(value);
}

// RFC 3339 as Kraken sends it (2023-09-25T09:04:31.742599Z); offsets accepted too.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/** True when PostgreSQL's timestamptz input will accept the text exactly as it is. */
export function isTimestampText(value: string): boolean {
  return typeof value === 'string' ? isTimestampChars(value) : TIMESTAMP.test(value);
}

/** TIMESTAMP (the reference, kept for tests) as a char loop: it ran once per row on the collector's hot path. */
function isTimestampChars(v: string): boolean {
  const n = v.length;
  if (n < 20) return false;
  if (!digits(v, 0, 4) || v.charCodeAt(4) !== 45 || !digits(v, 5, 2) || v.charCodeAt(7) !== 45 || !digits(v, 8, 2)) return false;
  const t = v.charCodeAt(10);
  if ((t !== 84 && t !== 32) || !digits(v, 11, 2) || v.charCodeAt(13) !== 58 || !digits(v, 14, 2) || v.charCodeAt(16) !== 58 || !digits(v, 17, 2)) return false;
  let k = 19;
  if (v.charCodeAt(k) === 46) {
    k++;
    const start = k;
    while (k < n && isDigit(v.charCodeAt(k))) k++;
    if (k === start || k - start > 9) return false;
  }
  const z = v.charCodeAt(k);
  if (z === 90) return k + 1 === n; // Z
  if (z !== 43 && z !== 45) return false;
  // [+-]\d{2}:?\d{2}
  if (!digits(v, k + 1, 2)) return false;
  const m = v.charCodeAt(k + 3) === 58 ? k + 4 : k + 3;
  return digits(v, m, 2) && m + 2 === n;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digits(v: string, at: number, count: number): boolean {
  for (let k = at; k < at + count; k++) if (!isDigit(v.charCodeAt(k))) return false;
  return true;
}

/** The regular expression isTimestampText implements (tests compare the two). */
export const TIMESTAMP_PATTERN = TIMESTAMP;

/** A timestamp the exchange sent: kept when well-formed, null otherwise (never poisons a batch). */
export function copyExchangeTs(value: string | null | undefined): string {
  return value !== null && value !== undefined && isTimestampText(value) ? value : COPY_NULL;
}

export function copyBool(value: boolean): string {
  return value ? 't' : 'f';
}

let lastMillis = NaN;
let lastMillisText = '';
let lastSecond = NaN;
let lastSecondText = '';
const MS3 = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}Z`);

/**
 * Engine-clock timestamps: milliseconds since the epoch as ISO text. Rows of one message share it, and
 * the date-time part is formatted once per second (toISOString per new millisecond was a hotspot).
 */
export function copyMillis(ms: number): string {
  if (ms !== lastMillis) {
    const sec = Math.floor(ms / 1000);
    if (sec !== lastSecond || !Number.isSafeInteger(ms)) {
      lastSecondText = new Date(sec * 1000).toISOString().slice(0, -5); // without '.000Z'
      lastSecond = sec;
    }
    lastMillisText = Number.isSafeInteger(ms) && lastSecondText.length === 19
      ? lastSecondText + MS3[ms - sec * 1000]!
      : new Date(ms).toISOString();
    lastMillis = ms;
  }
  return lastMillisText;
}
