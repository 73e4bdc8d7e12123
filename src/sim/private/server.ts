// The simulator's private REST API: the Kraken calls the engine uses (AddOrder, CancelOrder,
// QueryOrders, OpenOrders, ClosedOrders, TradesHistory, Balance, TradeVolume, GetWebSocketsToken) plus the public
// AssetPairs, over node:http on 127.0.0.1. Requests are authenticated exactly like Kraken: API-Key
// must be known (EAPI:Invalid key), API-Sign must match (EAPI:Invalid signature), the nonce must be
// larger than the key's last one (EAPI:Invalid nonce). Orders match against a pluggable PriceSource
// (src/exchange/matching.ts), with maker/taker fees and balances. Faults can be injected.
//
// Standalone: startPrivateRestServer(). To serve it from another HTTP server (the public simulator's),
// use createPrivateRestHandler() and call its handle(req, res) for requests under /0/.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Dec, ROUND_UP, dec, decimalsOf, str } from '../../exchange/decimal.ts';
import { isValidClientOrderId } from '../../exchange/kraken-exchange.ts';
import { legacyAssetCode } from '../../exchange/kraken-map.ts';
import {
  DEFAULT_FEES,
  MatchingVenue,
  VenueRejection,
  toKrakenOrderInfo,
  type BookView,
  type FeeSchedule,
  type VenueOrder,
  type VenueTrade,
} from '../../exchange/matching.ts';
import { krakenSignature, decodeSecret, signaturesEqual } from '../../exchange/sign.ts';
import { ExecutionReports, closeReport, fillReport, newReport, snapshotOrder } from './executions.ts';
import { FaultPlan, type PrivateFault } from './faults.ts';
import { DEFAULT_REST_PAIRS, toAssetPair, type RestPairSpec } from './pairs.ts';
import { RandomWalkPriceSource, type PriceSource } from './price-source.ts';
import { attachPrivateWs, type PrivateWs, type PrivateWsDeps } from './ws.ts';

export interface SimAccountSpec {
  apiKey: string;
  /** Base64, as Kraken issues them. */
  apiSecret: string;
  /** Starting balances by WS v2 asset name (BTC, USD), decimal strings. */
  balances?: Record<string, string>;
}

export interface PrivateRestOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  accounts: SimAccountSpec[];
  pairs?: RestPairSpec[];
  /** Default: a RandomWalkPriceSource over the pairs (closed with the server). */
  prices?: PriceSource;
  fees?: FeeSchedule;
  now?: () => number;
  /** Token GetWebSocketsToken hands out (default random per call). */
  wsToken?: string;
}

interface Account {
  spec: SimAccountSpec;
  secret: Buffer;
  lastNonce: bigint;
  venue: MatchingVenue;
  balances: Map<string, Dec>;
}

type Params = URLSearchParams;
type Result = { status?: number; body: unknown } | { drop: true };

class ApiError extends Error {
  constructor(readonly krakenError: string) {
    super(krakenError);
  }
}

export interface PrivateRestHandler {
  /** Handles /0/private/* and /0/public/AssetPairs; returns false for other paths. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  readonly faults: FaultPlan;
  inject(f: PrivateFault): void;
  /** The account's orders and fills (read only). */
  venue(apiKey: string): MatchingVenue;
  balances(apiKey: string): Record<string, string>;
  /** Requests answered or dropped, by method. */
  readonly calls: Map<string, number>;
  /** What the private WebSocket (ws.ts) needs: tokens, execution reports, snapshots. */
  readonly wsDeps: PrivateWsDeps;
  close(): void;
}

export function createPrivateRestHandler(opts: PrivateRestOptions): PrivateRestHandler {
  const pairs = opts.pairs ?? DEFAULT_REST_PAIRS;
  const now = opts.now ?? Date.now;
  const fees = opts.fees ?? DEFAULT_FEES;
  const ownPrices = opts.prices === undefined;
  const prices = opts.prices ?? new RandomWalkPriceSource({ pairs });
  const faults = new FaultPlan();
  const calls = new Map<string, number>();
  const bySymbol = new Map(pairs.map((p) => [p.symbol, p]));
  const byName = new Map<string, RestPairSpec>();
  for (const p of pairs) for (const n of [p.key, p.altname, p.symbol, toAssetPair(p).wsname!]) byName.set(n, p);
  const accounts = new Map<string, Account>();
  const reports = new ExecutionReports();
  /** WebSocket tokens handed out by GetWebSocketsToken: account key and the time they must be used by. */
  const wsTokens = new Map<string, { apiKey: string; useBy: number }>();

  for (const spec of opts.accounts) {
    const balances = new Map(Object.entries(spec.balances ?? { USD: '100000', EUR: '100000', BTC: '10', ETH: '100' }).map(([a, v]) => [a, dec(v, 'balance')]));
    const account: Account = { spec, secret: decodeSecret(spec.apiSecret), lastNonce: 0n, balances, venue: undefined as never };
    account.venue = new MatchingVenue({
      fees,
      now,
      feeDecimals: (symbol) => bySymbol.get(symbol)?.costDecimals ?? 8,
      onFill: (t, o) => {
        applyFill(account, t);
        reports.publish(spec.apiKey, fillReport(t, o, bySymbol.get(t.symbol)?.quote ?? ''));
      },
      onOrderEvent: (o, event) => reports.publish(spec.apiKey, event === 'new' ? newReport(o) : closeReport(o)),
    });
    accounts.set(spec.apiKey, account);
  }

  function applyFill(a: Account, t: VenueTrade): void {
    const p = bySymbol.get(t.symbol)!;
    const base = a.balances.get(p.base) ?? new Dec(0);
    const quote = a.balances.get(p.quote) ?? new Dec(0);
    const cost = new Dec(t.cost);
    const fee = new Dec(t.fee);
    if (t.side === 'buy') {
      a.balances.set(p.base, base.plus(new Dec(t.vol)));
      a.balances.set(p.quote, quote.minus(cost).minus(fee));
    } else {
      a.balances.set(p.base, base.minus(new Dec(t.vol)));
      a.balances.set(p.quote, quote.plus(cost).minus(fee));
    }
  }

  const unsubscribe = prices.onTrade((symbol, trade) => {
    for (const a of accounts.values()) {
      if (trade.time) a.venue.expire(trade.time.getTime());
      a.venue.onTrade(symbol, trade);
    }
  });

  /** Funds held by open orders, per asset. */
  function holds(a: Account): Map<string, Dec> {
    const h = new Map<string, Dec>();
    const add = (asset: string, v: Dec) => h.set(asset, (h.get(asset) ?? new Dec(0)).plus(v));
    for (const o of a.venue.openOrders()) {
      const p = bySymbol.get(o.symbol);
      if (!p) continue;
      const left = new Dec(o.vol).minus(new Dec(o.volExec));
      if (o.side === 'sell') add(p.base, left);
      else add(p.quote, left.times(new Dec(o.price ?? '0')).times(new Dec(1).plus(new Dec(fees.taker))));
    }
    return h;
  }

  function available(a: Account, asset: string): Dec {
    return (a.balances.get(asset) ?? new Dec(0)).minus(holds(a).get(asset) ?? new Dec(0));
  }

  /** Cost of buying `vol` now by walking the asks (for market buys). */
  function walkCost(book: BookView, side: 'buy' | 'sell', vol: Dec): Dec | null {
    let left = vol;
    let cost = new Dec(0);
    for (const l of side === 'buy' ? book.asks : book.bids) {
      const take = Dec.min(left, new Dec(l.qty));
      cost = cost.plus(take.times(new Dec(l.price)));
      left = left.minus(take);
      if (left.lte(0)) break;
    }
    return left.gt(0) && cost.isZero() ? null : cost;
  }

  function pairOf(params: Params): RestPairSpec {
    const name = params.get('pair');
    const p = name ? byName.get(name) : undefined;
    if (!p) throw new ApiError('EQuery:Unknown asset pair');
    return p;
  }

  /** Every account pays the server's fee schedule: percent with four decimals, as Kraken writes them. */
  function tradeVolume(params: Params): unknown {
    const pct = (fraction: string) => new Dec(fraction).times(100).toFixed(4);
    const out = { currency: 'ZUSD', volume: '0.0000', fees: {} as Record<string, unknown>, fees_maker: {} as Record<string, unknown> };
    for (const name of (params.get('pair') ?? '').split(',').filter(Boolean)) {
      if (!byName.has(name)) throw new ApiError('EQuery:Unknown asset pair');
      out.fees[name] = { fee: pct(fees.taker), minfee: pct(fees.taker), maxfee: pct(fees.taker), nextfee: null, nextvolume: null, tiervolume: '0.0000' };
      out.fees_maker[name] = { fee: pct(fees.maker), minfee: pct(fees.maker), maxfee: pct(fees.maker), nextfee: null, nextvolume: null, tiervolume: '0.0000' };
    }
    return out;
  }

  function addOrder(a: Account, params: Params): unknown {
    const p = pairOf(params);
    const type = params.get('type');
    if (type !== 'buy' && type !== 'sell') throw new ApiError('EGeneral:Invalid arguments:type');
    const ordertype = params.get('ordertype');
    if (ordertype !== 'limit' && ordertype !== 'market') throw new ApiError('EGeneral:Invalid arguments:ordertype');
    const volume = params.get('volume') ?? '';
    if (!/^\d+(\.\d+)?$/.test(volume) || decimalsOf(volume) > p.lotDecimals) throw new ApiError('EGeneral:Invalid arguments:volume');
    const vol = new Dec(volume);
    if (vol.lte(0)) throw new ApiError('EGeneral:Invalid arguments:volume');
    const clOrdId = params.get('cl_ord_id');
    if (clOrdId !== null && !isValidClientOrderId(clOrdId)) throw new ApiError('EGeneral:Invalid arguments:cl_ord_id');
    if (clOrdId !== null && params.get('userref') !== null) throw new ApiError('EGeneral:Invalid arguments:cl_ord_id and userref');
    const oflags = (params.get('oflags') ?? '').split(',').filter(Boolean);
    if (oflags.some((f) => !['post', 'fcib', 'fciq', 'nompp', 'viqc'].includes(f))) throw new ApiError('EGeneral:Invalid arguments:oflags');
    const postOnly = oflags.includes('post');
    if (postOnly && ordertype !== 'limit') throw new ApiError('EGeneral:Invalid arguments:oflags');
    const tifRaw = params.get('timeinforce') ?? 'GTC';
    if (tifRaw !== 'GTC' && tifRaw !== 'IOC' && tifRaw !== 'GTD') throw new ApiError('EGeneral:Invalid arguments:timeinforce');
    let expireAt: number | null = null;
    if (tifRaw === 'GTD') {
      const e = params.get('expiretm') ?? '';
      if (/^\+\d+$/.test(e)) expireAt = now() + Number(e.slice(1)) * 1000;
      else if (/^\d+(\.\d+)?$/.test(e)) expireAt = Math.round(Number(e) * 1000);
      else throw new ApiError('EGeneral:Invalid arguments:expiretm');
    }
    let price: Dec | null = null;
    if (ordertype === 'limit') {
      const priceText = params.get('price') ?? '';
      if (!/^\d+(\.\d+)?$/.test(priceText)) throw new ApiError('EGeneral:Invalid arguments:price');
      price = new Dec(priceText);
      if (price.lte(0)) throw new ApiError('EGeneral:Invalid arguments:price');
      if (!price.mod(new Dec(p.tickSize)).isZero()) throw new ApiError('EOrder:Tick size check failed');
    }
    if (vol.lt(new Dec(p.ordermin))) throw new ApiError('EOrder:Order minimum not met');
    const book = prices.book(p.symbol);
    if (!book) throw new ApiError('EService:Unavailable');
    const estCost = price ? price.times(vol) : walkCost(book, type, vol);
    if (estCost === null) throw new ApiError('EOrder:Insufficient liquidity');
    if (estCost.lt(new Dec(p.costmin))) throw new ApiError('EOrder:Cost minimum not met');
    if (type === 'buy') {
      const need = estCost.times(new Dec(1).plus(new Dec(fees.taker))).toDecimalPlaces(p.costDecimals, ROUND_UP);
      if (available(a, p.quote).lt(need)) throw new ApiError('EOrder:Insufficient funds');
    } else if (available(a, p.base).lt(vol)) {
      throw new ApiError('EOrder:Insufficient funds');
    }
    if (clOrdId !== null && a.venue.openWithClientId(clOrdId)) throw new ApiError('EOrder:Duplicate order');
    const descr = { order: `${type} ${volume} ${p.altname} @ ${ordertype === 'limit' ? `limit ${params.get('price')}` : 'market'}` };
    const validate = params.get('validate');
    if (validate === 'true' || validate === '1') return { descr };
    const order = a.venue.place(
      { clOrdId, symbol: p.symbol, side: type, ordertype, price: price ? str(price) : undefined, vol: volume, postOnly, timeInForce: tifRaw, expireAt },
      book,
    );
    return { descr, txid: [order.txid] };
  }

  function orderMap(list: VenueOrder[], withTrades: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const o of list) out[o.txid] = toKrakenOrderInfo(o, bySymbol.get(o.symbol)?.altname ?? o.symbol, withTrades);
    return out;
  }

  const truthy = (v: string | null) => v === 'true' || v === '1';

  function tradeTimeSec(ms: number): number {
    return ms / 1000;
  }

  function tradesHistory(a: Account, params: Params): unknown {
    let list = [...a.venue.allTrades()].reverse(); // newest first
    if (faults.historyLagMs.size > 0) {
      const t = now();
      list = list.filter((x) => x.time <= t - (faults.historyLagMs.get(x.symbol) ?? 0));
    }
    const bound = (v: string | null, inclusive: boolean, lower: boolean) => {
      if (v === null || v === '') return;
      let t: number;
      if (/^\d+(\.\d+)?$/.test(v)) t = Number(v) * 1000;
      else {
        const hit = list.find((x) => x.txid === v);
        if (!hit) throw new ApiError('EGeneral:Invalid arguments:start/end');
        t = hit.time;
      }
      list = list.filter((x) => (lower ? (inclusive ? x.time >= t : x.time > t) : inclusive ? x.time <= t : x.time < t));
    };
    bound(params.get('start'), false, true);
    bound(params.get('end'), true, false);
    const count = list.length;
    const ofs = Number(params.get('ofs') ?? '0') || 0;
    const page = list.slice(ofs, ofs + 50);
    const trades: Record<string, unknown> = {};
    for (const t of page) {
      const p = bySymbol.get(t.symbol)!;
      trades[t.txid] = {
        ordertxid: t.orderTxid,
        postxid: `P${t.txid.slice(1)}`,
        pair: p.key,
        time: tradeTimeSec(t.time),
        type: t.side,
        ordertype: t.ordertype,
        price: t.price,
        cost: t.cost,
        fee: t.fee,
        vol: t.vol,
        margin: '0.00000',
        leverage: '0',
        misc: '',
        maker: t.maker,
        trade_id: t.seq,
      };
    }
    return { trades, count };
  }

  function dispatch(method: string, a: Account, params: Params): unknown {
    a.venue.expire(now());
    switch (method) {
      case 'AddOrder':
        return addOrder(a, params);
      case 'CancelOrder': {
        const txid = params.get('txid');
        const cl = params.get('cl_ord_id');
        if ((txid === null) === (cl === null)) throw new ApiError('EGeneral:Invalid arguments:txid or cl_ord_id');
        const count = txid !== null ? a.venue.cancel({ txid }) : a.venue.cancel({ clOrdId: cl! });
        if (count === 0) throw new ApiError('EOrder:Unknown order');
        return { count, pending: false };
      }
      case 'QueryOrders': {
        const ids = (params.get('txid') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (ids.length === 0 || ids.length > 50) throw new ApiError('EGeneral:Invalid arguments:txid');
        const found = ids.map((id) => a.venue.get(id)).filter((o): o is VenueOrder => !!o);
        if (found.length === 0) throw new ApiError('EOrder:Invalid order');
        return orderMap(found, truthy(params.get('trades')));
      }
      case 'OpenOrders': {
        const cl = params.get('cl_ord_id');
        const list = a.venue.openOrders().filter((o) => cl === null || o.clOrdId === cl);
        return { open: orderMap(list, truthy(params.get('trades'))) };
      }
      case 'ClosedOrders': {
        const cl = params.get('cl_ord_id');
        const list = a.venue.closedOrders().filter((o) => cl === null || o.clOrdId === cl);
        const ofs = Number(params.get('ofs') ?? '0') || 0;
        return { closed: orderMap(list.slice(ofs, ofs + 50), truthy(params.get('trades'))), count: list.length };
      }
      case 'TradesHistory':
        return tradesHistory(a, params);
      case 'Balance': {
        const out: Record<string, string> = {};
        for (const [asset, v] of a.balances) out[legacyAssetCode(asset)] = v.toFixed(asset === 'USD' || asset === 'EUR' ? 4 : 10);
        return out;
      }
      case 'TradeVolume':
        return tradeVolume(params);
      case 'GetWebSocketsToken': {
        const token = opts.wsToken ?? randomBytes(20).toString('base64');
        wsTokens.set(token, { apiKey: a.spec.apiKey, useBy: now() + 900_000 });
        return { token, expires: 900 };
      }
      default:
        throw new ApiError('EGeneral:Unknown method');
    }
  }

  function authenticate(req: http.IncomingMessage, path: string, body: string): { account: Account; params: Params } {
    const key = req.headers['api-key'];
    const account = typeof key === 'string' ? accounts.get(key) : undefined;
    if (!account) throw new ApiError('EAPI:Invalid key');
    const sign = req.headers['api-sign'];
    const params = new URLSearchParams(body);
    const nonceText = params.get('nonce') ?? '';
    const expected = krakenSignature(path, nonceText, body, account.secret);
    if (typeof sign !== 'string' || !signaturesEqual(sign, expected)) throw new ApiError('EAPI:Invalid signature');
    if (!/^\d{1,20}$/.test(nonceText)) throw new ApiError('EAPI:Invalid nonce');
    const nonce = BigInt(nonceText);
    if (nonce > 18446744073709551615n || nonce <= account.lastNonce) throw new ApiError('EAPI:Invalid nonce');
    account.lastNonce = nonce;
    return { account, params };
  }

  function send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function processRequest(req: http.IncomingMessage, path: string, body: string): Promise<Result> {
    if (path === '/0/public/AssetPairs') {
      const result: Record<string, unknown> = {};
      for (const p of pairs) result[p.key] = toAssetPair(p);
      return { body: { error: [], result } };
    }
    const m = /^\/0\/private\/([A-Za-z]+)$/.exec(path);
    if (!m || req.method !== 'POST') return { status: 404, body: { error: ['EGeneral:Unknown method'] } };
    const method = m[1]!;
    calls.set(method, (calls.get(method) ?? 0) + 1);
    const fault = faults.take(method);
    if (fault?.kind === 'unavailable') return { body: { error: ['EService:Unavailable'] } };
    let result: Result;
    try {
      const { account, params } = authenticate(req, path, body);
      result = { body: { error: [], result: dispatch(method, account, params) } };
    } catch (err) {
      if (err instanceof ApiError) result = { body: { error: [err.krakenError] } };
      else if (err instanceof VenueRejection) result = { body: { error: [err.krakenError] } };
      else result = { status: 500, body: { error: ['EGeneral:Internal error'] } };
    }
    const delay = (fault?.kind === 'delay' ? fault.ms : 0) + faults.delayAllMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (fault?.kind === 'drop_response') return { drop: true };
    return result;
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith('/0/')) return false;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      processRequest(req, path, body).then(
        (r) => {
          if ('drop' in r) {
            req.socket.destroy();
            return;
          }
          send(res, r.status ?? 200, r.body);
        },
        () => send(res, 500, { error: ['EGeneral:Internal error'] }),
      );
    });
    return true;
  }

  return {
    handle,
    faults,
    inject: (f) => faults.inject(f),
    venue: (apiKey) => {
      const a = accounts.get(apiKey);
      if (!a) throw new Error('unknown sim account');
      return a.venue;
    },
    balances: (apiKey) => {
      const a = accounts.get(apiKey);
      if (!a) throw new Error('unknown sim account');
      return Object.fromEntries([...a.balances].map(([k, v]) => [k, str(v)]));
    },
    calls,
    wsDeps: {
      accountOfToken: (token) => {
        const t = wsTokens.get(token);
        return t && t.useBy > now() ? t.apiKey : undefined;
      },
      reports,
      snapshot: (apiKey, snapOrders, snapTrades) => {
        const v = accounts.get(apiKey)!.venue;
        const out = snapOrders ? v.openOrders().map(snapshotOrder) : [];
        if (snapTrades) for (const t of v.allTrades().slice(-50)) out.push(fillReport(t, v.get(t.orderTxid)!, bySymbol.get(t.symbol)?.quote ?? ''));
        return out;
      },
    },
    close: () => {
      unsubscribe();
      if (ownPrices) prices.close?.();
    },
  };
}

export interface PrivateRestServer extends Omit<PrivateRestHandler, 'handle' | 'close' | 'wsDeps'> {
  /** e.g. http://127.0.0.1:54321 — use as KRAKEN_REST_URL. */
  readonly url: string;
  /** The private WebSocket v2 (executions), e.g. ws://127.0.0.1:54321/v2. */
  readonly wsUrl: string;
  readonly ws: PrivateWs;
  readonly port: number;
  close(): Promise<void>;
}

export async function startPrivateRestServer(opts: PrivateRestOptions): Promise<PrivateRestServer> {
  const handler = createPrivateRestHandler(opts);
  const server = http.createServer((req, res) => {
    if (!handler.handle(req, res)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: ['EGeneral:Unknown method'] }));
    }
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const ws = attachPrivateWs(server, handler.wsDeps);
  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/v2`,
    ws,
    port,
    faults: handler.faults,
    inject: handler.inject,
    venue: handler.venue,
    balances: handler.balances,
    calls: handler.calls,
    close: async () => {
      ws.close();
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fresh random API key and base64 secret for a simulator account. */
export function generateSimCredentials(): { apiKey: string; apiSecret: string } {
  return { apiKey: randomBytes(42).toString('base64'), apiSecret: randomBytes(64).toString('base64') };
}
