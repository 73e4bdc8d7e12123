// Nonces for Kraken's private REST API: strictly increasing per API key, surviving restarts and
// shared by every process that uses the key. The PostgreSQL function kraken_nonce__next keeps the
// last nonce per key (keyed by a hash of the key, never the key itself) under a row lock.
import { createHash } from 'node:crypto';
import type pg from 'pg';

export interface NonceSource {
  next(): Promise<bigint>;
}

/** The id a key is stored under: sha256 of the key, hex. Not reversible to the key. */
export function apiKeyId(apiKey: string): string {
  return 'sha256:' + createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.Client, 'query'>;

/** Nonces from the database (shared across processes and restarts). */
export class PgNonceSource implements NonceSource {
  readonly #keyId: string;
  constructor(private readonly db: Queryable, apiKey: string) {
    this.#keyId = apiKeyId(apiKey);
  }
  async next(): Promise<bigint> {
    const { rows } = await this.db.query<{ nonce: string }>('select kapitaal.kraken_nonce__next($1)::text as nonce', [this.#keyId]);
    const row = rows[0];
    if (!row) throw new Error('kraken_nonce__next returned no row');
    return BigInt(row.nonce);
  }
}

/**
 * In-process nonces with the same rule (greatest(epoch-µs, last+1)). Only for a key no other process
 * uses, e.g. the simulator's; survives a restart only because the clock moved on.
 */
export class LocalNonceSource implements NonceSource {
  private last = 0n;
  constructor(private readonly nowMs: () => number = Date.now) {}
  async next(): Promise<bigint> {
    const t = BigInt(Math.floor(this.nowMs())) * 1000n;
    this.last = t > this.last ? t : this.last + 1n;
    return this.last;
  }
}
