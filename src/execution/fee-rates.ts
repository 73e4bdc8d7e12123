// The fee-rate refresh: the exchange's rates for the pairs decisions price (Exchange.feeRates,
// Kraken TradeVolume) into account_fee_rates, where fee_rates__for prefers them to the configured ones.
import { MARKERS } from '../log/markers.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, rowsOf } from './db.ts';

export interface FeeRateRow {
  symbol: string;
  maker_fee_rate: string;
  taker_fee_rate: string;
  configured_maker_fee_rate: string | null;
  configured_taker_fee_rate: string | null;
  verdict: 'exchange_higher' | 'exchange_lower' | 'same' | 'no_configured_rates';
}

/** Null when the venue reports no account rates (paper). */
export async function refreshFeeRates(db: Db, ctx: ExecutionContext = executionContext()): Promise<FeeRateRow[] | null> {
  if (!ctx.exchange.feeRates) return null;
  const account = ctx.account ?? 'default';
  const symbols = (await rowsOf<{ symbol: string }>(db,
    `select symbol from kapitaal.run_symbol_state
      union select symbol from kapitaal.positions where account = $1 and closed_at is null
      order by 1`, [account])).map((r) => r.symbol);
  if (symbols.length === 0) return [];
  const rates = await ctx.exchange.feeRates(symbols);
  if (Object.keys(rates).length === 0) return [];
  const rows = await rowsOf<FeeRateRow>(db,
    `select symbol, maker_fee_rate::text, taker_fee_rate::text, configured_maker_fee_rate::text,
            configured_taker_fee_rate::text, verdict
       from kapitaal.account_fee_rates__record($1, $2::jsonb, $3, $4)`,
    [account, JSON.stringify(rates), `${ctx.ledgerExchange}:TradeVolume`, nowOf(ctx)]);
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
  ctx.log.info({ marker: MARKERS.FEE_RATES_RECORDED, pairs: rows.length, verdicts: counts }, MARKERS.FEE_RATES_RECORDED);
  const higher = rows.filter((r) => r.verdict === 'exchange_higher');
  if (higher.length > 0) {
    // Until now these pairs were priced with fees below what the account pays: their edges were overstated.
    ctx.log.warn({
      marker: MARKERS.FEE_RATES_CONFIGURED_BELOW_EXCHANGE,
      pairs: higher.map((r) => `${r.symbol} maker ${r.maker_fee_rate} taker ${r.taker_fee_rate} (configured ${r.configured_maker_fee_rate} / ${r.configured_taker_fee_rate})`),
    }, 'the account pays more than capital_policy configures: decisions now use the exchange rates');
  }
  return rows;
}
