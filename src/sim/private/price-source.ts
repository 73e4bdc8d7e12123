// Where the simulator's private REST gets its market from: a book per symbol and a stream of trades.
// Pluggable: the public simulator's market can drive it (the lead wires that), tests use the manual
// source, and the default is a small seeded random walk.
import type { BookLevel, BookView, MarketTrade } from '../../exchange/matching.ts';
import { Dec, fixed } from '../../exchange/decimal.ts';
import type { RestPairSpec } from './pairs.ts';

export type TradeListener = (symbol: string, trade: MarketTrade) => void;

export interface PriceSource {
  /** The current book (best first), or null when the symbol has none. */
  book(symbol: string): BookView | null;
  /** Subscribe to market trades; returns the unsubscribe function. */
  onTrade(listener: TradeListener): () => void;
  /** Stop timers, if any. */
  close?(): void;
}

/** A price source driven by hand (tests): set books, emit trades. */
export class ManualPriceSource implements PriceSource {
  private readonly books = new Map<string, BookView>();
  private readonly listeners = new Set<TradeListener>();
  private tradeSeq = 0;

  setBook(symbol: string, book: BookView): void {
    this.books.set(symbol, { bids: book.bids.map((l) => ({ ...l })), asks: book.asks.map((l) => ({ ...l })) });
  }

  /** Best bid and ask with a quantity each (a one-level book). */
  setQuote(symbol: string, bid: string, ask: string, qty = '1000'): void {
    this.setBook(symbol, { bids: [{ price: bid, qty }], asks: [{ price: ask, qty }] });
  }

  trade(symbol: string, t: Omit<MarketTrade, 'tradeId'> & { tradeId?: string }): void {
    const trade: MarketTrade = { ...t, tradeId: t.tradeId ?? String(++this.tradeSeq) };
    for (const l of this.listeners) l(symbol, trade);
  }

  book(symbol: string): BookView | null {
    return this.books.get(symbol) ?? null;
  }

  onTrade(listener: TradeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** mulberry32: small, seeded, good enough for a toy market (and for a benchmark's pauses). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomWalkOptions {
  pairs: RestPairSpec[];
  seed?: number;
  /** Step every this many ms (default 250); 0: never by itself (call step()). */
  intervalMs?: number;
  /** Levels per side (default 5). */
  levels?: number;
}

/**
 * A random walk: each step moves each pair's mid by up to one tick, rebuilds a few levels each side
 * and prints one trade at the best bid or ask. Deterministic from the seed when stepped by hand.
 */
export class RandomWalkPriceSource implements PriceSource {
  private readonly rnd: () => number;
  private readonly mids = new Map<string, { mid: bigint; spec: RestPairSpec }>();
  private readonly books = new Map<string, BookView>();
  private readonly listeners = new Set<TradeListener>();
  private timer: NodeJS.Timeout | undefined;
  private tradeSeq = 0;
  private readonly levels: number;

  constructor(opts: RandomWalkOptions) {
    this.rnd = prng(opts.seed ?? 42);
    this.levels = opts.levels ?? 5;
    for (const spec of opts.pairs) {
      const scale = new Dec(10).pow(spec.pairDecimals);
      const mid = BigInt(new Dec(spec.startPrice).times(scale).toFixed(0));
      this.mids.set(spec.symbol, { mid, spec });
      this.rebuild(spec.symbol);
    }
    const interval = opts.intervalMs ?? 250;
    if (interval > 0) {
      this.timer = setInterval(() => this.step(), interval);
      this.timer.unref();
    }
  }

  private priceText(units: bigint, spec: RestPairSpec): string {
    return fixed(new Dec(units.toString()).div(new Dec(10).pow(spec.pairDecimals)), spec.pairDecimals);
  }

  private rebuild(symbol: string): void {
    const m = this.mids.get(symbol)!;
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (let i = 0; i < this.levels; i++) {
      const qty = fixed(new Dec(m.spec.ordermin).times(1 + Math.floor(this.rnd() * 50)), m.spec.lotDecimals);
      bids.push({ price: this.priceText(m.mid - 1n - BigInt(i), m.spec), qty });
      const qty2 = fixed(new Dec(m.spec.ordermin).times(1 + Math.floor(this.rnd() * 50)), m.spec.lotDecimals);
      asks.push({ price: this.priceText(m.mid + 1n + BigInt(i), m.spec), qty: qty2 });
    }
    this.books.set(symbol, { bids, asks });
  }

  step(): void {
    for (const [symbol, m] of this.mids) {
      const r = this.rnd();
      m.mid += r < 0.33 ? -1n : r > 0.66 ? 1n : 0n;
      if (m.mid < 3n) m.mid = 3n;
      this.rebuild(symbol);
      const book = this.books.get(symbol)!;
      const side = this.rnd() < 0.5 ? 'buy' : 'sell';
      const level = side === 'buy' ? book.asks[0]! : book.bids[0]!;
      const trade: MarketTrade = {
        price: level.price,
        qty: fixed(new Dec(m.spec.ordermin).times(1 + Math.floor(this.rnd() * 10)), m.spec.lotDecimals),
        side,
        tradeId: String(++this.tradeSeq),
        time: new Date(),
      };
      for (const l of this.listeners) l(symbol, trade);
    }
  }

  book(symbol: string): BookView | null {
    return this.books.get(symbol) ?? null;
  }

  onTrade(listener: TradeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
