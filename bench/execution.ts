// Benchmark: evaluation -> order submitted (paper), and order throughput when many pairs signal at once.
// `npm run bench -- execution`. Two embedded clusters; a crafted trending market of BENCH_EXEC_PAIRS pairs on
// the ingest cluster, refreshed and synced to the decision cluster; the paper exchange reads the ingest
// cluster's raw book. A Graphile Worker runner in this process runs order__submit and fills__poll.
//
// 1. Latency: BENCH_EXEC_ORDERS (>= 500) evaluations one after another. Each runs evaluation__run in a
//    REPEATABLE READ transaction (as the evaluation task does), which places the top-1 through
//    evaluation__place_orders and queues order__submit; the clock stops when that job succeeded, i.e. the
//    paper exchange acknowledged the order and the acknowledgement is committed. Between iterations the
//    per-symbol cap (capital_policy.max_position_quote) is raised by one order, so every evaluation
//    sizes one 50-quote order on the same top-1 pair (sizing takes the whole room).
// 2. Throughput: one transaction places an order on each of the pairs at once (evaluation__place_orders
//    per pair, as if every pair had signalled), then the runner drains them; for several concurrencies.
// The decision clock (p_now) is fixed just after the generation's refresh, so the generation gate stays
// open however long the run takes; the latencies are wall-clock.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Logger, run, type Runner, type WorkerEvents } from 'graphile-worker';
import { createPool } from '../src/db/pool.ts';
import { syncRunToDecision } from '../src/decision/sync.ts';
import { PgMarketView } from '../src/exchange/market-view-pg.ts';
import { PaperExchange } from '../src/exchange/paper.ts';
import { setExecutionContext } from '../src/execution/context.ts';
import { pollFills } from '../src/execution/fills.ts';
import { createLogger } from '../src/log/logger.ts';
import { loadTaskList } from '../src/worker/task-list.ts';
import { startBenchClusters } from './support/clusters.ts';
import { quantile, table, writeSection, type Row } from './support/report.ts';

const PAIRS = Number(process.env.BENCH_EXEC_PAIRS ?? 100);
// At least 500 orders; BENCH_EXEC_QUICK=1 allows fewer for a quick look (not for the report).
const ORDERS = process.env.BENCH_EXEC_QUICK === '1' ? Number(process.env.BENCH_EXEC_ORDERS ?? 50) : Math.max(500, Number(process.env.BENCH_EXEC_ORDERS ?? 500));
const CONCURRENCIES = (process.env.BENCH_EXEC_CONCURRENCY ?? '1,4,8').split(',').map(Number);
const T0 = Date.parse('2026-01-01T12:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const NOW = at(301);
const log = (m: string) => process.stderr.write(`[bench execution] ${m}\n`);
const quiet = new Logger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`[worker] ${message}\n`);
});

async function craftMarket(ingest: pg.Pool): Promise<number> {
  const { rows } = await ingest.query(`select run_id from kapitaal.ingest_run__start('{"bench":"execution"}'::jsonb, 'bench', 'host', null, $1::timestamptz)`, [at(0)]);
  const runId = Number(rows[0].run_id);
  const src = `from generate_series(1, ${PAIRS}) s, generate_series(0, 299) i,
    lateral (select 'P' || lpad(s::text, 3, '0') || '/USD' as sym, $2::timestamptz + make_interval(secs => i) as t,
                    round(((100 + i * 0.015 + sin(i / 3.0) * 0.01) * (1 + s / 100.0))::numeric, 8) as m) x`;
  await ingest.query(`insert into kapitaal.ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
    select $1, sym, round(m * 0.9999, 8), 10, round(m * 1.0001, 8), 10, m, 1000, t ${src}`, [runId, at(0)]);
  await ingest.query(`insert into kapitaal.trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
    select $1, sym, case when i % 2 = 0 then 'buy' else 'sell' end, m, 0.5, 'market', i + 1, t, t ${src}`, [runId, at(0)]);
  await ingest.query(`insert into kapitaal.l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum, checksum_ok, received_at)
    select $1, sym, 10, i = 0, array(select round(m * 0.9999 * (1 - k * 0.0005), 8) from generate_series(0, 4) k), array_fill(10::numeric, array[5]),
           array(select round(m * 1.0001 * (1 + k * 0.0005), 8) from generate_series(0, 4) k), array_fill(10::numeric, array[5]), 0, true, t ${src}`, [runId, at(0)]);
  await ingest.query(`insert into kapitaal.l3_queue_metrics (run_id, symbol, bid_px, bid_qty, bid_orders, ask_px, ask_qty, ask_orders, adds, deletes, touch_adds, touch_deletes, checksum, checksum_ok, received_at)
    select $1, sym, array[round(m * 0.9999, 8)], array[10::numeric], array[3], array[round(m * 1.0001, 8)], array[10::numeric], array[4], 2, 1, 1, 1, 0, true, t ${src}`, [runId, at(0)]);
  await ingest.query(`insert into kapitaal.run_pairs (run_id, symbol, base, quote, status, price_precision, qty_precision, cost_precision,
      price_increment, qty_increment, qty_min, cost_min, in_universe, first_seen_at, updated_at, status_changed_at, universe_changed_at)
    select $1, 'P' || lpad(s::text, 3, '0') || '/USD', 'P' || lpad(s::text, 3, '0'), 'USD', 'online', 8, 8, 8, 0.00000001, 0.00000001,
           0.0001, 0.5, true, $2::timestamptz, $2::timestamptz, $2::timestamptz, $2::timestamptz from generate_series(1, ${PAIRS}) s`, [runId, at(0)]);
  // Let every writer finish below the snapshot xmin (the refresh reads by txid watermark).
  for (;;) {
    const { rows: r } = await ingest.query(`select pg_snapshot_xmin(pg_current_snapshot()) > (select max(txid) from kapitaal.l3_queue_metrics where run_id = $1) ok`, [runId]);
    if (r[0].ok) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  for (let k = 0; k < 3; k++) await ingest.query(`select * from kapitaal.refresh_run_symbol_state($1, $2::timestamptz)`, [runId, at(300)]);
  await ingest.query(`select kapitaal.ingest_epoch__publish($1, $2::timestamptz)`, [runId, at(300)]);
  await ingest.query(`select kapitaal.ingest_run__heartbeat($1, $2::timestamptz)`, [runId, at(300)]);
  return runId;
}

async function main() {
  log('starting clusters');
  const clusters = await startBenchClusters();
  const ingest = createPool(clusters.ingestUrl, { max: 8 });
  const decision = createPool(clusters.decisionUrl, { max: 16 });
  const runners: Runner[] = [];
  try {
    log(`crafting a trending market of ${PAIRS} pairs`);
    const runId = await craftMarket(ingest);
    const sync = await syncRunToDecision(ingest, decision, runId);
    if (!sync.applied) throw new Error(`sync did not apply: ${sync.reason}`);
    await decision.query(`update kapitaal.capital_policy set fixed_equity = 1000000000, max_position_pct = 100, max_total_exposure_pct = 100, max_position_quote = 50`);

    const exchange = new PaperExchange({ market: new PgMarketView(ingest, { runId: String(runId) }) });
    setExecutionContext({ exchange, venue: 'paper:bench', ledgerExchange: 'paper', log: createLogger('warn'), now: () => new Date(NOW) });
    const done = new Map<number, (t: number) => void>();
    const events: WorkerEvents = new EventEmitter();
    events.on('job:success', ({ job }) => {
      if (job.task_identifier !== 'order__submit') return;
      const id = Number((job.payload as { order_id: number }).order_id);
      done.get(id)?.(performance.now());
    });
    const taskList = await loadTaskList(['order__submit', 'fills__poll']);
    const startRunner = async (concurrency: number) => {
      const r = await run({ pgPool: decision, taskList, concurrency, events, pollInterval: 1000, noHandleSignals: true, logger: quiet });
      runners.push(r);
      return r;
    };
    const waitFor = (orderId: number) => new Promise<number>((resolve) => done.set(orderId, resolve));

    // 1. Latency.
    let runner = await startRunner(1);
    // Graphile registers task identifiers on its first fetch; an add_job racing that registration inside a
    // REPEATABLE READ transaction fails with 40001 (see docs/EXECUTION.md). Wait until it happened.
    while ((await decision.query(`select 1 from graphile_worker._private_tasks where identifier = 'order__submit'`)).rowCount === 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const lat: number[] = [];
    const evalMs: number[] = [];
    const submitMs: number[] = [];
    let top = '';
    for (let i = 0; i < ORDERS + 20; i++) {
      if (i > 0) await decision.query(`update kapitaal.capital_policy set max_position_quote = max_position_quote + 50`);
      const c = await decision.connect();
      const t0 = performance.now();
      let orderId: number;
      try {
        await c.query('begin isolation level repeatable read');
        const { rows: [e] } = await c.query(`select evaluation_id, outcome, selected_symbol from kapitaal.evaluation__run($1, $2::timestamptz)`, [runId, NOW]);
        const { rows: [p] } = await c.query(`select outcome, order_id, reason from kapitaal.evaluation_placements where evaluation_id = $1`, [e.evaluation_id]);
        if (!p || p.outcome !== 'placed') throw new Error(`evaluation ${e.evaluation_id} (${e.outcome}) placed nothing: ${p?.reason}`);
        orderId = Number(p.order_id);
        top = e.selected_symbol;
        var wait = waitFor(orderId); // eslint-disable-line no-var
        await c.query('commit');
      } finally {
        c.release();
      }
      const t1 = performance.now();
      const tDone = await wait!;
      if (i >= 20) {
        lat.push(tDone - t0);
        evalMs.push(t1 - t0);
        submitMs.push(tDone - t1);
      }
    }
    await runner.stop();
    const { rows: [st] } = await decision.query(`select count(*) filter (where status in ('open', 'filled'))::int ok, count(*)::int n from kapitaal.orders`);
    log(`latency: ${lat.length} orders measured, ${st.ok}/${st.n} acknowledged`);
    lat.sort((a, b) => a - b);
    evalMs.sort((a, b) => a - b);
    submitMs.sort((a, b) => a - b);
    const ms = (x: number) => x.toFixed(1);
    const latencyRows: Row[] = [
      { stage: 'evaluation__run + place (commit)', p50_ms: ms(quantile(evalMs, 0.5)), p99_ms: ms(quantile(evalMs, 0.99)), max_ms: ms(evalMs.at(-1)!) },
      { stage: 'commit -> order acknowledged (queue + order__submit)', p50_ms: ms(quantile(submitMs, 0.5)), p99_ms: ms(quantile(submitMs, 0.99)), max_ms: ms(submitMs.at(-1)!) },
      { stage: 'evaluation start -> order acknowledged (job done)', p50_ms: ms(quantile(lat, 0.5)), p99_ms: ms(quantile(lat, 0.99)), max_ms: ms(lat.at(-1)!) },
    ];

    // 2. Throughput: every pair signals at once.
    const throughputRows: Row[] = [];
    let round = 0;
    for (const concurrency of CONCURRENCIES) {
      round++;
      // 50 quote more room per pair and round: each burst order is a 50-quote market buy.
      await decision.query(`update kapitaal.capital_policy set max_position_quote = $1`, [50 * round]);
      const symbols = (await decision.query(`select symbol, best_ask from kapitaal.run_symbol_state where run_id = $1 and symbol <> $2 order by symbol`, [runId, top])).rows;
      runner = await startRunner(concurrency);
      const c = await decision.connect();
      const ids: number[] = [];
      const t0 = performance.now();
      try {
        await c.query('begin');
        const { rows } = await c.query(
          `with e as (
             insert into kapitaal.evaluations (run_id, epoch, generation_id, outcome, reason, evaluated_at)
             select $1, 1, s.generation_id, 'candidates', 'bench burst ' || $3 || ' ' || s.symbol, $2::timestamptz
               from kapitaal.run_symbol_state s where s.run_id = $1 and s.symbol = any($4::text[])
             returning evaluation_id, reason),
           r as (
             insert into kapitaal.evaluation_rankings (evaluation_id, symbol, strategy, rank, score, net_edge_bps, selected, reason, inputs,
               run_id, generation_id, regime, side, entry_liquidity, order_type, post_only, entry_price, gross_edge_bps, fee_bps,
               fill_probability, selectable, gates, recorded_at)
             select e.evaluation_id, s.symbol, 'momentum', 1, 100, 100, true, 'bench burst', '{}', $1, s.generation_id, s.regime, 'buy',
                    'taker', 'market', false, s.best_ask, 180, 80, 1, true, '{}', $2::timestamptz
               from e join kapitaal.run_symbol_state s on s.run_id = $1 and e.reason = 'bench burst ' || $3 || ' ' || s.symbol
             returning evaluation_id)
           select evaluation_id from r`,
          [runId, NOW, round, symbols.map((s) => s.symbol)],
        );
        for (const r of rows) {
          const { rows: [p] } = await c.query(`select (kapitaal.evaluation__place_orders($1::bigint)).*`, [r.evaluation_id]);
          if (p.outcome !== 'placed') throw new Error(`burst placement: ${p.reason}`);
          ids.push(Number(p.order_id));
        }
        var waits = ids.map(waitFor); // eslint-disable-line no-var
        await c.query('commit');
      } finally {
        c.release();
      }
      const tCommit = performance.now();
      const ends = await Promise.all(waits!);
      const tEnd = Math.max(...ends);
      await runner.stop();
      const per = ends.map((t) => t - t0).sort((a, b) => a - b);
      throughputRows.push({
        pairs_at_once: ids.length,
        concurrency,
        place_all_ms: ms(tCommit - t0),
        drain_ms: ms(tEnd - tCommit),
        orders_per_s: (ids.length / ((tEnd - t0) / 1000)).toFixed(0),
        p50_ms: ms(quantile(per, 0.5)),
        p99_ms: ms(quantile(per, 0.99)),
      });
      log(`burst of ${ids.length} at concurrency ${concurrency}: ${ms(tEnd - t0)} ms`);
    }
    // Book the fills of the last burst (its fills__poll may not have run before the runner stopped).
    await pollFills(decision);
    const byStatus = (await decision.query(`select status, purpose, count(*)::int n from kapitaal.orders group by 1, 2 order by 1, 2`)).rows;
    log(`orders by status: ${JSON.stringify(byStatus)}`);
    const { rows: [chk] } = await decision.query(
      `select count(*)::int orders, count(*) filter (where status = 'filled')::int filled, (select count(*)::int from kapitaal.fills) fills,
              (select count(*)::int from kapitaal.positions__verify()) mismatches from kapitaal.orders`);

    const body = [
      `Paper exchange over the ingest cluster's raw book (${PAIRS} pairs, trending market, momentum market orders); Graphile Worker`,
      'runner in the benchmark process (order__submit, fills__poll); evaluation__run in REPEATABLE READ places the top-1 and queues',
      `its submit job in the same transaction. ${lat.length} orders measured one at a time (20 warm-up orders not counted).`,
      '',
      table(latencyRows),
      '',
      `Throughput: one transaction places one market order on each of ${PAIRS - 1} pairs (evaluation__place_orders per pair), then the`,
      'runner drains them (submit = generation gate + begin_submit commit + paper AddOrder, which reads the book from the ingest',
      'cluster + acknowledgement commit; fills__poll jobs run alongside). p50/p99: from the start of the burst transaction to the acknowledgement of each order.',
      '',
      table(throughputRows),
      '',
      `Afterwards: ${chk.orders} orders, ${chk.filled} filled, ${chk.fills} fills in the ledger, positions__verify mismatches: ${chk.mismatches}.`,
    ].join('\n');
    if (process.env.BENCH_EXEC_QUICK === '1') {
      process.stdout.write(`${body}\n`);
      return;
    }
    writeSection('execution', 'Execution: evaluation -> order submitted (paper)', 'npm run bench -- execution', body);
  } finally {
    for (const r of runners) await r.stop().catch(() => {});
    await ingest.end();
    await decision.end();
    await clusters.stop();
  }
}

await main();
