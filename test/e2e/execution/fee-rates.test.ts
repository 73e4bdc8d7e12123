// The account's fee rates from the exchange (simulator TradeVolume) reach account_fee_rates through the
// capital__fee_rates task, and decisions price with them from then on. Paper has no account tier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatorExchange } from '../../../src/exchange/simulator.ts';
import { refreshFeeRates } from '../../../src/execution/fee-rates.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { newRun, putState } from '../../sql/strategy/support.ts';
import { jobsOf, paperExchange, runJobs, useExecution } from './support.ts';

let db: TestDatabase;
let sim: PrivateRestServer;
const creds = generateSimCredentials();

beforeAll(async () => {
  db = await testDatabase('decision');
  await putState(db.pool, newRun(), 'BTC/USD'); // decisions price BTC/USD on this (decision) database
  sim = await startPrivateRestServer({ accounts: [{ ...creds }], prices: new ManualPriceSource(), fees: { maker: '0.0016', taker: '0.0026' } });
});
afterAll(async () => {
  await sim?.close();
});

describe('capital__fee_rates', () => {
  it('records the simulator account rates and says the configured ones were conservative', async () => {
    const ex = createSimulatorExchange({ baseUrl: sim.url, ...creds, retryDelayMs: 1 });
    // Percent text from TradeVolume ("0.1600") becomes the exact fraction.
    expect(await ex.feeRates(['BTC/USD', 'NOPE/USD'])).toEqual({ 'BTC/USD': { maker: '0.0016', taker: '0.0026' } });
    const cap = useExecution(ex, { feeRatesEverySeconds: 600 });
    await db.pool.query(`select * from kapitaal.execution_jobs__ensure()`);
    await runJobs(db.pool, ['capital__fee_rates']);
    const { rows } = await db.pool.query(`select symbol, maker_fee_rate::text, taker_fee_rate::text, source from kapitaal.account_fee_rates`);
    expect(rows).toEqual([{ symbol: 'BTC/USD', maker_fee_rate: '0.0016', taker_fee_rate: '0.0026', source: 'sim:TradeVolume' }]);
    expect(cap.lines.filter((l) => l.marker === 'FEE_RATES_RECORDED')).toEqual([
      expect.objectContaining({ pairs: 1, verdicts: { exchange_lower: 1 } }),
    ]);
    const [job] = await jobsOf(db.pool, 'capital__fee_rates');
    expect(new Date(job.run_at).getTime()).toBeGreaterThan(Date.now() + 500_000); // re-queued an interval later
    const used = (await db.pool.query(`select source from kapitaal.fee_rates__for('default', 'BTC/USD')`)).rows[0].source;
    expect(used).toMatch(/^sim:TradeVolume at /);
    await ex.close();
  });

  it('does nothing for the paper venue', async () => {
    const ctx = useExecution(paperExchange(db.pool, 1)).ctx;
    expect(await refreshFeeRates(db.pool, ctx)).toBeNull();
  });
});
