// Benchmark (issue #4): how fast can a refresh that computes EVERY column of run_symbol_state be on
// this machine? bench/refresh-floor.ts bounds the contract's bare minimum (a few columns); this one
// runs the "lean refresh" (bench/support/lean-refresh-sql.ts: one per-symbol table for state, newest
// rows and window cache, one write per symbol, typed newest-row keys, no fallback decisions) next to
// refresh_run_symbol_state on the same committed batches, and requires both to produce the same
// state every refresh (equal run_symbol_state__digest), so the lean figure is for the full work.
// `npm run bench -- refresh-lean` (BENCH_LEAN_ITERATIONS, default 40; BENCH_LEAN_RAW_ROWS, default 1 M).
import pg from 'pg';
import { startBenchClusters } from './support/clusters.ts';
import { LEAN_SETUP } from './support/lean-refresh-sql.ts';
import { quantile, table, writeSection, type Row } from './support/report.ts';
import { backendCpuMs, CADENCE_S, calibrationNote, insertRows, loadHistory, NEW_ROWS, PER_SYMBOL, rawRows, settle, SYMBOLS, T0 } from './support/refresh-data.ts';

const ITERATIONS = Number(process.env.BENCH_LEAN_ITERATIONS ?? 40);
const WARMUP_ITERATIONS = 5;
const RAW_ROWS = Number(process.env.BENCH_LEAN_RAW_ROWS ?? 1_000_000);
const PROFILE = process.env.BENCH_LEAN_PROFILE; // 'timing': per-node times of the last lean refresh on stderr
const log = (msg: string) => process.stderr.write(`[bench refresh-lean] ${msg}\n`);

interface Sample { lean: boolean; first: boolean; moved: boolean; ms: number; cpuMs: number }

async function pidOf(c: pg.Client): Promise<number> {
  return (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
}

const med = (xs: number[]) => (xs.length ? quantile([...xs].sort((a, b) => a - b), 0.5) : NaN);
const p99 = (xs: number[]) => (xs.length ? quantile([...xs].sort((a, b) => a - b), 0.99) : NaN);
const f1 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(1));

const clusters = await startBenchClusters();
const pool = new pg.Pool({ connectionString: clusters.ingestUrl, max: 4 });
const leanC = new pg.Client({ connectionString: clusters.ingestUrl });
const realC = new pg.Client({ connectionString: clusters.ingestUrl });
try {
  await pool.query(LEAN_SETUP);
  await leanC.connect();
  await realC.connect();
  const [leanPid, realPid] = [await pidOf(leanC), await pidOf(realC)];
  const { rows } = await pool.query(`select run_id from ingest_run__start('{"bench":"refresh-lean"}', 'bench', 'bench')`);
  const run = Number(rows[0].run_id);
  await pool.query(`select * from refresh_run_symbol_state($1, $2)`, [run, new Date(T0)]);
  const history = Math.max(0, RAW_ROWS - (WARMUP_ITERATIONS + ITERATIONS) * NEW_ROWS - 150 * SYMBOLS);
  log(`loading ${history.toLocaleString('en')} history rows`);
  await loadHistory(pool, run, history, -10 * 86_400, 900, log);
  const clock = { s: 0, tradeId: 1 };
  // Fill the 5-minute window, fold it in with the engine, start the lean refresh from its state.
  await insertRows(pool, run, clock.s - 300, 300, { ticker: 30, trades: 60, l2: 45, l3: 15 }, 500_000_000);
  await settle(pool);
  await realC.query(`select * from refresh_run_symbol_state($1, $2)`, [run, new Date(T0)]);
  await pool.query(`select bench_floor.lean_seed($1)`, [run]);
  await pool.query(`analyze kapitaal.state_buckets, kapitaal.state_symbol_latest, kapitaal.run_symbol_state,
                            bench_floor.lstate, bench_floor.lwatermarks`);

  const samples: Sample[] = [];
  let equal = 0;
  for (let i = 0; i < WARMUP_ITERATIONS + ITERATIONS; i++) {
    await insertRows(pool, run, clock.s, CADENCE_S, PER_SYMBOL, clock.tradeId);
    clock.tradeId += PER_SYMBOL.trades;
    clock.s += CADENCE_S;
    await settle(pool);
    const now = new Date(T0 + clock.s * 1000);
    const leanFirst = i % 2 === 0; // the first reader of fresh rows also sets their hint bits
    const runLean = async (first: boolean): Promise<[Sample, string, number]> => {
      if (PROFILE && i === WARMUP_ITERATIONS + ITERATIONS - 1) {
        leanC.on('notice', (m) => process.stderr.write(`[profile] ${m.message ?? ''}\n`));
        await leanC.query(`load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
          set auto_explain.log_analyze = on; set auto_explain.log_timing = ${PROFILE === 'timing' ? 'on' : 'off'}; set auto_explain.log_level = notice`);
      }
      const cpu0 = backendCpuMs(leanPid);
      const r = (await leanC.query(`select * from bench_floor.lean_refresh($1, $2)`, [run, now])).rows[0];
      return [{ lean: true, first, moved: r.moved, ms: r.total_ms, cpuMs: backendCpuMs(leanPid) - cpu0 }, r.digest, r.rows_read];
    };
    const runReal = async (first: boolean): Promise<[Sample, string, number]> => {
      const cpu0 = backendCpuMs(realPid);
      const r = (await realC.query(`select * from refresh_run_symbol_state($1, $2)`, [run, now])).rows[0];
      const moved = r.symbols_moved > 0 || r.symbols_recomputed > 0;
      return [{ lean: false, first, moved, ms: Number(r.duration_ms), cpuMs: backendCpuMs(realPid) - cpu0 }, r.state_digest, r.rows_read];
    };
    let l: [Sample, string, number], r: [Sample, string, number];
    if (leanFirst) {
      l = await runLean(true);
      r = await runReal(false);
    } else {
      r = await runReal(true);
      l = await runLean(false);
    }
    if (l[2] !== r[2]) throw new Error(`lean read ${l[2]} rows, the engine ${r[2]}`);
    if (l[1] !== r[1]) {
      const diff = await pool.query(
        `select s.symbol, to_jsonb(s) - 'generation_id' as real, to_jsonb(l) as lean
           from run_symbol_state s join bench_floor.lstate l using (run_id, symbol)
          where s.run_id = $1 and (to_jsonb(s) - 'generation_id') <> (to_jsonb(l) - 'generation_id') limit 1`, [run]);
      const d = diff.rows[0];
      const cols = d ? Object.keys(d.real).filter((k) => JSON.stringify(d.real[k]) !== JSON.stringify(d.lean[k])).map((k) => `${k}: ${JSON.stringify(d.real[k])} vs ${JSON.stringify(d.lean[k])}`) : [];
      throw new Error(`refresh ${i}: the lean state differs from the engine's (${d?.symbol}: ${cols.join('; ')})`);
    }
    equal++;
    if (i < WARMUP_ITERATIONS) continue;
    samples.push(l[0], r[0]);
  }
  const rawTotal = await rawRows(pool, run);
  const row = (name: string, xs: Sample[]): Row => ({
    refresh: name, refreshes: xs.length,
    'median ms in db': f1(med(xs.map((s) => s.ms))), 'p99 ms in db': f1(p99(xs.map((s) => s.ms))),
    'median backend CPU ms': f1(med(xs.map((s) => s.cpuMs))), 'p99 backend CPU ms': f1(p99(xs.map((s) => s.cpuMs))),
    'median in db, run first / second': `${f1(med(xs.filter((s) => s.first).map((s) => s.ms)))} / ${f1(med(xs.filter((s) => !s.first).map((s) => s.ms)))}`,
  });
  const of = (lean: boolean, moved?: boolean) => samples.filter((s) => s.lean === lean && (moved === undefined || s.moved === moved));
  const summary: Row[] = [
    row('lean refresh, all', of(true)), row('… windows unchanged', of(true, false)), row('… windows moved (recomputed, not lean)', of(true, true)),
    row('refresh_run_symbol_state, all', of(false)), row('… windows unchanged', of(false, false)), row('… windows moved', of(false, true)),
  ];
  const calNote = await calibrationNote(pool);
  const body = [
    `${SYMBOLS} symbols, ${NEW_ROWS.toLocaleString('en')} new rows per refresh (per symbol 4 ticker, 8 trades, 6 L2, 2 L3, as bench refresh), ` +
      `5-minute window full, raw tables ≈ ${(rawTotal / 1e6).toFixed(2)} M rows, virtual clock +${CADENCE_S} s per refresh. ` +
      `Per iteration one fresh 10 000-row batch is committed, then the lean refresh (bench_floor.lean_refresh, ` +
      `bench/support/lean-refresh-sql.ts: state, newest rows and window cache in one table written once per symbol, typed ` +
      `newest-row keys, no fallback decisions) and refresh_run_symbol_state both fold it in and commit, in alternating order, ` +
      `each on its own connection and working set. Both states had equal digests after all ${equal} refreshes (${WARMUP_ITERATIONS} warm-up ` +
      `iterations not counted below). When the windows move the lean refresh recomputes its caches (not lean): the median is decided by the ` +
      `windows-unchanged refreshes (4 of 5). In-db ms = clock inside the function; backend CPU = /proc/<pid>/schedstat.`,
    '',
    table(summary),
    '',
    calNote,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  writeSection('refresh-lean', 'Lean refresh (every state column, one write per symbol) vs refresh_run_symbol_state', 'npm run bench -- refresh-lean', body);
} finally {
  await leanC.end();
  await realC.end();
  await pool.end();
  await clusters.stop();
}
