// Live Kraken: real money. Only built behind an explicit opt-in (TRADING_MODE=live AND
// KAPITAAL_LIVE_CONFIRM=I_UNDERSTAND), with nonces from the database so that restarts and other
// processes using the key never reuse or reorder one.
import type pg from 'pg';
import type { Logger } from 'pino';
import { KrakenExchange } from './kraken-exchange.ts';
import { KrakenRestClient } from './kraken-rest.ts';
import { PgNonceSource } from './nonce.ts';
import { KrakenRateLimiter, TIERS, type RateLimitTier } from './rate-limit.ts';

export const LIVE_CONFIRM_VARIABLE = 'KAPITAAL_LIVE_CONFIRM';
export const LIVE_CONFIRM_VALUE = 'I_UNDERSTAND';

export interface LiveGateInput {
  tradingMode: string;
  confirm: string | undefined;
  restUrl: string;
  apiKey: string | undefined;
  apiSecret: string | undefined;
}

/** Null when live trading may start; otherwise the one-line reason it may not. */
export function liveRefusal(g: LiveGateInput): string | null {
  if (g.tradingMode !== 'live') return 'live trading refused: TRADING_MODE is not live';
  if (g.confirm !== LIVE_CONFIRM_VALUE) {
    return `live trading refused: set ${LIVE_CONFIRM_VARIABLE}=${LIVE_CONFIRM_VALUE} to confirm that real orders with real money are intended`;
  }
  if (!g.apiKey || !g.apiSecret) return 'live trading refused: KRAKEN_API_KEY and KRAKEN_API_SECRET must both be set';
  let url: URL;
  try {
    url = new URL(g.restUrl);
  } catch {
    return 'live trading refused: KRAKEN_REST_URL is not a URL';
  }
  if (url.protocol !== 'https:') return 'live trading refused: KRAKEN_REST_URL must be https://';
  return null;
}

export interface LiveExchangeOptions extends LiveGateInput {
  /** Decision-cluster pool: nonces come from kraken_nonce__next there. */
  pool: Pick<pg.Pool, 'query'>;
  log?: Logger;
  tier?: RateLimitTier;
}

export class LiveTradingRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'LiveTradingRefused';
  }
}

export function createLiveExchange(opts: LiveExchangeOptions): KrakenExchange {
  const refusal = liveRefusal(opts);
  if (refusal) throw new LiveTradingRefused(refusal);
  const client = new KrakenRestClient({
    baseUrl: opts.restUrl,
    credentials: { apiKey: opts.apiKey!, apiSecret: opts.apiSecret! },
    nonces: new PgNonceSource(opts.pool, opts.apiKey!),
    limiter: new KrakenRateLimiter(opts.tier ?? TIERS.starter),
    log: opts.log,
  });
  return new KrakenExchange({ kind: 'live', client, log: opts.log });
}
