// Typed exchange errors. Kraken answers `{"error":["EOrder:Insufficient funds"], ...}`; each known
// string maps to a class that says whether trying again can help. Messages carry the method name and
// Kraken's error strings only: never a header, a body, the key or the secret.

export type ErrorCategory =
  | 'auth' // key, signature, permission: configuration, never retried
  | 'nonce' // rejected before processing: safe to retry with a fresh nonce
  | 'rate_limit' // slow down, then retry
  | 'unavailable' // venue busy/down: retry later
  | 'order_rejected' // the order itself is invalid or unaffordable: final
  | 'market_state' // cancel_only/post_only/maintenance: final for now
  | 'duplicate' // a cl_ord_id already in use by an open order
  | 'not_found' // unknown order
  | 'invalid' // bad arguments: a bug on our side
  | 'outcome_unknown' // the request may or may not have been processed
  | 'unknown';

export class ExchangeError extends Error {
  /** Whether the same request may be sent again (after a pause). */
  readonly retryable: boolean;
  readonly category: ErrorCategory;
  /** Kraken error strings, e.g. ['EOrder:Insufficient funds']. */
  readonly krakenErrors: readonly string[];
  /** The private method (AddOrder, …) or operation that failed. */
  readonly method: string;

  constructor(method: string, message: string, category: ErrorCategory, retryable: boolean, krakenErrors: readonly string[] = []) {
    super(`${method}: ${message}`);
    this.name = new.target.name;
    this.method = method;
    this.category = category;
    this.retryable = retryable;
    this.krakenErrors = krakenErrors;
  }
}

/** Kraken refused our credentials (EAPI:Invalid key / Invalid signature / Permission denied). Final. */
export class AuthenticationError extends ExchangeError {}
/** EAPI:Invalid nonce. The request was not processed; retry with a fresh nonce (repeats risk a ban). */
export class InvalidNonceError extends ExchangeError {}
/** EAPI:Rate limit exceeded, EOrder:Rate limit exceeded, EGeneral:Temporary lockout, … Retry after a pause. */
export class RateLimitError extends ExchangeError {}
/** EService:Unavailable / Busy: retry later. */
export class ServiceUnavailableError extends ExchangeError {}
/** Insufficient funds, minimums, tick size, orders limit, post-only rejection: final for this order. */
export class OrderRejectedError extends ExchangeError {}
/** EService:Market in cancel_only / post_only mode, EService:Deadline elapsed. Final for this request. */
export class MarketStateError extends ExchangeError {}
/** A cl_ord_id that an open order already uses. Query the order by client id: it is probably ours. */
export class DuplicateClientOrderIdError extends ExchangeError {}
/** EOrder:Unknown order. */
export class UnknownOrderError extends ExchangeError {}
/** EGeneral:Invalid arguments…: a bug in the request. Final. */
export class InvalidArgumentsError extends ExchangeError {}
/**
 * The request left us but no answer came back (connection dropped, timeout, unreadable body).
 * For AddOrder/CancelOrder the venue may have acted: reconcile (queryOrderByClientId) before retrying.
 */
export class OutcomeUnknownError extends ExchangeError {}
/** An error string we do not know by name. Not retried. */
export class UnknownExchangeError extends ExchangeError {}

type Ctor = new (method: string, message: string, category: ErrorCategory, retryable: boolean, krakenErrors: readonly string[]) => ExchangeError;

interface Rule { prefix: string; ctor: Ctor; category: ErrorCategory; retryable: boolean }

// Matched by prefix: Kraken appends details (`EGeneral:Invalid arguments:volume`).
const RULES: Rule[] = [
  { prefix: 'EAPI:Invalid key', ctor: AuthenticationError, category: 'auth', retryable: false },
  { prefix: 'EAPI:Invalid signature', ctor: AuthenticationError, category: 'auth', retryable: false },
  { prefix: 'EGeneral:Permission denied', ctor: AuthenticationError, category: 'auth', retryable: false },
  { prefix: 'EAPI:Invalid nonce', ctor: InvalidNonceError, category: 'nonce', retryable: true },
  { prefix: 'EAPI:Rate limit exceeded', ctor: RateLimitError, category: 'rate_limit', retryable: true },
  { prefix: 'EOrder:Rate limit exceeded', ctor: RateLimitError, category: 'rate_limit', retryable: true },
  { prefix: 'EOrder:Domain rate limit exceeded', ctor: RateLimitError, category: 'rate_limit', retryable: true },
  { prefix: 'EGeneral:Temporary lockout', ctor: RateLimitError, category: 'rate_limit', retryable: true },
  { prefix: 'EService:Unavailable', ctor: ServiceUnavailableError, category: 'unavailable', retryable: true },
  { prefix: 'EService:Busy', ctor: ServiceUnavailableError, category: 'unavailable', retryable: true },
  { prefix: 'EGeneral:Internal error', ctor: ServiceUnavailableError, category: 'unavailable', retryable: true },
  { prefix: 'EOrder:Insufficient funds', ctor: OrderRejectedError, category: 'order_rejected', retryable: false },
  { prefix: 'EOrder:Order minimum not met', ctor: OrderRejectedError, category: 'order_rejected', retryable: false },
  { prefix: 'EOrder:Cost minimum not met', ctor: OrderRejectedError, category: 'order_rejected', retryable: false },
  { prefix: 'EOrder:Tick size check failed', ctor: OrderRejectedError, category: 'order_rejected', retryable: false },
  { prefix: 'EOrder:Orders limit exceeded', ctor: OrderRejectedError, category: 'order_rejected', retryable: false },
  { prefix: 'EOrder:Post only order', ctor: OrderRejectedError, category: 'order_rejected', retryable: false },
  { prefix: 'EService:Market in cancel_only mode', ctor: MarketStateError, category: 'market_state', retryable: false },
  { prefix: 'EService:Market in post_only mode', ctor: MarketStateError, category: 'market_state', retryable: false },
  { prefix: 'EService:Market in limit_only mode', ctor: MarketStateError, category: 'market_state', retryable: false },
  { prefix: 'EService:Deadline elapsed', ctor: MarketStateError, category: 'market_state', retryable: false },
  { prefix: 'EOrder:Duplicate order', ctor: DuplicateClientOrderIdError, category: 'duplicate', retryable: false },
  { prefix: 'EOrder:Unknown order', ctor: UnknownOrderError, category: 'not_found', retryable: false },
  { prefix: 'EGeneral:Invalid arguments', ctor: InvalidArgumentsError, category: 'invalid', retryable: false },
  { prefix: 'EQuery:Unknown asset pair', ctor: InvalidArgumentsError, category: 'invalid', retryable: false },
];

// Error strings are Kraken's, but a proxy or a bug could echo anything: keep them short and printable.
function clean(e: string): string {
  return e.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/** Maps Kraken's error array to one typed error (the first error string that has a rule wins). */
export function krakenError(method: string, errors: readonly string[]): ExchangeError {
  const list = errors.map(clean);
  for (const e of list) {
    const rule = RULES.find((r) => e.startsWith(r.prefix));
    if (rule) return new rule.ctor(method, list.join(', '), rule.category, rule.retryable, list);
  }
  return new UnknownExchangeError(method, list.join(', ') || 'unknown error', 'unknown', false, list);
}

export function outcomeUnknown(method: string, why: string): OutcomeUnknownError {
  return new OutcomeUnknownError(method, `no answer (${clean(why)}); the venue may have processed it`, 'outcome_unknown', true);
}
