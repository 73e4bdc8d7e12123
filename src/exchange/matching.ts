// A small matching model shared by the paper adapter and the simulator's private REST: our orders
// against an external book we do not own (the ingested L2/L3 book, or the simulator's price source).
//
// - Taker orders (market, or the marketable part of a limit) walk the opposite side level by level,
//   up to the limit price, at taker fee. The external book is not depleted between our orders.
// - A resting (maker) order records the queue ahead at entry: the quantity at its price and better
//   on its own side. Trades at its price consume that queue first, then fill the order; trades at
//   better prices only consume the queue; a trade through its price (worse than it) means the level
//   was swept: the rest fills at the order's price. Maker fills pay the maker fee.
// - Post-only orders that would take are accepted and cancelled at once with reason "Post only order".
// - GTD orders expire; IOC and market remainders are cancelled.
// Statuses, ids and fields follow Kraken's REST vocabulary so that both users can map them the same
// way (kraken-map.ts) and the engine's recovery path does not depend on the venue.
// Each of our orders is matched independently against the market's trades (our own orders do not
// queue behind each other): keep simultaneous orders at one price small, or expect optimism.
import { randomBytes } from 'node:crypto';
import { Dec, dec, str, ROUND_UP } from './decimal.ts';
import type { KrakenOrderInfo, KrakenOrderStatus } from './kraken-map.ts';
import type { Side, TimeInForce } from './types.ts';

export interface BookLevel {
  /** Decimal string. */
  price: string;
  /** Decimal string, base currency. */
  qty: string;
}

/** Best first on both sides: bids highest first, asks lowest first. */
export interface BookView {
  bids: BookLevel[];
  asks: BookLevel[];
}

export interface MarketTrade {
  price: string;
  qty: string;
  /** Taker side (Kraken's `side` in the trade channel). */
  side: Side;
  tradeId: string;
  time?: Date;
}

export interface VenueOrder {
  txid: string;
  clOrdId: string | null;
  symbol: string;
  side: Side;
  ordertype: 'limit' | 'market';
  price: string | null;
  vol: string;
  volExec: string;
  cost: string;
  fee: string;
  status: KrakenOrderStatus;
  reason: string | null;
  postOnly: boolean;
  timeInForce: TimeInForce;
  /** Epoch ms, GTD only. */
  expireAt: number | null;
  /** Epoch ms. */
  openedAt: number;
  closedAt: number | null;
  /** Quantity ahead of us in the queue at our price (resting orders). */
  queueAhead: string;
  tradeIds: string[];
  /** Monotonic placement number: newest wins among closed orders sharing a client id. */
  seq: number;
}

export interface VenueTrade {
  txid: string;
  orderTxid: string;
  clOrdId: string | null;
  symbol: string;
  side: Side;
  ordertype: 'limit' | 'market';
  price: string;
  vol: string;
  cost: string;
  fee: string;
  maker: boolean;
  /** Epoch ms. */
  time: number;
  seq: number;
}

export interface PlaceRequest {
  clOrdId: string | null;
  symbol: string;
  side: Side;
  ordertype: 'limit' | 'market';
  price?: string;
  vol: string;
  postOnly: boolean;
  timeInForce?: TimeInForce;
  expireAt?: number | null;
}

/** A rejection carrying Kraken's error string. */
export class VenueRejection extends Error {
  constructor(readonly krakenError: string) {
    super(krakenError);
    this.name = 'VenueRejection';
  }
}

export interface FeeSchedule {
  /** Fraction, e.g. "0.0025" for 0.25 %. */
  maker: string;
  taker: string;
}

/** Entry tier from PROTOCOL.md (unverified there; read the account's real fees where possible). */
export const DEFAULT_FEES: FeeSchedule = { maker: '0.0025', taker: '0.0040' };

export interface MatchingOptions {
  fees?: FeeSchedule;
  /** Decimals of fees for a symbol's quote currency (default 8). Fees are rounded up. */
  feeDecimals?: (symbol: string) => number;
  now?: () => number;
  /** Id generator; default Kraken-shaped random ids (OXXXXX-XXXXX-XXXXXX / TXXXXX-…). */
  newId?: (kind: 'order' | 'trade') => string;
  /** Called for every fill (e.g. to move balances). */
  onFill?: (trade: VenueTrade, order: VenueOrder) => void;
  /** Called when an order is accepted ('new', before any fill) and when it closes (simulator's executions feed). */
  onOrderEvent?: (order: VenueOrder, event: 'new' | 'closed') => void;
}

export interface MatchingState {
  orders: VenueOrder[];
  trades: VenueTrade[];
  seq: number;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A Kraken-shaped id: prefix + 5 + '-' + 5 + '-' + 6 characters. */
export function krakenLikeId(prefix: 'O' | 'T'): string {
  const b = randomBytes(16);
  let s = '';
  for (let i = 0; i < 16; i++) s += ALPHABET[b[i]! % 32];
  return `${prefix}${s.slice(0, 5)}-${s.slice(5, 10)}-${s.slice(10, 16)}`;
}

export class MatchingVenue {
  private readonly orders = new Map<string, VenueOrder>();
  private readonly trades: VenueTrade[] = [];
  private seq = 0;
  private readonly fees: { maker: Dec; taker: Dec };
  private readonly feeDecimals: (symbol: string) => number;
  private readonly now: () => number;
  private readonly newId: (kind: 'order' | 'trade') => string;
  private readonly onFill: ((trade: VenueTrade, order: VenueOrder) => void) | undefined;
  private readonly onOrderEvent: MatchingOptions['onOrderEvent'];

  constructor(opts: MatchingOptions = {}, state?: MatchingState) {
    const fees = opts.fees ?? DEFAULT_FEES;
    this.fees = { maker: dec(fees.maker, 'maker fee'), taker: dec(fees.taker, 'taker fee') };
    this.feeDecimals = opts.feeDecimals ?? (() => 8);
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? ((k) => krakenLikeId(k === 'order' ? 'O' : 'T'));
    this.onFill = opts.onFill;
    this.onOrderEvent = opts.onOrderEvent;
    if (state) {
      for (const o of state.orders) this.orders.set(o.txid, { ...o, tradeIds: [...o.tradeIds] });
      this.trades.push(...state.trades.map((t) => ({ ...t })));
      this.seq = state.seq;
    }
  }

  /** A copy of everything, JSON-serialisable; `new MatchingVenue(opts, state)` restores it. */
  exportState(): MatchingState {
    return {
      orders: [...this.orders.values()].map((o) => ({ ...o, tradeIds: [...o.tradeIds] })),
      trades: this.trades.map((t) => ({ ...t })),
      seq: this.seq,
    };
  }

  /** Open (or pending) orders with this client id: Kraken enforces uniqueness only among these. */
  openWithClientId(clOrdId: string): VenueOrder | undefined {
    for (const o of this.orders.values()) if (o.clOrdId === clOrdId && isOpen(o)) return o;
    return undefined;
  }

  /**
   * Places an order against the book. Throws VenueRejection for a duplicate open cl_ord_id or a
   * malformed request; exchange limits (minimums, tick size, funds) are the caller's to check.
   */
  place(req: PlaceRequest, book: BookView): VenueOrder {
    if (req.clOrdId !== null && this.openWithClientId(req.clOrdId)) throw new VenueRejection('EOrder:Duplicate order');
    const vol = dec(req.vol, 'volume');
    if (vol.lte(0)) throw new VenueRejection('EGeneral:Invalid arguments:volume');
    if (req.ordertype === 'limit' && req.price === undefined) throw new VenueRejection('EGeneral:Invalid arguments:price');
    const limit = req.ordertype === 'limit' ? dec(req.price!, 'price') : null;
    if (limit !== null && limit.lte(0)) throw new VenueRejection('EGeneral:Invalid arguments:price');
    const tif = req.timeInForce ?? 'GTC';
    if (tif === 'GTD' && !req.expireAt) throw new VenueRejection('EGeneral:Invalid arguments:expiretm');
    const now = this.now();
    const order: VenueOrder = {
      txid: this.newId('order'),
      clOrdId: req.clOrdId,
      symbol: req.symbol,
      side: req.side,
      ordertype: req.ordertype,
      price: limit === null ? null : str(limit),
      vol: str(vol),
      volExec: '0',
      cost: '0',
      fee: '0',
      status: 'open',
      reason: null,
      postOnly: req.postOnly,
      timeInForce: tif,
      expireAt: tif === 'GTD' ? (req.expireAt ?? null) : null,
      openedAt: now,
      closedAt: null,
      queueAhead: '0',
      tradeIds: [],
      seq: ++this.seq,
    };
    this.orders.set(order.txid, order);
    this.onOrderEvent?.(order, 'new');

    const opposite = req.side === 'buy' ? book.asks : book.bids;
    const crosses = (px: Dec) => limit === null || (req.side === 'buy' ? px.lte(limit) : px.gte(limit));
    const best = opposite[0];
    if (req.postOnly && best !== undefined && crosses(dec(best.price, 'book price'))) {
      this.close(order, 'canceled', 'Post only order');
      return order;
    }
    // Taker part: walk the opposite side.
    for (const level of opposite) {
      const remaining = vol.minus(new Dec(order.volExec));
      if (remaining.lte(0)) break;
      const px = dec(level.price, 'book price');
      if (!crosses(px)) break;
      const take = Dec.min(remaining, dec(level.qty, 'book qty'));
      if (take.gt(0)) this.fill(order, px, take, false);
    }
    const remaining = vol.minus(new Dec(order.volExec));
    if (remaining.lte(0)) {
      this.close(order, 'closed', null);
    } else if (req.ordertype === 'market') {
      this.close(order, order.volExec === '0' ? 'canceled' : 'closed', 'Insufficient liquidity');
    } else if (tif === 'IOC') {
      this.close(order, order.volExec === '0' ? 'canceled' : 'closed', 'Immediate or cancel');
    } else {
      // Rests: the queue ahead is our side's quantity at our price and better.
      const own = req.side === 'buy' ? book.bids : book.asks;
      let ahead = new Dec(0);
      for (const level of own) {
        const px = dec(level.price, 'book price');
        const atOrBetter = req.side === 'buy' ? px.gte(limit!) : px.lte(limit!);
        if (atOrBetter) ahead = ahead.plus(dec(level.qty, 'book qty'));
      }
      order.queueAhead = str(ahead);
    }
    return order;
  }

  /** Applies one market trade to our resting orders of the symbol. Returns the fills it caused. */
  onTrade(symbol: string, trade: MarketTrade): VenueTrade[] {
    const out: VenueTrade[] = [];
    const px = dec(trade.price, 'trade price');
    const qty = dec(trade.qty, 'trade qty');
    const at = trade.time ? trade.time.getTime() : this.now();
    for (const order of this.restingOrders(symbol)) {
      const limit = new Dec(order.price!);
      const remaining = new Dec(order.vol).minus(new Dec(order.volExec));
      if (remaining.lte(0)) continue;
      // A trade hits bids when the taker sells, asks when the taker buys.
      const hitsOurSide = order.side === 'buy' ? trade.side === 'sell' : trade.side === 'buy';
      const through = order.side === 'buy' ? px.lt(limit) : px.gt(limit);
      const atOurs = px.eq(limit);
      const better = order.side === 'buy' ? px.gt(limit) : px.lt(limit);
      if (through) {
        // The market traded at a worse price than ours: our level was swept.
        order.queueAhead = '0';
        out.push(this.fill(order, limit, remaining, true, at));
      } else if (hitsOurSide && (atOurs || better)) {
        const ahead = new Dec(order.queueAhead);
        const consumed = Dec.min(ahead, qty);
        order.queueAhead = str(ahead.minus(consumed));
        const left = qty.minus(consumed);
        if (atOurs && left.gt(0)) out.push(this.fill(order, limit, Dec.min(left, remaining), true, at));
      }
      if (new Dec(order.volExec).gte(new Dec(order.vol))) this.close(order, 'closed', null, at);
    }
    return out;
  }

  /** Expires GTD orders whose time has come. Returns them. */
  expire(now = this.now()): VenueOrder[] {
    const out: VenueOrder[] = [];
    for (const o of this.orders.values()) {
      if (isOpen(o) && o.expireAt !== null && o.expireAt <= now) {
        this.close(o, 'expired', null, now);
        out.push(o);
      }
    }
    return out;
  }

  /** Cancels open orders by txid or client id. Returns how many. */
  cancel(ref: { txid: string } | { clOrdId: string }, reason = 'User requested'): number {
    const targets = 'txid' in ref ? [this.orders.get(ref.txid)].filter((o): o is VenueOrder => !!o) : [...this.orders.values()].filter((o) => o.clOrdId === ref.clOrdId);
    let n = 0;
    for (const o of targets) {
      if (!isOpen(o)) continue;
      this.close(o, 'canceled', reason);
      n++;
    }
    return n;
  }

  get(txid: string): VenueOrder | undefined {
    return this.orders.get(txid);
  }

  openOrders(): VenueOrder[] {
    return [...this.orders.values()].filter(isOpen).sort((a, b) => a.seq - b.seq);
  }

  /** Closed orders, newest first. */
  closedOrders(): VenueOrder[] {
    return [...this.orders.values()].filter((o) => !isOpen(o)).sort((a, b) => b.seq - a.seq);
  }

  /**
   * Kraken's semantics for a client id: the open order if any, else the newest closed one.
   */
  findByClientId(clOrdId: string): VenueOrder | undefined {
    const open = this.openWithClientId(clOrdId);
    if (open) return open;
    return this.closedOrders().find((o) => o.clOrdId === clOrdId);
  }

  /** All fills, oldest first. */
  allTrades(): readonly VenueTrade[] {
    return this.trades;
  }

  /** The last placement/fill number handed out (orders and fills share the counter). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Orders placed after placement number `seq`, oldest first. */
  ordersAfter(seq: number): VenueOrder[] {
    return [...this.orders.values()].filter((o) => o.seq > seq).sort((a, b) => a.seq - b.seq);
  }

  /** Fills numbered after `seq`, oldest first. */
  tradesAfter(seq: number): VenueTrade[] {
    let i = this.trades.length;
    while (i > 0 && this.trades[i - 1]!.seq > seq) i--;
    return this.trades.slice(i);
  }

  private restingOrders(symbol: string): VenueOrder[] {
    return this.openOrders().filter((o) => o.symbol === symbol && o.ordertype === 'limit');
  }

  private fill(order: VenueOrder, price: Dec, qty: Dec, maker: boolean, at = this.now()): VenueTrade {
    const cost = price.times(qty);
    const rate = maker ? this.fees.maker : this.fees.taker;
    const fee = cost.times(rate).toDecimalPlaces(this.feeDecimals(order.symbol), ROUND_UP);
    order.volExec = str(new Dec(order.volExec).plus(qty));
    order.cost = str(new Dec(order.cost).plus(cost));
    order.fee = str(new Dec(order.fee).plus(fee));
    const trade: VenueTrade = {
      txid: this.newId('trade'),
      orderTxid: order.txid,
      clOrdId: order.clOrdId,
      symbol: order.symbol,
      side: order.side,
      ordertype: order.ordertype,
      price: str(price),
      vol: str(qty),
      cost: str(cost),
      fee: str(fee),
      maker,
      time: at,
      seq: ++this.seq,
    };
    order.tradeIds.push(trade.txid);
    this.trades.push(trade);
    this.onFill?.(trade, order);
    return trade;
  }

  private close(order: VenueOrder, status: KrakenOrderStatus, reason: string | null, at = this.now()): void {
    order.status = status;
    order.reason = reason;
    order.closedAt = at;
    this.onOrderEvent?.(order, 'closed');
  }
}

export function isOpen(o: VenueOrder): boolean {
  return o.status === 'open' || o.status === 'pending';
}

/** A venue order in Kraken's REST shape (OpenOrders/ClosedOrders/QueryOrders entries). */
export function toKrakenOrderInfo(o: VenueOrder, pairName: string, withTrades: boolean): KrakenOrderInfo {
  const info: KrakenOrderInfo = {
    refid: null,
    userref: 0,
    cl_ord_id: o.clOrdId,
    status: o.status,
    reason: o.reason,
    opentm: o.openedAt / 1000,
    closetm: o.closedAt === null ? undefined : o.closedAt / 1000,
    starttm: 0,
    expiretm: o.expireAt === null ? 0 : o.expireAt / 1000,
    descr: {
      pair: pairName,
      type: o.side,
      ordertype: o.ordertype,
      price: o.price ?? '0',
      price2: '0',
      order: `${o.side} ${o.vol} ${pairName} @ ${o.ordertype === 'limit' ? `limit ${o.price}` : 'market'}`,
    },
    vol: o.vol,
    vol_exec: o.volExec,
    cost: o.cost,
    fee: o.fee,
    price: new Dec(o.volExec).isZero() ? '0' : str(new Dec(o.cost).div(new Dec(o.volExec)).toDecimalPlaces(12)),
    oflags: o.postOnly ? 'post,fciq' : 'fciq',
  };
  if (withTrades && o.tradeIds.length > 0) info.trades = [...o.tradeIds];
  return info;
}
