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
  return TIMESTAMP.test(value);
}

/** A timestamp the exchange sent: kept when well-formed, null otherwise (never poisons a batch). */
export function copyExchangeTs(value: string | null | undefined): string {
  return value !== null && value !== undefined && TIMESTAMP.test(value) ? value : COPY_NULL;
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
