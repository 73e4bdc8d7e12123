// One pair's synthetic market: a price process moves a fair value, and order flow around it
// (passive adds, cancels, amends, marketable orders that consume resting orders) mutates the
// pair's SimBook. Trades only ever come from resting orders, so they always match the book.
import { formatScaled, parseScaled } from '../kraken/decimal-text.ts';
import { SimBook, type SimEvent, type SimOrder, type Side } from './book.ts';
import type { PairSpec, PairStatus, PriceProcess } from './pairs.ts';
import { Prng } from './prng.ts';

export interface SimTrade {
  side: 'buy' | 'sell';
  price: bigint;
  qty: bigint;
  priceText: string;
  qtyText: string;
  ordType: 'market' | 'limit';
  tradeId: number;
  ts: bigint;
}

export interface StepResult {
  ts: bigint;
  events: SimEvent[];
  trades: SimTrade[];
  bboChanged: boolean;
  /** Top price levels before the step (as many as asked for), best first. */
  before: { bid: bigint[]; ask: bigint[] };
}

interface Params {
  sigma: number; theta: number; drift: number; jumpProb: number; jumpSize: number;
  levels: number; minLevels: number; gapRel: number; spreadGaps: number; pTake: number;
  activity: number; notional: number;
}

const PARAMS: Record<PriceProcess, Params> = {
  ranging: { sigma: 0.00015, theta: 0.02, drift: 0, jumpProb: 0, jumpSize: 0, levels: 50, minLevels: 12, gapRel: 2e-5, spreadGaps: 0, pTake: 0.12, activity: 1, notional: 2000 },
  trending: { sigma: 0.00015, theta: 0, drift: 0.00004, jumpProb: 0, jumpSize: 0, levels: 50, minLevels: 12, gapRel: 2e-5, spreadGaps: 0, pTake: 0.18, activity: 1, notional: 2000 },
  volatile: { sigma: 0.0008, theta: 0.005, drift: 0, jumpProb: 0.01, jumpSize: 0.004, levels: 35, minLevels: 11, gapRel: 5e-5, spreadGaps: 1, pTake: 0.25, activity: 1.5, notional: 1500 },
  thin: { sigma: 0.0002, theta: 0.01, drift: 0, jumpProb: 0, jumpSize: 0, levels: 7, minLevels: 3, gapRel: 5e-4, spreadGaps: 4, pTake: 0.03, activity: 0.25, notional: 300 },
};

const ORDERS_PER_LEVEL = 2.5;
const RECENT_TRADES = 50;

export class PairMarket {
  readonly book: SimBook;
  readonly params: Params;
  status: PairStatus = 'online';
  readonly recentTrades: SimTrade[] = [];
  private readonly rng: Prng;
  private readonly anchor: number;
  private fair: number;
  private drift: number;
  private readonly gap: number;
  private readonly qtyMinUnits: bigint;
  private orderSeq = 0;
  private tradeSeq = 0;
  // Ticker statistics since start (the simulator's "24 h").
  private open: bigint | undefined;
  private last: bigint | undefined;
  private low: bigint | undefined;
  private high: bigint | undefined;
  private volume = 0n;
  /** The start price in ticks (ticker fallback for last/open), parsed once. */
  private startUnits: bigint | undefined;
  private cost = 0n;

  /** `startNs`: time stamped on the orders of the initial book. */
  constructor(readonly spec: PairSpec, readonly index: number, seed: string | number, startNs = 0n) {
    this.rng = Prng.derive(seed, spec.symbol);
    this.params = PARAMS[spec.process];
    this.book = new SimBook(spec.pricePrecision, spec.qtyPrecision);
    this.anchor = Number(parseScaled(spec.startPrice, spec.pricePrecision));
    this.fair = this.anchor;
    this.drift = this.params.drift;
    this.gap = Math.max(1, Math.round(this.anchor * this.params.gapRel));
    this.qtyMinUnits = parseScaled(spec.qtyMin, spec.qtyPrecision);
    this.seedBook(startNs);
  }

  get activity(): number { return this.params.activity; }

  /** Initial book: levels around the start price on both sides. */
  private seedBook(ts: bigint): void {
    for (let i = 0; i < this.params.levels * ORDERS_PER_LEVEL; i++) this.addPassive(i % 2 === 0 ? 'bid' : 'ask', ts);
    this.book.drainEvents();
  }

  /** Advances the market by one step at time `ts`; `captureDepth` top levels are saved from before. */
  step(ts: bigint, captureDepth: number): StepResult {
    const b = this.book;
    const before = captureDepth > 0
      ? { bid: b.bids.prices.slice(0, captureDepth), ask: b.asks.prices.slice(0, captureDepth) }
      : { bid: [], ask: [] };
    const bbo0 = this.bbo();
    const trades: SimTrade[] = [];
    this.moveFair();
    if (this.status === 'online' || this.status === 'post_only' || this.status === 'limit_only') {
      const actions = 1 + (this.rng.chance(0.3) ? 1 : 0) + (this.rng.chance(0.1) ? 1 : 0);
      // At most one taker per step, and first: a step's trades then all sweep from the pre-step touch.
      for (let i = 0; i < actions; i++) this.act(ts, trades, i === 0 && this.status === 'online');
      this.replenish(ts);
    } else if (this.status === 'cancel_only' && this.rng.chance(0.3) && b.orderCount > 4 * this.params.minLevels) {
      this.cancelRandom(ts);
    }
    const bbo1 = this.bbo();
    const bboChanged = bbo1[0] !== bbo0[0] || bbo1[1] !== bbo0[1] || bbo1[2] !== bbo0[2] || bbo1[3] !== bbo0[3];
    return { ts, events: b.drainEvents(), trades, bboChanged, before };
  }

  /** Best bid/ask prices and quantities, to detect a changed top of book. */
  private bbo(): [bigint, bigint, bigint, bigint] {
    const b = this.book;
    // ordered[0] is the level of prices[0] (no Map lookup by bigint).
    const bid = b.bids.ordered[0];
    const ask = b.asks.ordered[0];
    return [bid?.price ?? -1n, bid?.total ?? 0n, ask?.price ?? -1n, ask?.total ?? 0n];
  }

  private moveFair(): void {
    const p = this.params;
    const r = this.rng;
    let f = this.fair;
    f += p.theta * (this.anchor - f) + f * (this.drift + p.sigma * r.normal());
    if (p.jumpProb > 0 && r.chance(p.jumpProb)) f *= 1 + (r.chance(0.5) ? 1 : -1) * p.jumpSize;
    if (p.drift !== 0 && r.chance(0.002)) this.drift = -this.drift;
    // Keep the walk within a band around the anchor so long benchmark runs stay sane.
    if (f > this.anchor * 3) { f = this.anchor * 3; this.drift = -Math.abs(this.drift); }
    if (f < this.anchor / 3) { f = this.anchor / 3; this.drift = Math.abs(this.drift); }
    this.fair = Math.max(f, 10 * this.gap);
  }

  private act(ts: bigint, trades: SimTrade[], takersAllowed: boolean): void {
    const r = this.rng;
    const b = this.book;
    const bid = b.bids.best();
    const ask = b.asks.best();
    // The fair value outside the touch makes takers much more likely: that is how prices move.
    let pTake = this.params.pTake;
    let takeSide: 'buy' | 'sell' = r.chance(0.5) ? 'buy' : 'sell';
    if (ask !== undefined && this.fair > Number(ask)) { pTake = Math.max(pTake, 0.35); takeSide = 'buy'; }
    if (bid !== undefined && this.fair < Number(bid)) { pTake = Math.max(pTake, 0.35); takeSide = 'sell'; }
    const target = this.params.levels * ORDERS_PER_LEVEL;
    const pCancel = Math.min(0.8, Math.max(0.03, 0.3 * (b.orderCount / target) ** 3));
    const u = r.next();
    if (takersAllowed && u < pTake) this.take(takeSide, ts, trades);
    else if (u < pTake + pCancel) this.cancelRandom(ts);
    else if (u < pTake + pCancel + 0.05) this.amendRandom(ts);
    else this.addPassive(r.chance(0.5) ? 'bid' : 'ask', ts);
  }

  private nextOrderId(): string {
    const n = this.orderSeq++;
    const mix = (Math.imul(n ^ 0x5bd1e995, 0x27d4eb2d) ^ (this.index * 0x9e3779b1)) >>> 0;
    return `O${b32(this.index, 5)}-${b32(mix, 5)}-${b32(n, 6)}`;
  }

  private randomQty(scale: number): bigint {
    // Notional in quote currency → base quantity → integer units at qty precision.
    const base = (this.params.notional * scale * this.rng.logNormal(1) * 10 ** this.spec.pricePrecision) / this.fair;
    const q = BigInt(Math.max(1, Math.round(base * 10 ** this.spec.qtyPrecision)));
    return q < this.qtyMinUnits ? this.qtyMinUnits : q;
  }

  private addPassive(side: Side, ts: bigint): void {
    const r = this.rng;
    const b = this.book;
    const g = this.gap;
    const half = g * (0.5 + this.params.spreadGaps);
    const bid = b.bids.best();
    const ask = b.asks.best();
    const depthTicks = (r.geometric(1 / (this.params.levels / 2)) * g + r.int(g));
    let price: number;
    if (side === 'bid') {
      price = Math.floor(this.fair - half) - depthTicks;
      if (ask !== undefined && price >= Number(ask)) price = Number(ask) - 1 - r.int(g);
    } else {
      price = Math.ceil(this.fair + half) + depthTicks;
      if (bid !== undefined && price <= Number(bid)) price = Number(bid) + 1 + r.int(g);
    }
    if (price < 1) price = 1;
    this.book.add(this.nextOrderId(), side, BigInt(price), this.randomQty(1), ts);
  }

  private cancelRandom(ts: bigint): void {
    const all = this.book.all;
    if (all.length === 0) return;
    this.book.remove(all[this.rng.int(all.length)]!, ts);
  }

  private amendRandom(ts: bigint): void {
    const all = this.book.all;
    if (all.length === 0) return;
    const o = all[this.rng.int(all.length)]!;
    const q = (o.qty * BigInt(20 + this.rng.int(70))) / 100n;
    if (q >= this.qtyMinUnits && q > 0n && q < o.qty) this.book.modify(o, q, ts);
  }

  /** A marketable order: consumes resting orders from the touch, in queue order. */
  private take(side: 'buy' | 'sell', ts: bigint, trades: SimTrade[]): void {
    const b = this.book;
    const resting = side === 'buy' ? b.asks : b.bids;
    const best = resting.best();
    if (best === undefined) return;
    const ordType = this.rng.chance(0.7) ? 'market' : 'limit';
    const reach = BigInt(this.rng.geometric(0.5) * this.gap);
    const limit = side === 'buy' ? best + reach : best - reach;
    let remaining = this.randomQty(0.6);
    while (remaining > 0n) {
      const p = resting.best();
      if (p === undefined) break;
      if (ordType === 'limit' && (side === 'buy' ? p > limit : p < limit)) break;
      // Never sweep a side empty: the last level stays (a real book refills; so does ours).
      const top = resting.ordered[0]!; // the level of p
      if (resting.prices.length <= 1 && top.orders.length <= 1) break;
      const maker: SimOrder = top.orders[0]!;
      const fill = remaining < maker.qty ? remaining : maker.qty;
      if (fill === maker.qty) b.remove(maker, ts); else b.modify(maker, maker.qty - fill, ts);
      remaining -= fill;
      this.recordTrade({
        side, price: p, qty: fill, priceText: maker.priceText, qtyText: formatScaled(fill, this.spec.qtyPrecision),
        ordType, tradeId: ++this.tradeSeq, ts,
      }, trades);
    }
  }

  private recordTrade(t: SimTrade, trades: SimTrade[]): void {
    trades.push(t);
    this.recentTrades.push(t);
    if (this.recentTrades.length > RECENT_TRADES) this.recentTrades.shift();
    this.open ??= t.price;
    this.last = t.price;
    if (this.low === undefined || t.price < this.low) this.low = t.price;
    if (this.high === undefined || t.price > this.high) this.high = t.price;
    this.volume += t.qty;
    this.cost += t.price * t.qty;
  }

  /** Keeps a minimum number of levels per side so the book never runs dry. */
  private replenish(ts: bigint): void {
    for (const side of ['bid', 'ask'] as const) {
      const s = this.book.side(side);
      let guard = 0;
      while (s.prices.length < this.params.minLevels && guard++ < 4 * this.params.minLevels) this.addPassive(side, ts);
    }
  }

  /** Ticker fields as decimal text at the pair's precisions. */
  ticker(): Record<'bid' | 'bid_qty' | 'ask' | 'ask_qty' | 'last' | 'volume' | 'vwap' | 'low' | 'high' | 'change' | 'change_pct', string> {
    const pp = this.spec.pricePrecision;
    const qp = this.spec.qtyPrecision;
    const b = this.book;
    const bid = b.bids.best() ?? 0n;
    const ask = b.asks.best() ?? 0n;
    const start = (this.startUnits ??= parseScaled(this.spec.startPrice, pp));
    const last = this.last ?? start;
    const open = this.open ?? start;
    const change = last - open;
    return {
      bid: formatScaled(bid, pp),
      bid_qty: formatScaled(b.bids.levels.get(bid)?.total ?? 0n, qp),
      ask: formatScaled(ask, pp),
      ask_qty: formatScaled(b.asks.levels.get(ask)?.total ?? 0n, qp),
      last: formatScaled(last, pp),
      volume: formatScaled(this.volume, qp),
      vwap: formatScaled(this.volume === 0n ? last : this.cost / this.volume, pp),
      low: formatScaled(this.low ?? last, pp),
      high: formatScaled(this.high ?? last, pp),
      change: formatScaled(change, pp),
      change_pct: formatScaled(open === 0n ? 0n : (change * 10000n) / open, 2),
    };
  }
}

function b32(n: number, width: number): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let s = '';
  let v = n >>> 0;
  for (let i = 0; i < width; i++) { s = A[v & 31]! + s; v = Math.floor(v / 32); }
  return s;
}
