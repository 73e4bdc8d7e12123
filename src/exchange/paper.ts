// Paper trading: the Exchange interface without any server. Taker orders walk the market's book,
// maker orders rest with a queue position and fill from the market's trades (matching.ts), with
// maker/taker fees. With a store (paper-store.ts; the engine uses the decision cluster) every
// operation's changes are saved before it answers, as an exchange would have them, so a restarted
// engine finds its paper orders and fills; without one they live in memory. queryOrderByClientId has
// Kraken's semantics (open first, then the newest closed order; duplicates refused only among open
// orders), so the engine's recovery path is the same as live.
import { InvalidArgumentsError, OutcomeUnknownError, ServiceUnavailableError, krakenError } from './errors.ts';
import { isValidClientOrderId } from './kraken-exchange.ts';
import { toExchangeOrder } from './kraken-map.ts';
import type { MarketView } from './market-view.ts';
import {
  DEFAULT_FEES,
  MatchingVenue,
  VenueRejection,
  toKrakenOrderInfo,
  type FeeSchedule,
  type MatchingOptions,
  type MatchingState,
  type VenueTrade,
} from './matching.ts';
import type { PaperStore } from './paper-store.ts';
import type { AddOrderRequest, AddOrderResult, CancelResult, Exchange, ExchangeOrder, Fill, FillsPage } from './types.ts';

export interface PaperOptions {
  market: MarketView;
  /** Default 0.25 % maker, 0.40 % taker (PROTOCOL.md). */
  fees?: FeeSchedule;
  /** Fee decimals per symbol (quote currency), default 8; fees are rounded up. */
  feeDecimals?: (symbol: string) => number;
  now?: () => number;
  newId?: (kind: 'order' | 'trade') => string;
  /** Saves every operation's changes before it answers, and holds the state to start from. */
  store?: PaperStore;
}

export interface PaperState {
  venue: MatchingState;
  /** Market trade cursor per symbol. */
  cursors: Record<string, string>;
}

export class PaperExchange implements Exchange {
  readonly kind = 'paper' as const;
  private readonly market: MarketView;
  private readonly venueOptions: MatchingOptions;
  private venue: MatchingVenue;
  private readonly now: () => number;
  private readonly cursors = new Map<string, string>();
  // One operation at a time: syncing and placing must not interleave.
  private queue: Promise<unknown> = Promise.resolve();
  private readonly store: PaperStore | undefined;
  /** Whether the store's state has been read (retried by each operation until it has). */
  private loaded: boolean;
  /** Counter value of the last save: newer orders and fills are unsaved. */
  private savedSeq: number;
  /** Orders that may have changed since the last save (those open when an operation began). */
  private readonly dirty = new Set<string>();

  constructor(opts: PaperOptions, state?: PaperState) {
    this.market = opts.market;
    this.now = opts.now ?? Date.now;
    this.store = opts.store;
    this.venueOptions = { fees: opts.fees ?? DEFAULT_FEES, feeDecimals: opts.feeDecimals, now: this.now, newId: opts.newId };
    this.venue = new MatchingVenue(this.venueOptions, state?.venue);
    for (const [s, c] of Object.entries(state?.cursors ?? {})) this.cursors.set(s, c);
    this.loaded = !this.store;
    this.savedSeq = this.venue.lastSeq;
  }

  static fromState(opts: PaperOptions, state: PaperState): PaperExchange {
    return new PaperExchange(opts, state);
  }

  /** Everything needed to rebuild this adapter (JSON-serialisable). */
  exportState(): PaperState {
    return { venue: this.venue.exportState(), cursors: Object.fromEntries(this.cursors) };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const op = () => (this.store ? this.persisted(fn) : fn());
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Runs fn on the stored state and saves what it changed before answering. */
  private async persisted<T>(fn: () => Promise<T>): Promise<T> {
    await this.load();
    for (const o of this.venue.openOrders()) this.dirty.add(o.txid);
    let result: { ok: true; value: T } | { ok: false; err: unknown };
    try {
      result = { ok: true, value: await fn() };
    } catch (err) {
      result = { ok: false, err };
    }
    try {
      await this.save();
    } catch (err) {
      // Nothing is answered that is not saved: after a crash the venue must not have forgotten an
      // order or a fill the engine was told about (fills are numbered; a lost number is reused).
      const why = `the paper venue could not be saved (${(err as Error).message})`;
      throw new OutcomeUnknownError('PaperExchange', `${why}; the operation may have taken effect and is answered again once saved`, 'outcome_unknown', true);
    }
    if (!result.ok) throw result.err;
    return result.value;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    let state: PaperState | null;
    try {
      state = await this.store!.load();
    } catch (err) {
      throw new ServiceUnavailableError('PaperExchange', `the paper venue could not be loaded (${(err as Error).message})`, 'unavailable', true);
    }
    if (state) {
      this.venue = new MatchingVenue(this.venueOptions, state.venue);
      this.cursors.clear();
      for (const [s, c] of Object.entries(state.cursors)) this.cursors.set(s, c);
    }
    this.savedSeq = this.venue.lastSeq;
    this.loaded = true;
  }

  private async save(): Promise<void> {
    const orders = new Map(this.venue.ordersAfter(this.savedSeq).map((o) => [o.txid, o]));
    for (const txid of this.dirty) {
      const o = this.venue.get(txid);
      if (o) orders.set(txid, o);
    }
    const seq = this.venue.lastSeq;
    await this.store!.save({
      seq,
      cursors: Object.fromEntries(this.cursors),
      orders: [...orders.values()],
      trades: this.venue.tradesAfter(this.savedSeq),
    });
    this.savedSeq = seq;
    this.dirty.clear();
  }

  /** Applies market trades since the last call to resting orders, and expiries. */
  sync(): Promise<void> {
    return this.serial(() => this.syncAll());
  }

  private async syncAll(): Promise<void> {
    const symbols = new Set(this.venue.openOrders().map((o) => o.symbol));
    for (const s of symbols) await this.syncSymbol(s);
    this.venue.expire(this.now());
  }

  private async syncSymbol(symbol: string): Promise<void> {
    const cursor = this.cursors.get(symbol) ?? null;
    const page = await this.market.tradesSince(symbol, cursor);
    if (cursor !== null) {
      for (const t of page.trades) {
        if (t.time) this.venue.expire(t.time.getTime());
        this.venue.onTrade(symbol, t);
      }
    }
    this.cursors.set(symbol, page.cursor);
  }

  addOrder(req: AddOrderRequest): Promise<AddOrderResult> {
    return this.serial(async () => {
      if (!isValidClientOrderId(req.clientOrderId)) {
        throw new InvalidArgumentsError('AddOrder', 'cl_ord_id must be a UUID, 32 hex characters or at most 18 ASCII characters', 'invalid', false);
      }
      await this.syncSymbol(req.symbol);
      this.venue.expire(this.now());
      const book = await this.market.topOfBook(req.symbol);
      if (!book) throw new ServiceUnavailableError('AddOrder', `no book for ${req.symbol} yet`, 'unavailable', true);
      try {
        const o = this.venue.place(
          {
            clOrdId: req.clientOrderId,
            symbol: req.symbol,
            side: req.side,
            ordertype: req.orderType,
            price: req.price,
            vol: req.qty,
            postOnly: req.postOnly,
            timeInForce: req.timeInForce,
            expireAt: req.expireAt ? req.expireAt.getTime() : null,
          },
          book,
        );
        return { exchangeOrderId: o.txid };
      } catch (err) {
        if (err instanceof VenueRejection) throw krakenError('AddOrder', [err.krakenError]);
        if (err instanceof RangeError) throw new InvalidArgumentsError('AddOrder', err.message, 'invalid', false);
        throw err;
      }
    });
  }

  queryOrderByClientId(clientOrderId: string): Promise<ExchangeOrder | null> {
    return this.serial(async () => {
      await this.syncAll();
      const o = this.venue.findByClientId(clientOrderId);
      return o ? toExchangeOrder(o.txid, toKrakenOrderInfo(o, o.symbol, true), o.symbol) : null;
    });
  }

  cancelOrder(ref: { exchangeOrderId: string } | { clientOrderId: string }): Promise<CancelResult> {
    return this.serial(async () => {
      // Fills that happened before the cancel count.
      await this.syncAll();
      const count = this.venue.cancel('exchangeOrderId' in ref ? { txid: ref.exchangeOrderId } : { clOrdId: ref.clientOrderId });
      return { count };
    });
  }

  /** Cursor: the sequence number of the last fill returned ("0" = none). */
  fillsSince(cursor: string | null): Promise<FillsPage> {
    return this.serial(async () => {
      await this.syncAll();
      const after = cursor === null || cursor === '' ? 0 : Number(cursor);
      if (!Number.isSafeInteger(after) || after < 0) throw new InvalidArgumentsError('fillsSince', 'malformed cursor', 'invalid', false);
      const trades = this.venue.allTrades().filter((t) => t.seq > after);
      const last = trades.at(-1);
      return { fills: trades.map(toFill), cursor: String(last ? last.seq : after) };
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
  }
}

function toFill(t: VenueTrade): Fill {
  return {
    tradeId: t.txid,
    exchangeOrderId: t.orderTxid,
    clientOrderId: t.clOrdId,
    symbol: t.symbol,
    side: t.side,
    price: t.price,
    qty: t.vol,
    cost: t.cost,
    fee: t.fee,
    liquidity: t.maker ? 'maker' : 'taker',
    time: new Date(t.time),
  };
}

