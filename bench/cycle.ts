// Benchmark: the decision cycle end to end on two real clusters — raw rows committed on the
// ingest cluster → refresh job → (state__sync job | logical replication) → evaluation job on the
// decision cluster → evaluation stored. 100 symbols stream continuously (the bench writes the raw
// rows itself); sync mode and logical replication mode run one after the other in the same run,
// each with the refresh scheduling of before (baseline: cadence wait after every refresh) and now
// (wake: the writer's batch record starts the refresh, immediate re-queue while rows wait).
// Baseline and wake alternate in ABBA order (two phases of half the writes each) so that load drift
// on the shared machine hits both alike.
// `npm run bench -- cycle`. Knobs: BENCH_CYCLE_WRITES (measured writes per row of the table, default 300),
// BENCH_CYCLE_INTERVAL_MS (between writes, 40), BENCH_CYCLE_REFRESH_S (refresh cadence, 0.1).
import os from 'node:os';
import pg from 'pg';
import pino from 'pino';
import { setDecisionContext } from '../src/decision/context.ts';
import { dropReplication, ensureReplication, waitForReplicationReady } from '../src/decision/replication.ts';
import { createPool } from '../src/db/pool.ts';
import { startEngineWorkers } from '../src/worker/engine-workers.ts';
import { loadTaskList } from '../src/worker/task-list.ts';
import { runRefreshJob } from '../src/state/refresh.ts';
import type { Task } from 'graphile-worker';
import { startBenchClusters } from './support/clusters.ts';
import { quantile, table, writeSection, type Row } from './support/report.ts';

const SYMBOLS = 100;
const WRITES = Number(process.env.BENCH_CYCLE_WRITES ?? 300);
const INTERVAL_MS = Number(process.env.BENCH_CYCLE_INTERVAL_MS ?? 40);
const REFRESH_S = Number(process.env.BENCH_CYCLE_REFRESH_S ?? 0.1);
const WARMUP_MS = 3000;
const POLL_MS = 20;

const say = (msg: string) => process.stderr.write(`[bench cycle] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const loadAtStart = os.loadavg()[0] ?? NaN;
const clusters = await startBenchClusters();
const log = pino({ level: 'warn' });
const ingest = createPool(clusters.ingestUrl, { max: 12, log });
const decision = createPool(clusters.decisionUrl, { max: 12, log });

// Evaluations as the decision runner stores them: id -> (generation, wall time after commit).
const stored: { id: number; generation: number | null; outcome: string; at: number; startedAt: number; durationMs: number }[] = [];
setDecisionContext({
  log,
  decisionPool: decision,
  onEvaluation: (e) => stored.push({ id: e.evaluation_id, generation: e.generation_id, outcome: e.outcome, at: Date.now(), startedAt: e.evaluated_at.getTime(), durationMs: e.duration_ms }),
});

// Bench-only instrumentation on the ingest cluster: per generation, the newest raw data it holds.
await ingest.query(`
  create table if not exists public.bench_generation_data (generation_id bigint primary key, data_at timestamptz, ended_at timestamptz);
  create or replace function public.bench_tg_generation_data() returns trigger language plpgsql as $$
  begin
    insert into public.bench_generation_data
    select new.generation_id, max(s.last_ticker_at), clock_timestamp() from kapitaal.run_symbol_state s where s.run_id = new.run_id;
    return null;
  end $$;
  drop trigger if exists _900_bench on kapitaal.state_generations;
  create trigger _900_bench after insert on kapitaal.state_generations for each row execute function public.bench_tg_generation_data();`);

await ingest.query(`select kapitaal.decision_settings__configure('ingest', 'sync')`);
await decision.query(`select kapitaal.decision_settings__configure('decision', 'sync', true)`);

// Baseline scheduling: the previous refresh job body (run_symbol_state__refresh_job: re-queue at
// now + cadence after every refresh) and no wake from the batch record.
type Scheduling = 'baseline' | 'wake';
let scheduling: Scheduling = 'baseline';
const ingestTasks = await loadTaskList(['run_symbol_state__refresh', 'state__sync']);
const wakeRefresh = ingestTasks.run_symbol_state__refresh as Task;
const baselineRefresh: Task = async (payload, helpers) => {
  const p = payload as { run_id: number; cadence_seconds?: number };
  await helpers.withPgClient((c) => runRefreshJob(c, p.run_id, p.cadence_seconds));
};
ingestTasks.run_symbol_state__refresh = (payload, helpers) =>
  (scheduling === 'wake' ? wakeRefresh : baselineRefresh)(payload, helpers);
const ingestWorkers = await startEngineWorkers({
  pool: ingest, role: 'ingest', tasks: ingestTasks, concurrency: 3, pollInterval: POLL_MS, log,
});
const decisionWorkers = await startEngineWorkers({
  pool: decision, role: 'execution', tasks: ['evaluation__run'], concurrency: 2, pollInterval: POLL_MS, log,
});

const symbols = Array.from({ length: SYMBOLS }, (_, i) => `S${String(i).padStart(3, '0')}/USD`);

interface Write { receivedAt: Date; committedAt: number }

/** One collector flush: a ticker, a trade and an L2 sample for every symbol and the batch record, in one transaction. */
async function writeBatch(run: number, k: number): Promise<Write> {
  const c = await ingest.connect();
  try {
    const receivedAt = new Date();
    const mids = symbols.map((_, i) => (10 + i + Math.sin(k / 9 + i) * 0.05).toFixed(6));
    await c.query('begin');
    await c.query(
      `insert into kapitaal.ticker_samples (run_id, symbol, bid, bid_qty, ask, ask_qty, last, volume, received_at)
       select $1, s, m - 0.001, 3, m + 0.001, 3, m, 1000, $4 from unnest($2::text[], $3::numeric[]) u(s, m)`,
      [run, symbols, mids, receivedAt],
    );
    await c.query(
      `insert into kapitaal.trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
       select $1, s, case when $5 % 2 = 0 then 'buy' else 'sell' end, m, 0.5, 'market', $5, $4, $4
         from unnest($2::text[], $3::numeric[]) u(s, m)`,
      [run, symbols, mids, receivedAt, k + 1],
    );
    await c.query(
      `insert into kapitaal.l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum, checksum_ok, received_at)
       select $1, s, 10, $5 = 0,
              array(select m - 0.001 * (1 + j) from generate_series(0, 9) j), array_fill(5::numeric, array[10]),
              array(select m + 0.001 * (1 + j) from generate_series(0, 9) j), array_fill(5::numeric, array[10]), 0, true, $4
         from unnest($2::text[], $3::numeric[]) u(s, m)`,
      [run, symbols, mids, receivedAt, k],
    );
    // As the collector does: the batch record, in the same transaction (it wakes the refresh).
    await c.query(`select kapitaal.ingest_write_batch__record($1, $2, $3, $3, $3, 0)`, [run, k + 1, SYMBOLS]);
    await c.query('commit');
    return { receivedAt, committedAt: Date.now() };
  } finally {
    c.release();
  }
}

interface PhaseResult { mode: string; scheduling: Scheduling; latencies: number[]; toRefresh: number[]; toRefreshStart: number[]; toEvalStart: number[]; feed: number[]; toEval: number[]; lags: number[]; evaluations: number; outcomes: Record<string, number>; refreshMs: number[]; evalMs: number[]; missed: number }

async function phase(mode: 'sync' | 'replication', sched: Scheduling): Promise<PhaseResult> {
  scheduling = sched;
  await ingest.query(`alter table kapitaal.ingest_write_batches ${sched === 'wake' ? 'enable' : 'disable'} trigger _500_wake_refresh`);
  const { rows } = await ingest.query(`select run_id from kapitaal.ingest_run__start($1::jsonb, 'bench', 'bench')`, [JSON.stringify({ bench: 'cycle', mode })]);
  const run = Number(rows[0].run_id);
  await ingest.query(`select kapitaal.ingest_epoch__publish($1)`, [run]);
  await ingest.query(
    `select graphile_worker.add_job('run_symbol_state__refresh', json_build_object('run_id', $1::bigint, 'cadence_seconds', $2::numeric),
            job_key => 'run_symbol_state__refresh:' || $1, queue_name => 'run_symbol_state__refresh:' || $1)`,
    [run, REFRESH_S],
  );
  let stop = false;
  const side = (async () => {
    while (!stop) {
      await ingest.query(`select kapitaal.ingest_run__heartbeat($1)`, [run]);
      await ingest.query(`select kapitaal.ingest_epoch__publish($1)`, [run]);
      await sleep(1000);
    }
  })();
  const writes: Write[] = [];
  const warmupUntil = Date.now() + WARMUP_MS;
  let k = 0;
  while (Date.now() < warmupUntil) {
    await writeBatch(run, k++);
    await sleep(INTERVAL_MS);
  }
  const firstStored = stored.length;
  for (let i = 0; i < WRITES / 2; i++) {
    writes.push(await writeBatch(run, k++));
    await sleep(INTERVAL_MS);
  }
  await sleep(2000); // let the last writes travel the whole chain
  stop = true;
  await side;
  await ingest.query(`select kapitaal.ingest_run__end($1, 'ended', 'bench done')`, [run]);

  const gens = (await ingest.query<{ generation_id: string; data_at: Date | null; ended_at: Date; refreshed_at: Date }>(
    `select b.generation_id, b.data_at, b.ended_at, g.refreshed_at from public.bench_generation_data b
       join kapitaal.state_generations g using (generation_id) where g.run_id = $1 order by b.generation_id`,
    [run],
  )).rows.map((r) => ({ id: Number(r.generation_id), dataAt: r.data_at?.getTime() ?? 0, endedAt: r.ended_at.getTime(), startedAt: r.refreshed_at.getTime() }));
  // When each generation became visible on the decision cluster (the sync skips superseded ones).
  const visible = (await decision.query<{ generation_id: string; visible_at: Date }>(
    `select generation_id, visible_at from kapitaal.state_generation_visibility where run_id = $1 order by generation_id`,
    [run],
  )).rows.map((r) => ({ id: Number(r.generation_id), at: r.visible_at.getTime() }));
  const evals = stored.slice(firstStored).filter((e) => e.generation !== null && e.outcome !== 'attach_blocked');
  const latencies: number[] = [];
  const toRefresh: number[] = [];
  const toRefreshStart: number[] = [];
  const toEvalStart: number[] = [];
  const feed: number[] = [];
  const toEval: number[] = [];
  let missed = 0;
  for (const w of writes) {
    // The first generation holding the write, then the first stored evaluation of it or a later one.
    const g = gens.find((x) => x.dataAt >= w.receivedAt.getTime());
    const e = g && evals.find((x) => x.generation! >= g.id && x.at >= w.committedAt);
    if (!e) {
      missed++;
      continue;
    }
    latencies.push(e.at - w.committedAt);
    const v = visible.find((x) => x.id >= g.id);
    if (v) {
      toRefresh.push(g.endedAt - w.committedAt);
      toRefreshStart.push(g.startedAt - w.committedAt);
      toEvalStart.push(e.startedAt - v.at);
      feed.push(v.at - g.endedAt);
      toEval.push(e.at - v.at);
    }
  }
  const lags = (await decision.query<{ ms: number }>(
    `select extract(epoch from lag) * 1000 as ms from kapitaal.state_generation_visibility where run_id = $1`,
    [run],
  )).rows.map((r) => Number(r.ms));
  const refreshMs = (await ingest.query<{ ms: string }>(`select duration_ms as ms from kapitaal.state_generations where run_id = $1`, [run])).rows.map((r) => Number(r.ms));
  const outcomes: Record<string, number> = {};
  for (const e of evals) outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
  return { mode, scheduling: sched, latencies, toRefresh, toRefreshStart, toEvalStart, feed, toEval, lags, evaluations: evals.length, outcomes, refreshMs, evalMs: evals.map((e) => e.durationMs), missed };
}

const results: PhaseResult[] = [];
try {
  say(`sync mode: ${SYMBOLS} symbols, a write every ${INTERVAL_MS} ms, ${WRITES} measured writes, refresh cadence ${REFRESH_S} s`);
  for (const sched of ['baseline', 'wake', 'wake', 'baseline'] as const) results.push(await phase('sync', sched));
  say('logical replication mode');
  await ensureReplication({ ingestUrl: clusters.ingestUrl, decisionUrl: clusters.decisionUrl, reset: true });
  await waitForReplicationReady(clusters.decisionUrl);
  for (const sched of ['baseline', 'wake', 'wake', 'baseline'] as const) results.push(await phase('replication', sched));
} finally {
  await dropReplication({ ingestUrl: clusters.ingestUrl, decisionUrl: clusters.decisionUrl }).catch(() => {});
  await ingestWorkers.stop().catch(() => {});
  await decisionWorkers.stop().catch(() => {});
  await ingest.end();
  await decision.end();
  await clusters.stop();
}

// The two phases of each (feed, scheduling) pooled into one row.
const pooled: PhaseResult[] = [];
for (const r of results) {
  const p = pooled.find((x) => x.mode === r.mode && x.scheduling === r.scheduling);
  if (!p) {
    pooled.push({ ...r, outcomes: { ...r.outcomes } });
    continue;
  }
  for (const k of ['latencies', 'toRefresh', 'toRefreshStart', 'toEvalStart', 'feed', 'toEval', 'lags', 'refreshMs', 'evalMs'] as const) p[k] = [...p[k], ...r[k]];
  p.evaluations += r.evaluations;
  p.missed += r.missed;
  for (const [k, v] of Object.entries(r.outcomes)) p.outcomes[k] = (p.outcomes[k] ?? 0) + v;
}
results.splice(0, results.length, ...pooled);

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const rowsOut: Row[] = results.map((r) => {
  const l = sorted(r.latencies);
  const g = sorted(r.lags);
  return {
    feed: r.mode,
    scheduling: r.scheduling,
    'cycles measured': l.length,
    'raw → evaluation p50 ms': ms(quantile(l, 0.5)),
    'p99 ms': ms(quantile(l, 0.99)),
    'max ms': ms(l[l.length - 1] ?? NaN),
    'raw → refresh done p50/p99': `${ms(quantile(sorted(r.toRefresh), 0.5))} / ${ms(quantile(sorted(r.toRefresh), 0.99))}`,
    '(of which → refresh start)': `${ms(quantile(sorted(r.toRefreshStart), 0.5))} / ${ms(quantile(sorted(r.toRefreshStart), 0.99))}`,
    'refresh done → visible p50/p99': `${ms(quantile(sorted(r.feed), 0.5))} / ${ms(quantile(sorted(r.feed), 0.99))}`,
    'visible → evaluation stored p50/p99': `${ms(quantile(sorted(r.toEval), 0.5))} / ${ms(quantile(sorted(r.toEval), 0.99))}`,
    '(of which → evaluation start)': `${ms(quantile(sorted(r.toEvalStart), 0.5))} / ${ms(quantile(sorted(r.toEvalStart), 0.99))}`,
    'generation lag on decision p50 ms': ms(quantile(g, 0.5)),
    'lag p99 ms': ms(quantile(g, 0.99)),
    'refresh p50 ms': ms(quantile(sorted(r.refreshMs), 0.5)),
    'evaluation p50 ms': ms(quantile(sorted(r.evalMs), 0.5)),
    evaluations: r.evaluations,
    unmatched: r.missed,
  };
});
const outcomes = results.map((r) => `${r.mode}/${r.scheduling}: ${Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}`).join('; ');
const syncP99 = quantile(sorted(results.find((r) => r.mode === 'sync' && r.scheduling === 'wake')?.latencies ?? []), 0.99);
const body = [
  `${SYMBOLS} symbols streaming: every ${INTERVAL_MS} ms one transaction with a ticker, a trade and an L2 sample per symbol ` +
    `and its batch record (ingest_write_batch__record, as the collector) ` +
    `(${WRITES} measured writes per row: two phases of ${WRITES / 2} after ${WARMUP_MS / 1000} s warm-up each, ` +
    `baseline and wake in ABBA order).  Chain: run_symbol_state__refresh job (cadence ${REFRESH_S} s) ` +
    `→ trigger → state__sync job (sync) or the subscription (replication) → trigger → evaluation__run job; both Graphile Worker runners ` +
    `poll every ${POLL_MS} ms (jobs queued for now are picked up by LISTEN/NOTIFY). ` +
    '"raw → evaluation" = commit of the raw rows (client clock) to the commit of the first evaluation that read a generation holding them. ' +
    'Stages per write: raw commit → end of the refresh that folded it in (cadence wait + refresh; "refresh start" = its ' +
    'transaction start, so negative when a refresh that began before the commit still folded it in), → first generation at least ' +
    'that new visible on decision (the feed), → evaluation stored (queue + evaluation; "evaluation start" = the evaluation\'s ' +
    'transaction start, so the queue wait). ' +
    '"generation lag" = state_generation_visibility.lag (refresh start time → visible on the decision cluster, so it includes the refresh). ' +
    'unmatched = writes with no evaluation found in the window (should be 0). ' +
    'scheduling: baseline = the refresh job as before (run_symbol_state__refresh_job: next refresh at refresh end + cadence, ' +
    'no wake; the baseline of this run); wake = run_symbol_state__refresh_cycle (next refresh at once while raw rows wait, ' +
    'cadence only when idle) plus the wake from the batch record. Both rows use the same sync and evaluation code.',
  '',
  table(rowsOut),
  '',
  `Evaluation outcomes: ${outcomes}.`,
  '',
  `Machine load (1-minute load average, 2 cores): ${loadAtStart.toFixed(1)} at start, ${(os.loadavg()[0] ?? NaN).toFixed(1)} at end ` +
    '(other work on the machine inflates every stage; compare rows of one run).',
  '',
  `Target p99 < 250 ms in sync mode: ${Number.isFinite(syncP99) ? (syncP99 < 250 ? 'met' : 'NOT met') : 'not measured'} (p99 ${ms(syncP99)} ms).`,
].join('\n');
writeSection('cycle', 'Decision cycle: raw rows → stored evaluation (sync vs logical replication)', 'npm run bench -- cycle', body);
