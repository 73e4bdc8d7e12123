// Malformed or unknown messages are counted per kind and logged once per kind with a sample;
// they never crash the collector and are never stored.
import type { Logger } from 'pino';
import { mark } from '../log/logger.ts';

const SAMPLE_CHARS = 300;

export class MalformedCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly log: Logger) {}

  /** Records one rejected frame; `error` is the parser's reason, `raw` the frame text. */
  record(connection: string, error: string, raw: string): void {
    const kind = kindOf(error);
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n === 1) {
      mark(this.log, 'DATA_INTEGRITY_MALFORMED_MESSAGE', {
        connection,
        kind,
        error,
        sample: raw.length > SAMPLE_CHARS ? `${raw.slice(0, SAMPLE_CHARS)}…` : raw,
      }, `rejected a ${kind} message (further ones of this kind are only counted)`);
    }
  }

  get total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  byKind(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/** A stable kind from the parser's error text: `invalid JSON`, `unknown channel x`, `book`, … */
export function kindOf(error: string): string {
  if (error.startsWith('invalid JSON')) return 'invalid JSON';
  const unknown = /^unknown message \((.*)\)$/.exec(error);
  if (unknown) return `unknown ${unknown[1]}`;
  const colon = error.indexOf(':');
  return colon > 0 ? `invalid ${error.slice(0, colon)}` : error;
}
