// Mapping between Kraken's REST vocabulary and ours: order statuses, pair names, asset codes.
import { Dec, dec, str } from './decimal.ts';
import type { ExchangeOrder, OrderStatus, OrderType, Side } from './types.ts';

export type KrakenOrderStatus = 'pending' | 'open' | 'closed' | 'canceled' | 'expired';

/** Kraken's status (plus vol, vol_exec, reason) → ours. Shared by the REST adapters and paper. */
export function mapKrakenStatus(status: string, vol: string, volExec: string, reason: string | null): OrderStatus {
  const exec = new Dec(volExec);
  switch (status) {
    case 'pending':
      return 'new';
    case 'open':
      return exec.gt(0) ? 'partially_filled' : 'open';
    case 'closed':
      // Closed without full execution happens for IOC/market remainders: the rest was cancelled.
      return exec.gte(new Dec(vol)) ? 'filled' : 'cancelled';
    case 'canceled':
      if (exec.isZero() && reason !== null && /post.?only/i.test(reason)) return 'rejected';
      return 'cancelled';
    case 'expired':
      return 'expired';
    default:
      throw new Error(`unknown Kraken order status ${JSON.stringify(status)}`);
  }
}

/** An order as Kraken's OpenOrders/ClosedOrders/QueryOrders report it (the fields we read). */
export interface KrakenOrderInfo {
  refid?: string | null;
  userref?: number | null;
  cl_ord_id?: string | null;
  status: string;
  reason?: string | null;
  opentm?: number;
  closetm?: number;
  starttm?: number;
  expiretm?: number;
  descr: { pair: string; type: string; ordertype: string; price?: string; price2?: string; order?: string };
  vol: string;
  vol_exec: string;
  cost: string;
  fee: string;
  price: string;
  oflags?: string;
  trades?: string[];
}

const seconds = (t: number | undefined): Date | null => (t === undefined || t === 0 ? null : new Date(Math.round(t * 1000)));

/** Average price = cost / vol_exec, 12 decimals at most, trailing zeros dropped. */
export function averagePrice(cost: string, volExec: string): string | null {
  const v = new Dec(volExec);
  if (v.isZero()) return null;
  return str(new Dec(cost).div(v).toDecimalPlaces(12));
}

export function toExchangeOrder(txid: string, o: KrakenOrderInfo, symbol: string): ExchangeOrder {
  const orderType = (o.descr.ordertype === 'market' ? 'market' : 'limit') as OrderType;
  const limit = orderType === 'limit' && o.descr.price !== undefined && o.descr.price !== '0' ? str(dec(o.descr.price, 'price')) : null;
  const reason = o.reason ?? null;
  return {
    exchangeOrderId: txid,
    clientOrderId: o.cl_ord_id ?? null,
    symbol,
    side: o.descr.type === 'sell' ? 'sell' : ('buy' as Side),
    orderType,
    limitPrice: limit,
    status: mapKrakenStatus(o.status, o.vol, o.vol_exec, reason),
    venueStatus: o.status,
    reason,
    qty: str(dec(o.vol, 'vol')),
    qtyExec: str(dec(o.vol_exec, 'vol_exec')),
    cost: str(dec(o.cost, 'cost')),
    avgPrice: averagePrice(o.cost, o.vol_exec),
    fee: str(dec(o.fee, 'fee')),
    openedAt: seconds(o.opentm),
    closedAt: seconds(o.closetm),
    tradeIds: o.trades ?? [],
  };
}

// WS v2 says BTC and DOGE where REST's wsname still says XBT and XDG.
const WS_V2_ASSET: Record<string, string> = { XBT: 'BTC', XDG: 'DOGE' };
const REST_WS_ASSET: Record<string, string> = { BTC: 'XBT', DOGE: 'XDG' };

/** REST wsname (`XBT/USD`) → engine/WS v2 symbol (`BTC/USD`). */
export function wsV2Symbol(wsname: string): string {
  return wsname
    .split('/')
    .map((a) => WS_V2_ASSET[a] ?? a)
    .join('/');
}

/** Engine symbol (`BTC/USD`) → REST wsname (`XBT/USD`). */
export function restWsname(symbol: string): string {
  return symbol
    .split('/')
    .map((a) => REST_WS_ASSET[a] ?? a)
    .join('/');
}

// Legacy asset codes that Balance reports (`XXBT`, `ZUSD`).
const LEGACY_ASSET: Record<string, string> = {
  BTC: 'XXBT', ETH: 'XETH', XRP: 'XXRP', LTC: 'XLTC', DOGE: 'XXDG', XLM: 'XXLM', ETC: 'XETC', ZEC: 'XZEC',
  XMR: 'XXMR', REP: 'XREP', MLN: 'XMLN', USD: 'ZUSD', EUR: 'ZEUR', GBP: 'ZGBP', CAD: 'ZCAD', JPY: 'ZJPY',
};

/** WS v2 asset (`BTC`) → Kraken's legacy Balance code (`XXBT`); unknown assets are returned as they are. */
export function legacyAssetCode(asset: string): string {
  return LEGACY_ASSET[asset] ?? asset;
}

const WS_V2_OF_LEGACY: Record<string, string> = {
  ...Object.fromEntries(Object.entries(LEGACY_ASSET).map(([ws, legacy]) => [legacy, ws])),
  ...WS_V2_ASSET,
};

/**
 * Kraken's Balance code (`XXBT`, `ZUSD`, `XBT`, `DOT`) → WS v2 asset (`BTC`, `USD`, `BTC`, `DOT`). A suffix
 * (`XBT.F` earn, `DOT.S` staked, `USD.HOLD`) is kept on the mapped name (`BTC.F`); KrakenExchange.balances
 * then adds `.F` to its base asset (traded through it) and keeps the others apart.
 */
export function wsV2Asset(code: string): string {
  const dot = code.indexOf('.');
  const head = dot < 0 ? code : code.slice(0, dot);
  return (WS_V2_OF_LEGACY[head] ?? head) + (dot < 0 ? '' : code.slice(dot));
}

/** The AssetPairs entry fields we read. */
export interface KrakenAssetPair {
  altname: string;
  wsname?: string;
  base: string;
  quote: string;
  pair_decimals: number;
  cost_decimals?: number;
  lot_decimals: number;
  ordermin?: string;
  costmin?: string;
  tick_size?: string;
  status?: string;
}

/** Engine symbol ↔ Kraken REST pair names (the AssetPairs key and its altname). */
export class PairMap {
  private readonly bySymbol = new Map<string, { key: string; info: KrakenAssetPair }>();
  private readonly byName = new Map<string, string>();

  constructor(pairs: Record<string, KrakenAssetPair>) {
    for (const [key, info] of Object.entries(pairs)) {
      if (!info.wsname) continue;
      const symbol = wsV2Symbol(info.wsname);
      this.bySymbol.set(symbol, { key, info });
      for (const name of [key, info.altname, info.wsname, symbol]) this.byName.set(name, symbol);
    }
  }

  /** The name AddOrder takes (`pair`): the altname, e.g. `XBTUSD`. */
  restPair(symbol: string): string | undefined {
    return this.bySymbol.get(symbol)?.info.altname;
  }

  info(symbol: string): KrakenAssetPair | undefined {
    return this.bySymbol.get(symbol)?.info;
  }

  /** Any Kraken name of a pair (key `XXBTZUSD`, altname `XBTUSD`, wsname `XBT/USD`) → engine symbol. */
  symbolOf(name: string): string | undefined {
    return this.byName.get(name);
  }

  symbols(): string[] {
    return [...this.bySymbol.keys()];
  }
}
