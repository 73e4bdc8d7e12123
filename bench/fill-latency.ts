// Benchmark: how long a resting order's fill takes to reach the fills ledger, with and without the
// executions feed. `npm run bench -- fill-latency`. One embedded decision cluster (a crafted market from the
// test helpers, so intents have a run and generation), the simulator's private REST + WebSocket with a
// manual price source, and a Graphile Worker runner in this process running order__submit, fills__poll and
// order__reconcile (cadence 5 s, the default), as `kapitaal execute` does.
//
// Per sample: an intent (post-only buy 0.002 BTC/USD at 59990.0) is submitted and open; after a random pause
// (0-5 s, the same seeded sequence in both modes, so the fill lands at a random phase of the reconcile cadence) a
// market trade through the price fills it on the simulator; the clock runs from that trade to the moment the fill
// row is committed in kapitaal.fills (polled every 2 ms). Baseline: the same runtime with the feed off (fills come
// from the reconcile cadence, as before). Also with TradesHistory listing each trade BENCH_FILL_HISTORY_LAG_MS (300)
// late, with and without the confirming poll. And execution__wake('trade') per call (median of 500, in-database
// time from clock_timestamp()).
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Logger, run, type Runner, type WorkerEvents } from 'graphile-worker';
import { createPool } from '../src/db/pool.ts';
import { type ExecutionSetup, initExecution } from '../src/execution/runtime.ts';
import { createLogger } from '../src/log/logger.ts';
import { ManualPriceSource, generateSimCredentials, startPrivateRestServer } from '../src/sim/private/index.ts';
import { prng } from '../src/sim/private/price-source.ts';
import { loadTaskList } from '../src/worker/task-list.ts';
import { at, liveMarket, startRun } from '../test/e2e/decision/support.ts';
import { startBenchClusters } from './support/clusters.ts';
import { quantile, table, writeSection, type Row } from './support/report.ts';

const SAMPLES = Number(process.env.BENCH_FILL_SAMPLES ?? 20);
const LAG_MS = Number(process.env.BENCH_FILL_HISTORY_LAG_MS ?? 300);
const S = 'BTC/USD';
const NOW = at(301);
const log = (m: string) => process.stderr.write(`[bench fill-latency] ${m}\n`);
const quiet = new Logger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`[worker] ${message}\n`);
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function main() {
  log('starting clusters');
  const clusters = await startBenchClusters();
  const decision = createPool(clusters.decisionUrl, { max: 8 });
  const prices = new ManualPriceSource();
  prices.setBook(S, { bids: [{ price: '59999.9', qty: '1' }], asks: [{ price: '60000.1', qty: '1' }] });
  const creds = generateSimCredentials();
  const sim = await startPrivateRestServer({ accounts: [{ ...creds, balances: { USD: '100000000', BTC: '10' } }], prices });
  let runner: Runner | undefined;
  let setup: ExecutionSetup | undefined;
  const results: Row[] = [];
  try {
    const runId = await startRun(decision, 0);
    const generationId = (await liveMarket(decision, runId, { symbols: 1 })).generation_id;
    const taskList = await loadTaskList(['order__submit', 'fills__poll', 'order__reconcile']);
    let seq = 0;

    // 'late': TradesHistory lists each trade LAG_MS after it happened (the simulator's historyLagMs fault), so
    // the poll the report wakes at once finds nothing; with and without the confirming poll a second later.
    const modes = [
      { name: 'executions feed wakes fills__poll', feed: true, lag: 0, confirm: true },
      { name: `feed, TradesHistory ${LAG_MS} ms late, confirming poll after 1 s`, feed: true, lag: LAG_MS, confirm: true },
      { name: `feed, TradesHistory ${LAG_MS} ms late, no confirming poll`, feed: true, lag: LAG_MS, confirm: false },
      { name: 'baseline: reconcile cadence 5 s (feed off)', feed: false, lag: 0, confirm: true },
    ];
    for (const mode of modes) {
      log(`mode ${mode.name}: ${SAMPLES} samples`);
      await decision.query(`delete from graphile_worker._private_jobs`);
      sim.faults.historyLagMs.clear();
      if (mode.lag) sim.faults.historyLagMs.set(S, mode.lag);
      setup = await initExecution({
        cfg: { TRADING_MODE: 'paper', KRAKEN_REST_URL: sim.url, KRAKEN_API_KEY: creds.apiKey, KRAKEN_API_SECRET: creds.apiSecret, KRAKEN_WS_AUTH_URL: undefined },
        env: { KAPITAAL_EXCHANGE: 'simulator' },
        decisionPool: decision,
        log: createLogger('warn'),
        executionsFeed: mode.feed ? { confirmPollMs: mode.confirm ? 1000 : null } : false,
      });
      setup.context.now = () => new Date(NOW);
      if (mode.feed) await setup.feed!.whenSubscribed();
      const events: WorkerEvents = new EventEmitter();
      // pollInterval as the engine's workers (src/worker/engine-workers.ts); new jobs come by LISTEN/NOTIFY.
      runner = await run({ pgPool: decision, taskList, concurrency: 2, events, pollInterval: 500, noHandleSignals: true, logger: quiet });
      const pause = prng(42);
      const ms: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const { rows: [r] } = await decision.query(
          `select order_id from kapitaal.order__create_intent(
             p_client_order_id => kapitaal.order__client_id('entry', $1, 'bench'), p_run_id => $2, p_symbol => $3,
             p_side => 'buy', p_order_type => 'limit', p_qty => 0.002, p_price => 59990.0, p_strategy => 'momentum',
             p_purpose => 'entry', p_reason => 'fill latency bench', p_generation_id => $4, p_post_only => true,
             p_reference_price => 59990.0, p_now => $5::timestamptz)`,
          [++seq, runId, S, generationId, NOW],
        );
        const orderId = Number(r.order_id);
        for (;;) {
          const { rows: [o] } = await decision.query('select status from kapitaal.orders where order_id = $1', [orderId]);
          if (o.status === 'open') break;
          if (o.status !== 'new' && o.status !== 'submitting') throw new Error(`order ${orderId} is ${o.status}`);
          await sleep(5);
        }
        await sleep(pause() * 5000);
        const t0 = performance.now();
        prices.trade(S, { side: 'sell', price: '59980.0', qty: '1' }); // through our price: the order fills
        for (;;) {
          const { rowCount } = await decision.query('select 1 from kapitaal.fills where order_id = $1', [orderId]);
          if (rowCount) break;
          if (performance.now() - t0 > 30_000) throw new Error(`fill of order ${orderId} not booked within 30 s`);
          await sleep(2);
        }
        ms.push(performance.now() - t0);
      }
      await runner.stop();
      runner = undefined;
      await setup.stop();
      setup = undefined;
      ms.sort((a, b) => a - b);
      const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
      results.push({
        mode: mode.name,
        samples: ms.length,
        p50_ms: quantile(ms, 0.5).toFixed(1),
        p90_ms: quantile(ms, 0.9).toFixed(1),
        max_ms: ms[ms.length - 1]!.toFixed(1),
        mean_ms: mean.toFixed(1),
      });
    }

    // The wake itself, in the database.
    await decision.query(`delete from graphile_worker._private_jobs`);
    const wake: number[] = [];
    for (let i = 0; i < 500; i++) {
      const { rows: [w] } = await decision.query(
        `select extract(epoch from (clock_timestamp() - t0)) * 1000 as ms from (select clock_timestamp() as t0) s, lateral (select count(*) from kapitaal.execution__wake('trade')) x`,
      );
      wake.push(Number(w.ms));
    }
    wake.sort((a, b) => a - b);
    const { rows: [ledger] } = await decision.query(`select count(*)::int fills, count(distinct exchange_trade_id)::int distinct_ids from kapitaal.fills`);
    const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');
    const body = [
      `Resting post-only buy on the simulator (private REST + WebSocket, manual price source), filled by one market trade`,
      `through its price after a seeded random pause of 0-5 s; the clock runs from that trade to the fill's row committed in`,
      `kapitaal.fills (polled every 2 ms). Graphile Worker runner in the benchmark process (order__submit, fills__poll,`,
      `order__reconcile; concurrency 2, poll interval 500 ms), reconcile cadence 5 s. All modes in the same session; load`,
      `average at the end ${load}. "TradesHistory ${LAG_MS} ms late": the simulator lists each trade ${LAG_MS} ms after it happened,`,
      `so the poll the report wakes at once finds nothing.`,
      '',
      table(results),
      '',
      `execution__wake('trade') in the database (clock_timestamp around the call), 500 calls: p50 ${quantile(wake, 0.5).toFixed(3)} ms,`,
      `p99 ${quantile(wake, 0.99).toFixed(3)} ms. Ledger afterwards: ${ledger.fills} fills, ${ledger.distinct_ids} distinct trade ids.`,
    ].join('\n');
    writeSection('fill-latency', 'Fill latency: exchange fill -> fills ledger (simulator, executions feed vs polling)', 'npm run bench -- fill-latency', body);
  } finally {
    await runner?.stop();
    await setup?.stop();
    await sim.close();
    await decision.end();
    await clusters.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
