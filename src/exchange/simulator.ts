// The Exchange that talks to the local simulator's private REST: the Kraken REST client pointed at
// KRAKEN_REST_URL, which must be a loopback address (so that simulator mode can never send a signed
// order to real Kraken).
import type { Logger } from 'pino';
import { KrakenExchange } from './kraken-exchange.ts';
import { KrakenRestClient } from './kraken-rest.ts';
import { LocalNonceSource, type NonceSource } from './nonce.ts';
import { KrakenRateLimiter, type Clock, type RateLimitTier } from './rate-limit.ts';

/** The simulator enforces no rate limits; the client's counters only need to stay out of the way. */
export const SIMULATOR_TIER: RateLimitTier = { restMax: 1e6, restDecay: 1e6, tradingMax: 1e6, tradingDecay: 1e6 };

export interface SimulatorExchangeOptions {
  /** The simulator's base URL (http://127.0.0.1:port). */
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  /** Default: in-process nonces (the simulator's key is not shared with other processes). */
  nonces?: NonceSource;
  log?: Logger;
  clock?: Clock;
  /** Client-side rate limiting (default none: the simulator does not limit). */
  tier?: RateLimitTier;
  timeoutMs?: number;
  readRetries?: number;
  retryDelayMs?: number;
  /** KrakenExchangeOptions.fillsLookbackS (default 60). */
  fillsLookbackS?: number;
  /** KrakenExchangeOptions.tradePages (default 20). */
  tradePages?: number;
  /** KrakenExchangeOptions.tradeDeepReads (default 10). */
  tradeDeepReads?: number;
}

export function isLoopbackUrl(url: string): boolean {
  try {
    const h = new URL(url).hostname;
    return h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || h === '::1' || /^127\./.test(h);
  } catch {
    return false;
  }
}

export function createSimulatorExchange(opts: SimulatorExchangeOptions): KrakenExchange {
  if (!isLoopbackUrl(opts.baseUrl)) {
    throw new Error('simulator exchange refused: KRAKEN_REST_URL is not a loopback address (use TRADING_MODE=live for Kraken)');
  }
  const client = new KrakenRestClient({
    baseUrl: opts.baseUrl,
    credentials: { apiKey: opts.apiKey, apiSecret: opts.apiSecret },
    nonces: opts.nonces ?? new LocalNonceSource(),
    limiter: new KrakenRateLimiter(opts.tier ?? SIMULATOR_TIER, opts.clock),
    clock: opts.clock,
    log: opts.log,
    timeoutMs: opts.timeoutMs,
    readRetries: opts.readRetries,
    retryDelayMs: opts.retryDelayMs,
  });
  return new KrakenExchange({ kind: 'simulator', client, log: opts.log, clock: opts.clock, fillsLookbackS: opts.fillsLookbackS, tradePages: opts.tradePages, tradeDeepReads: opts.tradeDeepReads });
}
