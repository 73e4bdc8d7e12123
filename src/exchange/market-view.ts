// What the paper adapter needs to know about a market: the current book and the trades since a cursor.
import type { BookView, MarketTrade } from './matching.ts';

export type { BookView, BookLevel, MarketTrade } from './matching.ts';

export interface TradesPage {
  /** Oldest first. */
  trades: MarketTrade[];
  /** Opaque; pass it back to get what came after. */
  cursor: string;
}

export interface MarketView {
  /** The newest book for the symbol (levels best first, decimal strings), or null when there is none. */
  topOfBook(symbol: string): Promise<BookView | null>;
  /**
   * Trades after the cursor, oldest first. With a null cursor: none, and a cursor that marks "now"
   * (the paper adapter only cares about trades after it started watching).
   */
  tradesSince(symbol: string, cursor: string | null): Promise<TradesPage>;
}

/** A MarketView held in memory: tests and replays set the book and push trades. */
export class StaticMarketView implements MarketView {
  private readonly books = new Map<string, BookView>();
  private readonly trades = new Map<string, MarketTrade[]>();

  setBook(symbol: string, book: BookView): void {
    this.books.set(symbol, { bids: book.bids.map((l) => ({ ...l })), asks: book.asks.map((l) => ({ ...l })) });
  }

  pushTrade(symbol: string, trade: MarketTrade): void {
    const list = this.trades.get(symbol) ?? [];
    list.push({ ...trade });
    this.trades.set(symbol, list);
  }

  async topOfBook(symbol: string): Promise<BookView | null> {
    return this.books.get(symbol) ?? null;
  }

  async tradesSince(symbol: string, cursor: string | null): Promise<TradesPage> {
    const list = this.trades.get(symbol) ?? [];
    if (cursor === null) return { trades: [], cursor: String(list.length) };
    const from = Number(cursor);
    return { trades: list.slice(from), cursor: String(list.length) };
  }
}
