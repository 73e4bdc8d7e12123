// The one interface the engine's submit and reconcile jobs use, whatever the venue (paper, the
// local simulator, live Kraken). Every amount is a decimal string: money never becomes a JS number.

export type Side = 'buy' | 'sell';
export type OrderType = 'limit' | 'market';
/** GTC (default), IOC (fill what can be filled now, cancel the rest), GTD (expires at expireAt). */
export type TimeInForce = 'GTC' | 'IOC' | 'GTD';

/** Our order status; Kraken's statuses are mapped onto these (see kraken-map.ts). */
export type OrderStatus = 'new' | 'open' | 'partially_filled' | 'filled' | 'cancelled' | 'rejected' | 'expired';

export const FINAL_STATUSES: ReadonlySet<OrderStatus> = new Set(['filled', 'cancelled', 'rejected', 'expired']);

export interface AddOrderRequest {
  /** Deterministic client order id (UUID, 32 hex characters, or at most 18 ASCII characters). */
  clientOrderId: string;
  /** Engine symbol, `BASE/QUOTE` as in WS v2 (`BTC/USD`). */
  symbol: string;
  side: Side;
  orderType: OrderType;
  /** Limit price (decimal string); required for limit orders, ignored for market orders. */
  price?: string;
  /** Quantity in base currency (decimal string). */
  qty: string;
  /** Post-only (maker only): an order that would take is cancelled instead (reason `Post only order`). */
  postOnly: boolean;
  timeInForce?: TimeInForce;
  /** For GTD: when the order expires. */
  expireAt?: Date;
}

export interface AddOrderResult {
  exchangeOrderId: string;
}

export interface ExchangeOrder {
  exchangeOrderId: string;
  clientOrderId: string | null;
  symbol: string;
  side: Side;
  orderType: OrderType;
  /** Limit price; null for market orders. */
  limitPrice: string | null;
  status: OrderStatus;
  /** The venue's own status word (Kraken: pending/open/closed/canceled/expired). */
  venueStatus: string;
  /** Why the venue closed it (Kraken `reason`, e.g. `Post only order`, `User requested`), if any. */
  reason: string | null;
  /** Ordered quantity (Kraken `vol`). */
  qty: string;
  /** Executed quantity (Kraken `vol_exec`). */
  qtyExec: string;
  /** Quote spent/received on fills (Kraken `cost`). */
  cost: string;
  /** Average fill price, or null when nothing filled. */
  avgPrice: string | null;
  /** Fees paid, in quote currency (Kraken `fee`). */
  fee: string;
  openedAt: Date | null;
  closedAt: Date | null;
  /** Exchange trade ids of the fills, where the venue lists them. */
  tradeIds: string[];
}

export type Liquidity = 'maker' | 'taker';

export interface Fill {
  /** Exchange trade id: unique per fill; the fills ledger is keyed on it. */
  tradeId: string;
  exchangeOrderId: string;
  clientOrderId: string | null;
  symbol: string;
  side: Side;
  price: string;
  qty: string;
  /** price × qty, in quote. */
  cost: string;
  /** Fee in quote currency. */
  fee: string;
  liquidity: Liquidity;
  time: Date;
}

export interface FillsPage {
  fills: Fill[];
  /** Opaque; pass it to the next fillsSince call. Persist it to resume after a restart. */
  cursor: string;
}

export interface CancelResult {
  /** Orders cancelled by this call (0 when it was already closed or unknown). */
  count: number;
}

export interface FeeRates {
  /** Decimal strings, fractions of the cost. */
  maker: string;
  taker: string;
}

export interface Exchange {
  /** `paper`, `simulator` or `live`. */
  readonly kind: ExchangeKind;
  /**
   * Places an order. Throws an ExchangeError subclass. An OutcomeUnknownError means the request may
   * have reached the venue: call queryOrderByClientId before trying again, never resend blindly.
   */
  addOrder(req: AddOrderRequest): Promise<AddOrderResult>;
  /**
   * The order with this client id, searching open AND closed orders (Kraken checks cl_ord_id
   * uniqueness only among open orders, so a closed one may share the id: the open one wins, then
   * the newest closed one). Null when the venue has none.
   */
  queryOrderByClientId(clientOrderId: string): Promise<ExchangeOrder | null>;
  /**
   * The account's fee rates per symbol as fractions (0.0026 = 0.26 %), where the venue reports them
   * (Kraken TradeVolume). Absent for venues without an account tier (paper).
   */
  feeRates?(symbols: readonly string[]): Promise<Record<string, FeeRates>>;
  /**
   * The account's total balance per asset (held for open orders included) as decimal strings, asset names
   * as the engine uses them (WS v2: BTC, USD). Absent where the venue is the engine's own ledger (paper).
   */
  balances?(): Promise<Record<string, string>>;
  /** Cancels by exchange order id or client order id. */
  cancelOrder(ref: { exchangeOrderId: string } | { clientOrderId: string }): Promise<CancelResult>;
  /** Fills after the cursor (null: from the beginning of what the venue keeps), oldest first. */
  fillsSince(cursor: string | null): Promise<FillsPage>;
  /**
   * A cursor from which fillsSince returns every fill at or after `time` again (fills__rewind); absent
   * where a venue cannot be re-read (the paper venue keeps every fill in its own store).
   */
  fillsCursorAt?(time: Date): string;
  close(): Promise<void>;
}

export type ExchangeKind = 'paper' | 'simulator' | 'live';
