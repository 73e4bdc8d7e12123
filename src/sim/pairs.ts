// The simulated instruments: a fixed catalogue of familiar pairs, each with its own price
// process, extended with synthetic pairs when a benchmark asks for more.
import { formatScaled } from '../kraken/decimal-text.ts';

export type PriceProcess = 'ranging' | 'trending' | 'volatile' | 'thin';
export type PairStatus =
  | 'online' | 'cancel_only' | 'delisted' | 'limit_only' | 'maintenance' | 'post_only' | 'reduce_only' | 'work_in_progress';

export interface PairSpec {
  symbol: string;
  base: string;
  quote: string;
  pricePrecision: number;
  qtyPrecision: number;
  costPrecision: number;
  /** Start price as decimal text at pricePrecision. */
  startPrice: string;
  /** Minimum order quantity and cost, decimal text. */
  qtyMin: string;
  costMin: string;
  process: PriceProcess;
}

const CATALOGUE: PairSpec[] = [
  pair('BTC/USD', 1, 8, '60000.0', '0.0001', 'ranging'),
  pair('ETH/USD', 2, 8, '3000.00', '0.002', 'trending'),
  pair('SOL/USD', 2, 8, '150.00', '0.02', 'volatile'),
  pair('XRP/USD', 5, 8, '0.50000', '10', 'ranging'),
  pair('ADA/USD', 6, 8, '0.450000', '10', 'thin'),
  pair('DOGE/USD', 7, 8, '0.1200000', '50', 'volatile'),
  pair('BTC/EUR', 1, 8, '55000.0', '0.0001', 'trending'),
  pair('ETH/EUR', 2, 8, '2800.00', '0.002', 'ranging'),
  pair('SOL/EUR', 2, 8, '140.00', '0.02', 'thin'),
  pair('XRP/EUR', 5, 8, '0.46000', '10', 'volatile'),
];

const PROCESSES: PriceProcess[] = ['ranging', 'trending', 'volatile', 'thin'];

function pair(symbol: string, pp: number, qp: number, start: string, qtyMin: string, process: PriceProcess): PairSpec {
  const [base = '', quote = ''] = symbol.split('/');
  return { symbol, base, quote, pricePrecision: pp, qtyPrecision: qp, costPrecision: 5, startPrice: start, qtyMin, costMin: '0.5', process };
}

/** The first `count` pairs: the catalogue, then synthetic `SIMnnn/USD` pairs cycling through the processes. */
export function defaultPairs(count = CATALOGUE.length): PairSpec[] {
  const out = CATALOGUE.slice(0, count);
  for (let i = out.length; i < count; i++) {
    const n = String(i + 1).padStart(3, '0');
    // Prices spread over several magnitudes so precisions differ too.
    const pp = 2 + (i % 4);
    const startUnits = BigInt(1 + ((i * 7919) % 997)) * 10n ** BigInt(pp);
    out.push(pair(`SIM${n}/USD`, pp, 8, formatScaled(startUnits, pp), '0.01', PROCESSES[i % PROCESSES.length]!));
  }
  return out;
}
