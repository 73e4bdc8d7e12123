// The Exchange interface over Kraken's private REST API. Used for live Kraken (kraken-live.ts) and
// for the local simulator (simulator.ts), which speaks the same protocol.
import type { Logger } from 'pino';
import { Dec, dec, str } from './decimal.ts';
import { InvalidArgumentsError, UnknownOrderError } from './errors.ts';
import { KrakenRestClient, type KrakenTradeInfo } from './kraken-rest.ts';
import { PairMap, toExchangeOrder, wsV2Asset, type KrakenOrderInfo } from './kraken-map.ts';
import { cancelCost, realClock, type Clock } from './rate-limit.ts';
import type {
  AddOrderRequest,
  AddOrderResult,
  CancelResult,
  Exchange,
  ExchangeKind,
  ExchangeOrder,
  FeeRates,
  Fill,
  FillsPage,
} from './types.ts';

export interface KrakenExchangeOptions {
  kind: ExchangeKind;
  client: KrakenRestClient;
  log?: Logger;
  clock?: Clock;
  /** Pair names; loaded from AssetPairs on first use when not given. */
  pairs?: PairMap;
  /** Max ClosedOrders pages (50 each) searched for a client id (default 4). */
  closedPages?: number;
  /** Max TradesHistory pages per fillsSince call (default 20); the rest comes on the next call. */
  tradePages?: number;
  /**
   * Reads (of 1 + tradePages requests each) one fillsSince call may make to page through trades that all
   * lie within the same two seconds (default 10, so 10 × tradePages × 50 trades); past that the call
   * cuts its look-back short, or cannot move, and warns. Paging is by whole seconds, so such trades are
   * reached only by offset.
   */
  tradeDeepReads?: number;
  /**
   * Seconds each fillsSince call looks back behind its cursor for trades TradesHistory lists late
   * (default 60). Kraken's history can trail its matching engines, and a later trade of another pair
   * may already be listed: a cursor that moved past it would otherwise skip such a trade for good.
   */
  fillsLookbackS?: number;
}

/** Kraken cl_ord_id: UUID (with dashes), 32 hex characters, or up to 18 printable ASCII characters. */
export function isValidClientOrderId(id: string): boolean {
  return (
    /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id) ||
    /^[0-9a-fA-F]{32}$/.test(id) ||
    /^[\x21-\x7e]{1,18}$/.test(id)
  );
}

/**
 * The newest trade time seen, and each trade seen from `time - lookback` on with its time
 * (`t:<time>:<id>@<time>,…`). In a cursor written before the look-back existed the ids carry no time:
 * they were the trades at `time`, and are read so.
 */
interface Cursor { time: string; seen: Map<string, Dec> }

function parseCursor(cursor: string | null): Cursor | null {
  if (cursor === null || cursor === '') return null;
  const m = /^t:(\d+(?:\.\d+)?):(.*)$/.exec(cursor);
  if (!m) throw new InvalidArgumentsError('fillsSince', 'malformed cursor', 'invalid', false);
  const time = m[1]!;
  const seen = new Map<string, Dec>();
  for (const entry of m[2] ? m[2].split(',') : []) {
    const at = entry.lastIndexOf('@');
    const t = at < 0 ? time : entry.slice(at + 1);
    if (!/^\d+(?:\.\d+)?$/.test(t)) throw new InvalidArgumentsError('fillsSince', 'malformed cursor', 'invalid', false);
    seen.set(at < 0 ? entry : entry.slice(0, at), new Dec(t));
  }
  return { time, seen };
}

/** A trade read from TradesHistory with its time parsed. */
interface UnseenTrade { id: string; t: KrakenTradeInfo; at: Dec }

function formatCursor(c: Cursor): string {
  const entries = [...c.seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, t]) => `${id}@${str(t)}`);
  return `t:${c.time}:${entries.join(',')}`;
}

export class KrakenExchange implements Exchange {
  readonly kind: ExchangeKind;
  private readonly client: KrakenRestClient;
  private readonly log: Logger | undefined;
  private readonly clock: Clock;
  private pairs: PairMap | undefined;
  private readonly closedPages: number;
  private readonly tradePages: number;
  private readonly tradeDeepReads: number;
  private readonly lookback: Dec;
  /** What we know about orders by txid: placement time (cancel cost), pair, client id, post-only. */
  private readonly known = new Map<string, { placedAt?: number; pair?: string; clientOrderId: string | null; postOnly: boolean }>();

  constructor(opts: KrakenExchangeOptions) {
    this.kind = opts.kind;
    this.client = opts.client;
    this.log = opts.log;
    this.clock = opts.clock ?? realClock;
    this.pairs = opts.pairs;
    this.closedPages = opts.closedPages ?? 4;
    this.tradePages = opts.tradePages ?? 20;
    this.tradeDeepReads = Math.max(1, opts.tradeDeepReads ?? 10);
    const lookback = opts.fillsLookbackS ?? 60;
    if (!Number.isFinite(lookback) || lookback < 0) throw new RangeError(`fillsLookbackS must be a number of seconds >= 0, got ${lookback}`);
    this.lookback = new Dec(lookback);
  }

  private async pairMap(refresh = false): Promise<PairMap> {
    if (!this.pairs || refresh) this.pairs = new PairMap(await this.client.assetPairs());
    return this.pairs;
  }

  private async restPair(symbol: string): Promise<string> {
    let name = (await this.pairMap()).restPair(symbol);
    if (name === undefined) name = (await this.pairMap(true)).restPair(symbol);
    if (name === undefined) throw new InvalidArgumentsError('AddOrder', `unknown symbol ${symbol}`, 'invalid', false);
    return name;
  }

  private async symbolOf(name: string): Promise<string> {
    let s = (await this.pairMap()).symbolOf(name);
    if (s === undefined) s = (await this.pairMap(true)).symbolOf(name);
    return s ?? name;
  }

  async addOrder(req: AddOrderRequest): Promise<AddOrderResult> {
    if (!isValidClientOrderId(req.clientOrderId)) {
      throw new InvalidArgumentsError('AddOrder', 'cl_ord_id must be a UUID, 32 hex characters or at most 18 ASCII characters', 'invalid', false);
    }
    dec(req.qty, 'qty');
    if (req.orderType === 'limit' && req.price === undefined) throw new InvalidArgumentsError('AddOrder', 'limit order without price', 'invalid', false);
    if (req.price !== undefined) dec(req.price, 'price');
    const tif = req.timeInForce ?? 'GTC';
    if (tif === 'GTD' && !req.expireAt) throw new InvalidArgumentsError('AddOrder', 'GTD order without expireAt', 'invalid', false);
    const pair = await this.restPair(req.symbol);
    const res = await this.client.addOrder({
      pair,
      type: req.side,
      ordertype: req.orderType,
      volume: req.qty,
      price: req.orderType === 'limit' ? req.price : undefined,
      cl_ord_id: req.clientOrderId,
      oflags: req.postOnly ? 'post' : undefined,
      timeinforce: tif === 'GTC' ? undefined : tif,
      expiretm: tif === 'GTD' && req.expireAt ? String(Math.floor(req.expireAt.getTime() / 1000)) : undefined,
    });
    const txid = res.txid?.[0];
    if (!txid) throw new InvalidArgumentsError('AddOrder', 'answer without txid (validate-only?)', 'invalid', false);
    this.known.set(txid, { placedAt: this.clock.now(), pair, clientOrderId: req.clientOrderId, postOnly: req.postOnly });
    return { exchangeOrderId: txid };
  }

  async queryOrderByClientId(clientOrderId: string): Promise<ExchangeOrder | null> {
    // Open first: at most one open order can carry the id. Then closed, newest first. An order that
    // moves from open to closed between the two calls is found by the second.
    const { open } = await this.client.openOrders({ cl_ord_id: clientOrderId, trades: true });
    const openHit = Object.entries(open ?? {}).filter(([, o]) => o.cl_ord_id === clientOrderId);
    if (openHit.length > 0) return this.pick(openHit);
    const closedHit: [string, KrakenOrderInfo][] = [];
    for (let page = 0, ofs = 0; page < this.closedPages; page++) {
      const { closed, count } = await this.client.closedOrders({ cl_ord_id: clientOrderId, trades: true, ofs });
      const entries = Object.entries(closed ?? {});
      closedHit.push(...entries.filter(([, o]) => o.cl_ord_id === clientOrderId));
      ofs += entries.length;
      if (entries.length === 0 || ofs >= count || closedHit.length > 0) break;
    }
    if (closedHit.length > 0) return this.pick(closedHit);
    return null;
  }

  private async pick(hits: [string, KrakenOrderInfo][]): Promise<ExchangeOrder> {
    hits.sort(([, a], [, b]) => (b.opentm ?? 0) - (a.opentm ?? 0));
    const [txid, info] = hits[0]!;
    const symbol = await this.symbolOf(info.descr.pair);
    const order = toExchangeOrder(txid, info, symbol);
    const prev = this.known.get(txid);
    this.known.set(txid, {
      placedAt: prev?.placedAt ?? (order.openedAt ? order.openedAt.getTime() : undefined),
      pair: prev?.pair ?? info.descr.pair,
      clientOrderId: order.clientOrderId,
      postOnly: (info.oflags ?? '').split(',').includes('post'),
    });
    return order;
  }

  async cancelOrder(ref: { exchangeOrderId: string } | { clientOrderId: string }): Promise<CancelResult> {
    let k: { placedAt?: number; pair?: string } | undefined;
    if ('exchangeOrderId' in ref) k = this.known.get(ref.exchangeOrderId);
    else for (const v of this.known.values()) if (v.clientOrderId === ref.clientOrderId) k = v;
    const age = k?.placedAt === undefined ? undefined : this.clock.now() - k.placedAt;
    const trading = k?.pair ? { pair: k.pair, cost: cancelCost(age) } : undefined;
    try {
      const res = await this.client.cancelOrder('exchangeOrderId' in ref ? { txid: ref.exchangeOrderId } : { cl_ord_id: ref.clientOrderId }, trading);
      return { count: res.count };
    } catch (err) {
      if (err instanceof UnknownOrderError) return { count: 0 };
      throw err;
    }
  }

  async fillsSince(cursor: string | null): Promise<FillsPage> {
    const c = parseCursor(cursor);
    const seen = c?.seen ?? new Map<string, Dec>();
    // Trades from `lookback` seconds behind the cursor on are read again, for trades listed late; the
    // cursor holds every trade returned in that window, so an unseen one there is new.
    const windowStart = c ? new Dec(c.time).minus(this.lookback) : null;
    const fresh = await this.unseenTrades(c, windowStart);
    await this.learnOrders(fresh.map((x) => x.t.ordertxid));
    const fills: Fill[] = [];
    for (const x of fresh) fills.push(await this.toFill(x.id, x.t));
    // The next cursor: the newest time of all, and every trade seen before or returned now that lies
    // inside its look-back window. Only trades returned are seen: a trade not read yet (newer than what
    // this call read, or in a part of the look-back a call cut short) is returned by a later call.
    const last = fresh.at(-1)?.at;
    const newest = c && (!last || new Dec(c.time).gt(last)) ? new Dec(c.time) : last;
    if (!newest) return { fills, cursor: 't:0:' };
    const nextStart = newest.minus(this.lookback);
    const next = new Map<string, Dec>();
    for (const [id, t] of seen) if (t.gte(nextStart)) next.set(id, t);
    for (const x of fresh) if (x.at.gte(nextStart)) next.set(x.id, x.at);
    return { fills, cursor: formatCursor({ time: str(newest), seen: next }) };
  }

  /**
   * The trades not returned yet from the look-back start on, oldest first, as many as one read of
   * `tradePages` pages finds. One read takes the oldest pages; when more trades wait than it takes and
   * those pages hold only trades returned before (a busy look-back window), the next read starts at
   * the newest of them, so the rest of the window is still read and a trade listed late in it found.
   * Paging is by time and second-grained (a read starts one whole second early): when the oldest
   * pages all lie within the two seconds around the read's start (more trades there than one read
   * takes), the next read takes the next pages by offset from the same start, pinned to the same end
   * (up to `tradeDeepReads` reads); only past that does the call jump to the cursor's own time,
   * skipping that part of the look-back for this call, and warn. Each read costs 1 + up to `tradePages`
   * requests, and a call makes more than one only while its look-back window holds more trades than
   * one read takes.
   */
  private async unseenTrades(c: Cursor | null, windowStart: Dec | null): Promise<UnseenTrade[]> {
    const seen = c?.seen ?? new Map<string, Dec>();
    let from = windowStart;
    let deep = 0; // reads so far from this `from`, each taking the next tradePages pages by offset
    let end: string | undefined;
    for (;;) {
      const fetched = await this.tradesFrom(from, deep, end);
      // Each trade's time parsed once; returned oldest first. A trade before the window start was
      // returned by an earlier call (it has left the cursor's list), or lies before the first cursor.
      const fresh = [...fetched.trades.entries()]
        .filter(([id]) => !seen.has(id))
        .map(([id, t]) => ({ id, t, at: new Dec(t.time) }))
        .filter((x) => windowStart === null || x.at.gte(windowStart))
        .sort((a, b) => a.at.cmp(b.at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      if (fresh.length > 0 || !fetched.partial || fetched.trades.size === 0 || c === null || from === null) return fresh;
      const top = Dec.max(...[...fetched.trades.values()].map((t) => new Dec(t.time)));
      if (top.floor().gt(from.floor())) {
        from = top; // read on: every trade before `top` was fetched and had been returned
        deep = 0;
        end = undefined;
        continue;
      }
      if (deep + 1 < this.tradeDeepReads) {
        // All within two seconds of `from`: the next pages by offset, same start and end, so the
        // offsets of the pages already read stay put.
        deep++;
        end = fetched.end;
        continue;
      }
      const cursorTime = new Dec(c.time);
      if (!cursorTime.floor().gt(from.floor())) {
        this.log?.warn({ cursor_time: c.time, trade_pages: this.tradePages, trade_deep_reads: this.tradeDeepReads }, 'fills cursor cannot move: more trades within two seconds than one call fetches');
        return [];
      }
      this.log?.warn(
        { lookback_s: this.lookback.toFixed(), cursor_time: c.time, skipped_from: str(top), trade_deep_reads: this.tradeDeepReads },
        'fills look-back cut short for one call: more trades within two seconds than one call fetches',
      );
      from = cursorTime;
      deep = 0;
      end = undefined;
    }
  }

  fillsCursorAt(time: Date): string {
    // No ids seen: every trade from `time` on is returned (again); the inbox drops duplicates.
    return formatCursor({ time: new Dec(Math.max(0, Math.floor(time.getTime() / 1000))).toFixed(), seen: new Map() });
  }

  /**
   * TradesHistory from `from` (minus one second) on, the oldest `tradePages` pages after skipping `deep`
   * times that many (pinned to `pinnedEnd` when given); `partial` when newer pages exist than it took,
   * `end` the pin a deeper read of the same window must reuse.
   */
  private async tradesFrom(from: Dec | null, deep = 0, pinnedEnd?: string): Promise<{ trades: Map<string, KrakenTradeInfo>; partial: boolean; end?: string }> {
    const start = from ? Dec.max(from.floor().minus(1), 0).toFixed() : undefined;
    const first = await this.client.tradesHistory({ start, end: pinnedEnd, ofs: 0 });
    const total = first.count;
    const pages: Record<string, KrakenTradeInfo>[] = [first.trades ?? {}];
    // Pages are newest first; when there are more than we fetch in one call, take the oldest ones.
    // `end` (inclusive) pins the window to the first answer, so trades arriving meanwhile do not
    // shift the offsets under us.
    const pageCount = Math.ceil(total / 50);
    let partial = false;
    let end = pinnedEnd;
    if (pageCount > 1) {
      const times = Object.values(first.trades ?? {}).map((t) => new Dec(t.time));
      end ??= times.length ? str(Dec.max(...times)) : undefined;
      const lastPage = pageCount - 1 - deep * this.tradePages;
      const lowest = lastPage - this.tradePages + 1;
      if (lowest > 0) {
        pages.length = 0; // the newest page is not among the oldest ones we take now
        partial = true;
      }
      for (let p = lastPage; p >= Math.max(1, lowest); p--) {
        const page = await this.client.tradesHistory({ start, end, ofs: p * 50 });
        pages.push(page.trades ?? {});
      }
    }
    const trades = new Map<string, KrakenTradeInfo>();
    for (const page of pages) for (const [id, t] of Object.entries(page)) trades.set(id, t);
    return { trades, partial, end };
  }

  /** Client ids and post-only flags of orders we did not place in this process (after a restart). */
  private async learnOrders(txids: string[]): Promise<void> {
    const unknown = [...new Set(txids.filter((t) => !this.known.has(t)))];
    for (let i = 0; i < unknown.length; i += 50) {
      const res = await this.client.queryOrders(unknown.slice(i, i + 50), false);
      for (const [txid, o] of Object.entries(res)) {
        this.known.set(txid, {
          placedAt: o.opentm ? Math.round(o.opentm * 1000) : undefined,
          pair: o.descr.pair,
          clientOrderId: o.cl_ord_id ?? null,
          postOnly: (o.oflags ?? '').split(',').includes('post'),
        });
      }
    }
  }

  private async toFill(id: string, t: KrakenTradeInfo): Promise<Fill> {
    const k = this.known.get(t.ordertxid);
    // Kraken's `maker` flag; without it a post-only order can only have made, anything else counts as taker.
    const maker = typeof t.maker === 'boolean' ? t.maker : (k?.postOnly ?? false);
    return {
      tradeId: id,
      exchangeOrderId: t.ordertxid,
      clientOrderId: k?.clientOrderId ?? null,
      symbol: await this.symbolOf(t.pair),
      side: t.type === 'sell' ? 'sell' : 'buy',
      price: str(dec(t.price, 'price')),
      qty: str(dec(t.vol, 'vol')),
      cost: str(dec(t.cost, 'cost')),
      fee: str(dec(t.fee, 'fee')),
      liquidity: maker ? 'maker' : 'taker',
      time: new Date(Math.round(t.time * 1000)),
    };
  }

  /**
   * TradeVolume for the symbols Kraken knows (others are left out): percent → fraction, exactly
   * (0.2600 → 0.0026); a pair without a maker schedule pays its taker rate as maker too.
   */
  async feeRates(symbols: readonly string[]): Promise<Record<string, FeeRates>> {
    const names = new Map<string, string>();
    const map = await this.pairMap();
    for (const s of symbols) {
      const name = map.restPair(s);
      if (name !== undefined) names.set(name, s);
    }
    if (names.size === 0) return {};
    const tv = await this.client.tradeVolume([...names.keys()]);
    const out: Record<string, FeeRates> = {};
    for (const [name, f] of Object.entries(tv.fees ?? {})) {
      const symbol = names.get(name) ?? (await this.symbolOf(name));
      if (!symbols.includes(symbol)) continue;
      const taker = dec(f.fee, `TradeVolume fee of ${name}`).div(100);
      const makerText = tv.fees_maker?.[name]?.fee;
      const maker = makerText === undefined ? taker : dec(makerText, `TradeVolume maker fee of ${name}`).div(100);
      out[symbol] = { maker: str(maker), taker: str(taker) };
    }
    return out;
  }

  /** Balance, with Kraken's asset codes mapped to WS v2 names (a code listed twice under one name is summed). */
  async balances(): Promise<Record<string, string>> {
    const sums = new Map<string, Dec>();
    for (const [code, v] of Object.entries(await this.client.balance())) {
      // `.F` (Kraken Rewards, auto-earn) is traded through its base asset ("use the base asset to transact
      // with your USDT and USDT.F balances"): one tradable balance, however auto-earn splits it. Staked
      // and other yield balances (.S, .M, .B) and holds stay apart: moving funds there is a real change.
      const asset = wsV2Asset(code).replace(/\.F$/, '');
      sums.set(asset, (sums.get(asset) ?? new Dec(0)).plus(dec(v, `Balance of ${code}`)));
    }
    return Object.fromEntries([...sums].map(([a, v]) => [a, str(v)]));
  }

  /** A token for the private WebSocket (GetWebSocketsToken; use it within 15 minutes). Never log it. */
  async webSocketsToken(): Promise<string> {
    return (await this.client.getWebSocketsToken()).token;
  }

  async close(): Promise<void> {}
}
