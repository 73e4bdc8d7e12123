// Graphile Worker task capital__fee_rates: the account's fee rates from the exchange (Kraken TradeVolume)
// into account_fee_rates, which decisions then price with; re-queues itself (job key capital__fee_rates).
// Hourly by default: Kraken's tiers follow 30-day volume. A failed call keeps the last recorded rates (or
// the configured ones) in use. A paper venue has no account tier: nothing to do.
import { cadenceTask } from '../src/execution/cadence-task.ts';
import { refreshFeeRates } from '../src/execution/fee-rates.ts';

export default cadenceTask('capital__fee_rates', (ctx) => ctx.feeRatesEverySeconds ?? 3600, refreshFeeRates);
