// Benchmark: what one dashboard poll (/api/overview, every ~2 s) costs the decision cluster after a day of running:
// one visibility row and one evaluation per generation at 5 generations per second (BENCH_DASHBOARD_HOURS, default
// 24). Baseline and new are measured in the same run, alternating: decision_status without / with the
// (run_id, visible_at) index (the baseline drops the index inside a transaction that is rolled back), and
// evaluation_outcomes against dashboard_evaluation_outcomes (same rows, checked). In-database times from
// EXPLAIN ANALYZE; the whole poll as wall time through the dashboard's own reader.
// `npm run bench -- dashboard`.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { readApiOverview } from '../src/dashboard/api-overview.ts';
import { DECISION_PANELS, INGEST_PANELS } from '../src/dashboard/panels.ts';
import { createDashboardPool } from '../src/dashboard/pool.ts';
import { startBenchClusters } from './support/clusters.ts';
import { quantile, table, writeSection, type Row } from './support/report.ts';

const HOURS = Number(process.env.BENCH_DASHBOARD_HOURS ?? 24);
const PER_S = 5;
const ROUNDS = 15;
const say = (msg: string) => process.stderr.write(`[bench dashboard] ${msg}\n`);

const loadAtStart = os.loadavg()[0] ?? NaN;
const clusters = await startBenchClusters();
const c = new pg.Client({ connectionString: clusters.decisionUrl });
await c.connect();
await c.query('set search_path = kapitaal, public');
const n = Math.round(HOURS * 3600 * PER_S);
say(`seeding ${n} visibility rows and evaluations (${HOURS} h at ${PER_S}/s)`);
const run = Number((await c.query(`select run_id from ingest_run__start('{"bench": "dashboard"}'::jsonb, 'bench', 'host')`)).rows[0].run_id);
await c.query(
  `insert into state_generation_visibility (generation_id, run_id, refreshed_at, visible_at, feed)
   select g, $1, t, t + interval '40 ms', 'sync'
     from generate_series(1, $2::int) g, lateral (select now() - $3::int * interval '1 hour' + g * interval '200 ms' as t) x`,
  [run, n, HOURS],
);
await c.query(
  `insert into evaluations (run_id, epoch, generation_id, outcome, reason, evaluated_at)
   select $1, 1, g, (array['economically_empty', 'economically_empty', 'candidates', 'data_blocked'])[1 + g % 4], 'reason ' || g,
          now() - $3::int * interval '1 hour' + g * interval '200 ms'
     from generate_series(1, $2::int) g`,
  [run, n, HOURS],
);
await c.query('analyze');

const same = await c.query(`(select * from evaluation_outcomes except select * from dashboard_evaluation_outcomes)
                            union all (select * from dashboard_evaluation_outcomes except select * from evaluation_outcomes)`);
if (same.rowCount !== 0) throw new Error('dashboard_evaluation_outcomes differs from evaluation_outcomes');

const explainMs = async (sql: string) =>
  (await c.query(`explain (analyze, format json) ${sql}`)).rows[0]['QUERY PLAN'][0]['Execution Time'] as number;
const STATUS = 'select * from decision_status order by run_id desc limit 20';
const times: Record<string, number[]> = { status_before: [], status_after: [], outcomes_before: [], outcomes_after: [] };
for (let i = 0; i < ROUNDS; i++) {
  await c.query('begin');
  await c.query('drop index state_generation_visibility_run_visible_idx');
  times.status_before!.push(await explainMs(STATUS));
  await c.query('rollback');
  times.status_after!.push(await explainMs(STATUS));
  times.outcomes_before!.push(await explainMs('select * from evaluation_outcomes'));
  times.outcomes_after!.push(await explainMs('select * from dashboard_evaluation_outcomes'));
}

const ingest = createDashboardPool(clusters.ingestUrl);
const decision = createDashboardPool(clusters.decisionUrl);
const polls: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const t = performance.now();
  const o = await readApiOverview({ ingest, decision, shared: false, secrets: [] });
  polls.push(performance.now() - t);
  if (!o.decision.ok || Object.values(o.decision.panels).some((p) => !p.ok)) throw new Error(`a panel failed: ${JSON.stringify(o.decision)}`);
}
await Promise.all([ingest.end(), decision.end(), c.end()]);
await clusters.stop();

const med = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5).toFixed(2);
const max = (xs: number[]) => Math.max(...xs).toFixed(2);
const rows: Row[] = [
  { query: 'decision_status (runs panel), before: no (run_id, visible_at) index', median_ms: med(times.status_before!), max_ms: max(times.status_before!) },
  { query: 'decision_status, after: state_generation_visibility_run_visible_idx', median_ms: med(times.status_after!), max_ms: max(times.status_after!) },
  { query: 'evaluation_outcomes (before)', median_ms: med(times.outcomes_before!), max_ms: max(times.outcomes_before!) },
  { query: 'dashboard_evaluation_outcomes (after, same rows)', median_ms: med(times.outcomes_after!), max_ms: max(times.outcomes_after!) },
  { query: 'whole /api/overview read (wall, both clusters, after)', median_ms: med(polls), max_ms: max(polls) },
];
const loadAtEnd = os.loadavg()[0] ?? NaN;
writeSection(
  'dashboard',
  'Dashboard: cost of one /api/overview poll after a day',
  'npm run bench -- dashboard',
  `Decision cluster holding ${HOURS} h of a run at ${PER_S} generations per second: ${n} state_generation_visibility rows
and ${n} evaluations (${Math.round(3600 * PER_S)} in the last hour). In-database execution time (EXPLAIN ANALYZE), ${ROUNDS}
rounds, baseline and new alternating in each round; the whole poll as wall time through src/dashboard's reader (${Object.keys(DECISION_PANELS).length} panels
on decision, ${Object.keys(INGEST_PANELS).length} on ingest, each cluster in one read-only transaction). Load average (1 min) ${loadAtStart.toFixed(1)} at start,
${loadAtEnd.toFixed(1)} at the end.

${table(rows)}`,
);
