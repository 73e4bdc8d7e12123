// Structured pino logging. Every line that proves something carries a `marker`
// field from the catalogue in markers.ts.
import pino, { type Logger } from 'pino';
import type { Marker } from './markers.ts';

// Field names that must never reach a log line, whatever nests them.
const REDACT = [
  'KRAKEN_API_KEY',
  'KRAKEN_API_SECRET',
  'apiKey',
  'apiSecret',
  'secret',
  'password',
  '*.password',
  '*.secret',
  'headers["API-Key"]',
  'headers["API-Sign"]',
];

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'kapitaal'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}

/** Logs one marker line with its structured fields. */
export function mark(log: Logger, marker: Marker, fields: Record<string, unknown> = {}, msg?: string): void {
  log.info({ marker, ...fields }, msg ?? marker);
}
