// The pairs the simulator's REST side knows, in Kraken's AssetPairs vocabulary.
import type { KrakenAssetPair } from '../../exchange/kraken-map.ts';
import { restWsname } from '../../exchange/kraken-map.ts';
import type { PairSpec } from '../pairs.ts';

export interface RestPairSpec {
  /** Engine / WS v2 symbol, e.g. BTC/USD. */
  symbol: string;
  /** AssetPairs key, e.g. XXBTZUSD. */
  key: string;
  /** e.g. XBTUSD: what AddOrder's `pair` takes. */
  altname: string;
  /** WS v2 asset names. */
  base: string;
  quote: string;
  pairDecimals: number;
  lotDecimals: number;
  costDecimals: number;
  ordermin: string;
  costmin: string;
  tickSize: string;
  startPrice: string;
}

const LEGACY: Record<string, string> = { BTC: 'XXBT', ETH: 'XETH', XRP: 'XXRP', DOGE: 'XXDG', USD: 'ZUSD', EUR: 'ZEUR' };

function spec(symbol: string, pairDecimals: number, ordermin: string, startPrice: string): RestPairSpec {
  const [base = '', quote = ''] = symbol.split('/');
  const [rb = '', rq = ''] = restWsname(symbol).split('/');
  const legacyBase = LEGACY[base];
  const legacyQuote = LEGACY[quote];
  const key = legacyBase && legacyQuote ? legacyBase + legacyQuote : `${rb}${rq}`;
  return {
    symbol, key, altname: `${rb}${rq}`, base, quote, pairDecimals, lotDecimals: 8, costDecimals: 5,
    ordermin, costmin: '0.5', tickSize: pairDecimals === 0 ? '1' : `0.${'0'.repeat(pairDecimals - 1)}1`, startPrice,
  };
}

export const DEFAULT_REST_PAIRS: RestPairSpec[] = [
  spec('BTC/USD', 1, '0.0001', '60000.0'),
  spec('ETH/USD', 2, '0.002', '3000.00'),
  spec('SOL/USD', 2, '0.02', '150.00'),
  spec('XRP/USD', 5, '10', '0.50000'),
  spec('BTC/EUR', 1, '0.0001', '55000.0'),
  spec('ETH/EUR', 2, '0.002', '2800.00'),
];

/** The public simulator's pair spec → the REST vocabulary (for wiring both to one market). */
export function restPairFromSimSpec(p: PairSpec): RestPairSpec {
  const s = spec(p.symbol, p.pricePrecision, p.qtyMin, p.startPrice);
  return { ...s, lotDecimals: p.qtyPrecision, costDecimals: p.costPrecision, costmin: p.costMin };
}

export function toAssetPair(p: RestPairSpec): KrakenAssetPair & Record<string, unknown> {
  const [rb = '', rq = ''] = restWsname(p.symbol).split('/');
  return {
    altname: p.altname,
    wsname: `${rb}/${rq}`,
    aclass_base: 'currency',
    base: LEGACY[p.base] ?? p.base,
    aclass_quote: 'currency',
    quote: LEGACY[p.quote] ?? p.quote,
    pair_decimals: p.pairDecimals,
    cost_decimals: p.costDecimals,
    lot_decimals: p.lotDecimals,
    lot_multiplier: 1,
    ordermin: p.ordermin,
    costmin: p.costmin,
    tick_size: p.tickSize,
    status: 'online',
    fees: [[0, 0.4]],
    fees_maker: [[0, 0.25]],
  };
}
