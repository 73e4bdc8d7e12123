// Benchmark: refresh_run_symbol_state with 500 symbols and 10 000 new rows per refresh,
// with the run's raw tables at ~1 M and then ~20 M rows (same run, same clusters).
// `npm run bench -- refresh`. Sizes can be lowered for a quick look:
// BENCH_REFRESH_SIZES=1000000,5000000 BENCH_REFRESH_ITERATIONS=20 npm run bench -- refresh
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startBenchClusters } from './support/clusters.ts';
import { quantile, table, writeSection, type Row } from './support/report.ts';
import { backendCpuMs, CADENCE_S, calibrationNote, insertRows, loadHistory, NEW_ROWS, PER_SYMBOL, rawRows, settle, SYMBOLS, T0 } from './support/refresh-data.ts';

const ITERATIONS = Number(process.env.BENCH_REFRESH_ITERATIONS ?? 60);
const WARMUP_ITERATIONS = 5;
const SIZES = (process.env.BENCH_REFRESH_SIZES ?? '1000000,20000000').split(',').map(Number);
// Wall-clock budget for bulk-loading one size's history (the machine may be shared).
const LOAD_BUDGET_S = Number(process.env.BENCH_REFRESH_LOAD_BUDGET_S ?? 900);

const log = (msg: string) => process.stderr.write(`[bench refresh] ${msg}\n`);

const PROFILE = process.env.BENCH_REFRESH_PROFILE;

/** A connection whose statements (nested ones included) auto_explain prints to stderr with their run times. */
async function profiledClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  c.on('notice', (m) => process.stderr.write(`[profile] ${m.message ?? ''}\n`));
  await c.query(`load 'auto_explain'`);
  await c.query(`set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
    set auto_explain.log_analyze = on; set auto_explain.log_buffers = on; set auto_explain.log_level = notice;
    set auto_explain.log_timing = ${PROFILE === 'timing' ? 'on' : 'off'}`);
  return c;
}

/** The windows moved in this refresh: caches recomputed from their buckets or moved by subtraction. */
const windowsMoved = (s: Sample): boolean => s.recomputed > 0 || s.moved > 0;
interface Sample { wallMs: number; serverMs: number; cpuMs: number; rowsRead: number; symbols: number; recomputed: number; moved: number }

const median = (xs: Sample[], of: (x: Sample) => number = (x) => x.serverMs) =>
  xs.length ? quantile(xs.map(of).sort((a, b) => a - b), 0.5).toFixed(1) : '–';

async function refreshLoop(pool: pg.Pool, run: number, clock: { s: number; tradeId: number }, n: number): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    await insertRows(pool, run, clock.s, CADENCE_S, PER_SYMBOL, clock.tradeId);
    clock.tradeId += PER_SYMBOL.trades;
    clock.s += CADENCE_S;
    await settle(pool);
    const now = new Date(T0 + clock.s * 1000);
    // BENCH_REFRESH_PROFILE=1 (or =timing for per-node times): the second-to-last refresh of each size
    // (a delta-path one) runs on its own connection with auto_explain reporting every statement as a NOTICE.
    const profile = PROFILE && i === n - 2 ? await profiledClient(clusters.ingestUrl) : undefined;
    const c = profile ?? (await pool.connect());
    try {
      const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const cpu0 = backendCpuMs(pid);
      const t = performance.now();
      // select *: symbols_moved (windows moved by subtraction) is absent from code before it (a baseline run)
      const { rows } = await c.query(`select * from refresh_run_symbol_state($1, $2)`, [run, now]);
      const wallMs = performance.now() - t;
      out.push({ wallMs, serverMs: Number(rows[0].duration_ms), cpuMs: backendCpuMs(pid) - cpu0, rowsRead: rows[0].rows_read, symbols: rows[0].symbols, recomputed: rows[0].symbols_recomputed, moved: rows[0].symbols_moved ?? 0 });
    } finally {
      if (profile) await profile.end();
      else (c as pg.PoolClient).release();
    }
  }
  return out;
}

const clusters = await startBenchClusters();
const pool = new pg.Pool({ connectionString: clusters.ingestUrl, max: 4 });
// search_path kapitaal, public is the database default (set by migrateDatabase).
try {
  const { rows } = await pool.query(`select run_id from ingest_run__start('{"bench":"refresh"}', 'bench', 'bench')`);
  const run = Number(rows[0].run_id);
  await pool.query(`select * from refresh_run_symbol_state($1, $2)`, [run, new Date(T0)]);
  const clock = { s: 0, tradeId: 1 };
  const results: Row[] = [];
  const medians: number[] = [];
  let loaded = 0;
  for (const size of SIZES) {
    // History up to `size` rows, minus what the window warm-up and the measured loop will add.
    const loopRows = (WARMUP_ITERATIONS + ITERATIONS) * NEW_ROWS;
    const history = Math.max(0, size - loaded - loopRows - (loaded === 0 ? 150 * NEW_ROWS / 5 : 0));
    log(`size ${size.toLocaleString('en')}: loading ${history.toLocaleString('en')} history rows`);
    const load = await loadHistory(pool, run, history, -10 * 86_400 * (results.length + 1), LOAD_BUDGET_S, log);
    if (loaded === 0) {
      // Fill the 5-minute window once (every bucket of every symbol has data), then refresh.
      await insertRows(pool, run, clock.s - 300, 300, { ticker: 30, trades: 60, l2: 45, l3: 15 }, 500_000_000);
      await settle(pool);
      await pool.query(`select * from refresh_run_symbol_state($1, $2)`, [run, new Date(T0 + clock.s * 1000)]);
    }
    await refreshLoop(pool, run, clock, WARMUP_ITERATIONS);
    const before = await rawRows(pool, run);
    const samples = await refreshLoop(pool, run, clock, ITERATIONS);
    const after = await rawRows(pool, run);
    loaded = after;
    const wall = samples.map((s) => s.wallMs).sort((a, b) => a - b);
    const server = samples.map((s) => s.serverMs).sort((a, b) => a - b);
    medians.push(quantile(wall, 0.5));
    const buckets = await pool.query(`select count(*)::int n from state_buckets where run_id = $1`, [run]);
    results.push({
      'raw rows in run': `${(before / 1e6).toFixed(2)} M → ${(after / 1e6).toFixed(2)} M`,
      'history load': `${(load.rows / 1e6).toFixed(1)} M rows in ${load.seconds.toFixed(0)} s`,
      refreshes: samples.length,
      'rows read / refresh': samples[0]!.rowsRead,
      symbols: samples[0]!.symbols,
      'buckets in window': buckets.rows[0].n,
      'median ms (client)': quantile(wall, 0.5).toFixed(1),
      'p99 ms (client)': quantile(wall, 0.99).toFixed(1),
      'median ms (in db)': quantile(server, 0.5).toFixed(1),
      'p99 ms (in db)': quantile(server, 0.99).toFixed(1),
      // refreshes whose window caches all took the delta path (the windows move every 5th refresh: recomputed
      // from the buckets, or moved by subtraction)
      'delta-path refreshes': samples.filter((s) => !windowsMoved(s)).length,
      'median ms in db (delta path / windows moved)': `${median(samples.filter((s) => !windowsMoved(s)))} / ${median(samples.filter(windowsMoved))}`,
      // the refreshing backend's own CPU time (commit included; waits and other load excluded)
      'median backend CPU ms (delta path / windows moved)': `${median(samples.filter((s) => !windowsMoved(s)), (x) => x.cpuMs)} / ${median(samples.filter(windowsMoved), (x) => x.cpuMs)}`,
    });
    log(`  median ${quantile(wall, 0.5).toFixed(1)} ms, p99 ${quantile(wall, 0.99).toFixed(1)} ms`);
  }
  // Calibration: how fast is this machine right now (shared with other work)?
  const calNote = await calibrationNote(pool);
  const ratio = medians.length > 1 ? medians[medians.length - 1]! / medians[0]! : NaN;
  const body = [
    `${SYMBOLS} symbols, ${NEW_ROWS.toLocaleString('en')} new rows per refresh (per symbol 4 ticker, 8 trades, 6 L2, 2 L3), ` +
      `virtual clock +${CADENCE_S} s per refresh, 5-minute window full (30 buckets of 10 s x ${SYMBOLS} symbols). ` +
      `History rows are bulk-loaded into the same run partition with \`insert … select generate_series\` and marked as ` +
      `already refreshed (watermark advanced), as in a long-running run. Client time includes the commit (durable cluster).`,
    '',
    table(results),
    '',
    (Number.isNaN(ratio) ? 'Median ratio largest/smallest size: n/a (one size measured)' : `Median ratio largest/smallest size: **${ratio.toFixed(2)}** (target < 1.2)`) + '; target median < 50 ms.',
    '',
    calNote,
  ].join('\n');
  writeSection('refresh', 'State refresh (refresh_run_symbol_state)', 'npm run bench -- refresh', body);
} finally {
  await pool.end();
  await clusters.stop();
}
