// Kraken REST client: signed private calls (form-encoded body, API-Key/API-Sign headers), public
// calls, Kraken's {"error":[…],"result":…} envelope mapped to typed errors, client-side rate-limit
// counters that wait instead of tripping the limits, and nonces from a NonceSource (in production the
// database function kraken_nonce__next, shared by processes and restarts).
//
// Secrets: the key and the decoded secret live in private fields only (not enumerable, not shown by
// util.inspect or JSON.stringify). Error messages carry the method and Kraken's error strings, logs
// the method, timing and error strings: never headers, bodies, the key or the secret.
import type { Logger } from 'pino';
import { decodeSecret, krakenSignature } from './sign.ts';
import type { NonceSource } from './nonce.ts';
import { KrakenRateLimiter, realClock, restCallCost, type Clock } from './rate-limit.ts';
import {
  ExchangeError,
  InvalidArgumentsError,
  InvalidNonceError,
  OutcomeUnknownError,
  RateLimitError,
  krakenError,
  outcomeUnknown,
} from './errors.ts';
import type { KrakenAssetPair, KrakenOrderInfo } from './kraken-map.ts';

export interface KrakenCredentials {
  apiKey: string;
  /** Base64 API secret as Kraken shows it. */
  apiSecret: string;
}

export interface KrakenRestOptions {
  /** e.g. https://api.kraken.com or the simulator's http://127.0.0.1:port */
  baseUrl: string;
  credentials: KrakenCredentials;
  nonces: NonceSource;
  limiter?: KrakenRateLimiter;
  clock?: Clock;
  log?: Logger;
  /** Per-request timeout (default 15 s). A timeout is an OutcomeUnknownError. */
  timeoutMs?: number;
  /** Retries of read-only calls on unavailable/no-answer/rate-limit errors (default 2). */
  readRetries?: number;
  /** Pause before a read retry (default 1000 ms, doubled each time). */
  retryDelayMs?: number;
  fetch?: typeof fetch;
}

export type Params = Record<string, string | undefined>;

/** Calls that change state: never retried automatically except after EAPI:Invalid nonce (not processed). */
const MUTATING = new Set(['AddOrder', 'CancelOrder', 'CancelAll', 'EditOrder', 'AmendOrder', 'AddOrderBatch', 'CancelOrderBatch']);

export interface AddOrderParams {
  pair: string;
  type: 'buy' | 'sell';
  ordertype: 'limit' | 'market';
  volume: string;
  price?: string;
  cl_ord_id?: string;
  oflags?: string;
  timeinforce?: 'GTC' | 'IOC' | 'GTD';
  expiretm?: string;
  validate?: boolean;
}

export interface AddOrderResponse { txid?: string[]; descr: { order: string } }
export interface CancelOrderResponse { count: number; pending?: boolean }
export interface KrakenTradeInfo {
  ordertxid: string;
  postxid?: string;
  pair: string;
  time: number;
  type: string;
  ordertype: string;
  price: string;
  cost: string;
  fee: string;
  vol: string;
  maker?: boolean;
  trade_id?: number;
  misc?: string;
}

/** TradeVolume: fees in percent per pair (taker in `fees`, maker in `fees_maker` for maker/taker pairs). */
export interface TradeVolumeResponse {
  currency: string;
  volume: string;
  fees?: Record<string, { fee: string }>;
  fees_maker?: Record<string, { fee: string }>;
}

export class KrakenRestClient {
  readonly #apiKey: string;
  readonly #secret: Buffer;
  readonly #secretText: string;
  readonly #baseUrl: string;
  readonly #nonces: NonceSource;
  readonly #limiter: KrakenRateLimiter;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #timeoutMs: number;
  readonly #readRetries: number;
  readonly #retryDelayMs: number;
  readonly #fetch: typeof fetch;
  // Private calls go out one at a time so that nonces arrive in the order they were issued.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: KrakenRestOptions) {
    if (!opts.credentials.apiKey) throw new Error('KRAKEN_API_KEY is empty');
    this.#apiKey = opts.credentials.apiKey;
    this.#secret = decodeSecret(opts.credentials.apiSecret);
    this.#secretText = opts.credentials.apiSecret.trim();
    this.#baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.#nonces = opts.nonces;
    this.#clock = opts.clock ?? realClock;
    this.#limiter = opts.limiter ?? new KrakenRateLimiter(undefined, this.#clock);
    this.#log = opts.log;
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
    this.#readRetries = opts.readRetries ?? 2;
    this.#retryDelayMs = opts.retryDelayMs ?? 1000;
    this.#fetch = opts.fetch ?? fetch;
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  get limiter(): KrakenRateLimiter {
    return this.#limiter;
  }

  /** Shown by console.log/util.inspect: no credentials. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `KrakenRestClient(${this.#baseUrl})`;
  }
  toJSON(): { baseUrl: string } {
    return { baseUrl: this.#baseUrl };
  }

  /**
   * A signed private call. `trading` names the pair whose trading counter the call uses (AddOrder,
   * CancelOrder) and its cost; other calls use the REST counter.
   */
  async privateCall<T>(method: string, params: Params = {}, trading?: { pair: string; cost: number }): Promise<T> {
    const mutating = MUTATING.has(method);
    let nonceRetries = 1;
    let readRetries = mutating ? 0 : this.#readRetries;
    let delay = this.#retryDelayMs;
    for (;;) {
      try {
        if (trading) {
          if (trading.cost > 0) await this.#limiter.tradingCounter(trading.pair).acquire(trading.cost);
        } else {
          await this.#limiter.restCounter().acquire(restCallCost(method));
        }
        return await this.#serial(() => this.#send<T>(method, params));
      } catch (err) {
        if (!(err instanceof ExchangeError)) throw err;
        if (err instanceof RateLimitError) {
          if (trading) this.#limiter.tradingCounter(trading.pair).saturate();
          else this.#limiter.restCounter().saturate();
        }
        if (err instanceof InvalidNonceError && nonceRetries-- > 0) {
          this.#log?.warn({ method, krakenErrors: err.krakenErrors }, 'kraken: invalid nonce, retrying once with a fresh nonce');
          continue;
        }
        // Repeated invalid nonces can get the key banned for a while: one retry, never more.
        if (!mutating && err.retryable && !(err instanceof InvalidNonceError) && readRetries-- > 0) {
          this.#log?.warn({ method, error: err.message }, 'kraken: retrying read-only call');
          await this.#clock.sleep(delay);
          delay *= 2;
          continue;
        }
        throw err;
      }
    }
  }

  /** An unsigned public call (GET with query string). */
  async publicCall<T>(method: string, query: Params = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.append(k, v);
    const url = `${this.#baseUrl}/0/public/${method}${qs.size ? `?${qs}` : ''}`;
    const res = await this.#request(method, url, { method: 'GET' });
    return this.#unwrap<T>(method, res);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #send<T>(method: string, params: Params): Promise<T> {
    const path = `/0/private/${method}`;
    const nonce = (await this.#nonces.next()).toString();
    const form = new URLSearchParams();
    form.append('nonce', nonce);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) form.append(k, v);
    const body = form.toString();
    const headers = {
      'API-Key': this.#apiKey,
      'API-Sign': krakenSignature(path, nonce, body, this.#secret),
      'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
    };
    const res = await this.#request(method, this.#baseUrl + path, { method: 'POST', headers, body });
    return this.#unwrap<T>(method, res);
  }

  async #request(method: string, url: string, init: RequestInit): Promise<{ status: number; text: string }> {
    const started = this.#clock.now();
    try {
      const res = await this.#fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
      const text = await res.text();
      this.#log?.debug({ method, status: res.status, ms: this.#clock.now() - started }, 'kraken call');
      return { status: res.status, text };
    } catch (err) {
      const why = describeNetworkError(err);
      this.#log?.warn({ method, why }, 'kraken call: no answer');
      throw outcomeUnknown(method, why);
    }
  }

  #unwrap<T>(method: string, res: { status: number; text: string }): T {
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      this.#log?.warn({ method, status: res.status }, 'kraken call: body is not JSON');
      throw outcomeUnknown(method, `HTTP ${res.status}, body is not JSON`);
    }
    const env = parsed as { error?: unknown; result?: unknown };
    const errors = Array.isArray(env?.error)
      ? env.error.filter((e): e is string => typeof e === 'string').map((e) => this.#scrub(e))
      : null;
    if (errors === null) throw outcomeUnknown(method, `HTTP ${res.status}, no error array`);
    if (errors.length > 0) {
      const err = krakenError(method, errors);
      this.#log?.warn({ method, status: res.status, krakenErrors: err.krakenErrors }, 'kraken call failed');
      throw err;
    }
    if (env.result === undefined) throw outcomeUnknown(method, `HTTP ${res.status}, no result`);
    return env.result as T;
  }

  /** A server (or proxy) that echoes credentials must not make us log or throw them. */
  #scrub(text: string): string {
    let out = text;
    for (const s of [this.#apiKey, this.#secretText]) if (s.length >= 8) out = out.split(s).join('[redacted]');
    return out;
  }

  // ---- typed wrappers -------------------------------------------------------------------------

  addOrder(p: AddOrderParams, tradingCost = 1): Promise<AddOrderResponse> {
    return this.privateCall<AddOrderResponse>(
      'AddOrder',
      {
        pair: p.pair,
        type: p.type,
        ordertype: p.ordertype,
        volume: p.volume,
        price: p.price,
        cl_ord_id: p.cl_ord_id,
        oflags: p.oflags,
        timeinforce: p.timeinforce,
        expiretm: p.expiretm,
        validate: p.validate ? 'true' : undefined,
      },
      { pair: p.pair, cost: tradingCost },
    );
  }

  cancelOrder(ref: { txid: string } | { cl_ord_id: string }, trading: { pair: string; cost: number } | undefined): Promise<CancelOrderResponse> {
    // Without a known pair the cancel is counted on the REST counter (it still costs something).
    return this.privateCall<CancelOrderResponse>('CancelOrder', { ...ref }, trading);
  }

  queryOrders(txids: string[], trades = true): Promise<Record<string, KrakenOrderInfo>> {
    if (txids.length === 0 || txids.length > 50) {
      return Promise.reject(new InvalidArgumentsError('QueryOrders', 'between 1 and 50 txids', 'invalid', false));
    }
    return this.privateCall('QueryOrders', { txid: txids.join(','), trades: trades ? 'true' : undefined });
  }

  openOrders(p: { cl_ord_id?: string; trades?: boolean } = {}): Promise<{ open: Record<string, KrakenOrderInfo> }> {
    return this.privateCall('OpenOrders', { cl_ord_id: p.cl_ord_id, trades: p.trades ? 'true' : undefined });
  }

  closedOrders(p: { cl_ord_id?: string; trades?: boolean; start?: string; end?: string; ofs?: number } = {}): Promise<{
    closed: Record<string, KrakenOrderInfo>;
    count: number;
  }> {
    return this.privateCall('ClosedOrders', {
      cl_ord_id: p.cl_ord_id,
      trades: p.trades ? 'true' : undefined,
      start: p.start,
      end: p.end,
      ofs: p.ofs === undefined ? undefined : String(p.ofs),
    });
  }

  tradesHistory(p: { start?: string; end?: string; ofs?: number } = {}): Promise<{ trades: Record<string, KrakenTradeInfo>; count: number }> {
    return this.privateCall('TradesHistory', {
      start: p.start,
      end: p.end,
      ofs: p.ofs === undefined ? undefined : String(p.ofs),
    });
  }

  balance(): Promise<Record<string, string>> {
    return this.privateCall('Balance');
  }

  /** The account's 30-day volume and fee tier for these REST pair names. */
  tradeVolume(pairs: readonly string[]): Promise<TradeVolumeResponse> {
    return this.privateCall('TradeVolume', { pair: pairs.join(',') });
  }

  getWebSocketsToken(): Promise<{ token: string; expires: number }> {
    return this.privateCall('GetWebSocketsToken');
  }

  assetPairs(): Promise<Record<string, KrakenAssetPair>> {
    return this.publicCall('AssetPairs');
  }
}

/** A short description of a fetch failure without URLs' query strings, headers or bodies. */
function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    const cause = (err as { cause?: unknown }).cause;
    if (cause && typeof cause === 'object') {
      const c = cause as { code?: unknown; name?: unknown };
      if (typeof c.code === 'string') return c.code;
      if (typeof c.name === 'string') return c.name;
    }
    return err.name;
  }
  return 'network error';
}

export { OutcomeUnknownError };
