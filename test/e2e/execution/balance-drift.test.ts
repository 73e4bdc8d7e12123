// End to end with the simulator: the capital__balances task snapshots the sim account's balances and
// compares them with the fills ledger. The engine's own trades leave no drift; a trade on the same account
// outside the engine (not in the ledger: FILL_UNMATCHED) is a drift that persists, logs BALANCE_DRIFT and
// halts new entries; balance__rebaseline ends it and trading resumes. A fill TradesHistory lists late is a
// transient drift that never halts; a failed Balance call keeps the last snapshot; paper has no balances.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KrakenExchange } from '../../../src/exchange/kraken-exchange.ts';
import { createSimulatorExchange } from '../../../src/exchange/simulator.ts';
import { recordBalances } from '../../../src/execution/balances.ts';
import { pollFills } from '../../../src/execution/fills.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../../src/sim/private/index.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { liveMarket, startRun } from '../decision/support.ts';
import { at, jobsOf, paperExchange, runJobs, useExecution } from './support.ts';

const S = 'BTC/USD';
const creds = generateSimCredentials();
let db: TestDatabase;
let sim: PrivateRestServer;
let ex: KrakenExchange;
let runId: number;
let gen: number;
let nowSec = 301;

beforeAll(async () => {
  db = await testDatabase('decision');
  runId = await startRun(db.pool, 0);
  gen = (await liveMarket(db.pool, runId, { symbols: 1 })).generation_id;
  // The test's clock runs minutes past the generation: let the submit gate accept it (not what is tested here).
  await db.pool.query(`update kapitaal.decision_policy set max_generation_age = interval '1 hour'`);
  const prices = new ManualPriceSource();
  prices.setQuote(S, '59999.9', '60000.1', '1000');
  sim = await startPrivateRestServer({ accounts: [{ ...creds, balances: { USD: '100000', BTC: '1' } }], prices, now: () => Date.parse(at(nowSec)) });
  ex = createSimulatorExchange({ baseUrl: sim.url, ...creds, retryDelayMs: 1 });
});
afterAll(async () => {
  await ex?.close();
  await sim?.close();
});

let n = 0;
/** An engine entry: intent, then the real order__submit and fills__poll tasks. */
async function engineBuy(qty: string): Promise<string> {
  const { rows: [r] } = await db.pool.query(
    `select order_id from kapitaal.order__create_intent(p_client_order_id => $1, p_run_id => $2, p_symbol => $3, p_side => 'buy',
       p_order_type => 'market', p_qty => $4::numeric, p_price => null, p_reference_price => 60000, p_strategy => 'momentum',
       p_purpose => 'entry', p_reason => 'balance drift test', p_generation_id => $5, p_now => $6::timestamptz)`,
    [`bd-${++n}-${Math.random().toString(36).slice(2, 8)}`, runId, S, qty, gen, at(nowSec)],
  );
  await runJobs(db.pool, ['order__submit', 'fills__poll']);
  return String(r.order_id);
}
const status = async (id: string) => (await db.pool.query(`select status from kapitaal.orders where order_id = $1`, [id])).rows[0].status;
const halt = async () => (await db.pool.query(`select halted, reason from kapitaal.capital__entry_halt($1)`, [at(nowSec)])).rows[0];
const driftMarkers = (lines: Record<string, unknown>[]) => lines.filter((l) => l.marker === 'BALANCE_DRIFT');

describe('balances as the engine reads them', () => {
  it('counts auto-earn (.F) balances with their base asset, the one they are traded through; keeps staked (.S) ones apart', async () => {
    const earnCreds = generateSimCredentials();
    const earnSim = await startPrivateRestServer({
      accounts: [{ ...earnCreds, balances: { USD: '1000', 'USD.F': '250.5', BTC: '0.4', 'BTC.F': '0.6', 'DOT.S': '12' } }],
      prices: new ManualPriceSource(),
    });
    const earnEx = createSimulatorExchange({ baseUrl: earnSim.url, ...earnCreds, retryDelayMs: 1 });
    try {
      expect(await earnEx.balances()).toEqual({ USD: '1250.5', BTC: '1', 'DOT.S': '12' });
    } finally {
      await earnEx.close();
      await earnSim.close();
    }
  });
});

describe('balance drift against the simulator', () => {
  it('engine trades: no drift; a trade outside the engine: BALANCE_DRIFT and entries halted; rebaseline: trading resumes', async () => {
    const exn = useExecution(ex, { balancesEverySeconds: 60 });
    exn.setNow(nowSec);
    // The cadence task takes the first snapshot (the baseline) and re-queues itself a minute later.
    await db.pool.query(`select * from kapitaal.execution_jobs__ensure()`);
    await runJobs(db.pool, ['capital__balances']);
    const [job] = await jobsOf(db.pool, 'capital__balances');
    expect(new Date(job.run_at).getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect((await db.pool.query(`select asset, balance::text from kapitaal.balance_snapshot_assets order by asset`)).rows)
      .toEqual([{ asset: 'BTC', balance: '1' }, { asset: 'USD', balance: '100000' }]);

    // The engine buys; its fill is booked; three snapshots agree with the ledger.
    exn.setNow(nowSec = 305);
    expect(await status(await engineBuy('0.01'))).toBe('filled');
    for (const t of [310, 320, 330]) {
      exn.setNow(nowSec = t);
      const r = (await recordBalances(db.pool, exn.ctx))!;
      expect(r.drift.filter((d) => d.exceeded)).toEqual([]);
    }
    expect((await recordBalances(db.pool, exn.ctx))!.drift.find((d) => d.asset === 'BTC')).toMatchObject({ expected: '1.01', actual: '1.01' });
    expect(await halt()).toMatchObject({ halted: false });

    // Someone buys 0.02 BTC on the same account by hand: the poll sees a trade of no engine order.
    exn.setNow(nowSec = 335);
    await ex.addOrder({ clientOrderId: 'by-hand-1', symbol: S, side: 'buy', orderType: 'market', qty: '0.02', postOnly: false });
    await pollFills(db.pool, exn.ctx);
    expect(exn.markers()).toContain('FILL_UNMATCHED');
    for (const t of [340, 350]) {
      exn.setNow(nowSec = t);
      await recordBalances(db.pool, exn.ctx);
      expect(await halt()).toMatchObject({ halted: false }); // not yet persistent
    }
    expect(driftMarkers(exn.lines)).toEqual([]);
    exn.setNow(nowSec = 360);
    await recordBalances(db.pool, exn.ctx);
    const warned = driftMarkers(exn.lines);
    expect(warned.map((l) => l.asset)).toEqual(['BTC', 'USD']);
    expect(warned[0]).toMatchObject({ level: 40, expected: '1.01', actual: '1.03', drift: '0.02', snapshots: 3 });
    const h = await halt();
    expect(h.halted).toBe(true);
    expect(h.reason).toMatch(/^BALANCE_DRIFT: .* BTC actual 1\.03, expected 1\.01 \(drift 0\.02, tolerance 0\.00103\); USD actual /);
    // Entries stop at placement; exits would go on (capital__entry_halt is asked for entries only).

    // The operator explains it and rebaselines: the next snapshot is the baseline, trading resumes.
    exn.setNow(nowSec = 365);
    await db.pool.query(`select * from kapitaal.balance__rebaseline('default', 'manual BTC buy', $1)`, [at(nowSec)]);
    expect(await halt()).toMatchObject({ halted: false });
    exn.setNow(nowSec = 370);
    await recordBalances(db.pool, exn.ctx);
    exn.setNow(nowSec = 375);
    expect(await status(await engineBuy('0.01'))).toBe('filled');
    const before = driftMarkers(exn.lines).length;
    for (const t of [380, 390, 400]) {
      exn.setNow(nowSec = t);
      const r = (await recordBalances(db.pool, exn.ctx))!;
      expect(r.drift.filter((d) => d.exceeded)).toEqual([]);
    }
    expect(driftMarkers(exn.lines)).toHaveLength(before);
    expect(await halt()).toMatchObject({ halted: false });
  });

  it('a fill TradesHistory lists late is a transient drift: it clears once booked, nothing halts', async () => {
    const exn = useExecution(ex);
    exn.setNow(nowSec = 500);
    await db.pool.query(`select * from kapitaal.balance__rebaseline('default', 'this test starts afresh', $1)`, [at(nowSec)]);
    await recordBalances(db.pool, exn.ctx);
    sim.faults.historyLagMs.set(S, 25_000);
    exn.setNow(nowSec = 505);
    const id = await engineBuy('0.01');
    expect(await status(id)).toBe('open'); // filled on the exchange, not yet listed
    for (const t of [510, 520]) {
      exn.setNow(nowSec = t);
      const r = (await recordBalances(db.pool, exn.ctx))!;
      expect(r.drift.find((d) => d.asset === 'BTC')).toMatchObject({ drift: '0.01', exceeded: true, persistent: false });
    }
    exn.setNow(nowSec = 531);
    await pollFills(db.pool, exn.ctx); // listed now, within the poll's look-back
    expect(await status(id)).toBe('filled');
    sim.faults.historyLagMs.clear();
    exn.setNow(nowSec = 532);
    const r = (await recordBalances(db.pool, exn.ctx))!;
    expect(r.drift.filter((d) => d.exceeded)).toEqual([]);
    expect(await halt()).toMatchObject({ halted: false });
    expect(driftMarkers(exn.lines)).toEqual([]);
  });

  it('a failed Balance call is logged and keeps the last snapshot; paper records none', async () => {
    const exn = useExecution(ex, { balancesEverySeconds: 60 });
    const count = async () => Number((await db.pool.query(`select count(*) n from kapitaal.balance_snapshots`)).rows[0].n);
    const before = await count();
    sim.faults.inject({ kind: 'unavailable', method: 'Balance', count: 50 });
    await db.pool.query(`select graphile_worker.add_job('capital__balances', '{}'::json, job_key => 'capital__balances', run_at => now())`);
    await runJobs(db.pool, ['capital__balances']);
    sim.faults.clear();
    expect(exn.lines.find((l) => l.marker === 'EXECUTION_TASK_FAILED')).toMatchObject({ task: 'capital__balances' });
    expect(await count()).toBe(before);
    expect(await jobsOf(db.pool, 'capital__balances')).toEqual([expect.objectContaining({ attempts: 0 })]);
    expect(await halt()).toMatchObject({ halted: false });

    const paper = useExecution(paperExchange(db.pool, 1)).ctx;
    expect(await recordBalances(db.pool, paper)).toBeNull();
    expect(await count()).toBe(before);
  });
});
