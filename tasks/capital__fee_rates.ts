// Graphile Worker task capital__fee_rates: the account's fee rates from the exchange (Kraken TradeVolume)
// into account_fee_rates, which decisions then price with; re-queues itself hourly (job key
// capital__fee_rates). A paper venue has no account tier: nothing to do.
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { executionContext } from '../src/execution/context.ts';
import { refreshFeeRates } from '../src/execution/fee-rates.ts';
import { requeue } from '../src/execution/jobs.ts';

const payloadSchema = z.object({ cadence_seconds: z.number().positive().optional() }).passthrough();

const task: Task = async (raw, helpers) => {
  const p = payloadSchema.parse(raw ?? {});
  const ctx = executionContext();
  const db = { query: (text: string, values?: unknown[]) => helpers.query(text, values) };
  try {
    await refreshFeeRates(db, ctx);
  } catch (err) {
    // The last recorded rates (or the configured ones) stay in use; the next cycle tries again.
    ctx.log.error({ marker: 'EXECUTION_TASK_FAILED', task: 'capital__fee_rates', job_id: helpers.job.id, err: (err as Error).message }, 'EXECUTION_TASK_FAILED');
  } finally {
    // Kraken's tiers follow 30-day volume: hourly is plenty.
    await requeue(db, 'capital__fee_rates', p.cadence_seconds ?? ctx.feeRatesEverySeconds ?? 3600);
  }
};
export default task;
