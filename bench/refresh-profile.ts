// Benchmark (issue #4): where the CPU of refresh_run_symbol_state goes, by PostgreSQL C function.
// One connection does nothing but refresh (500 symbols, 10 000 new rows each time, as bench refresh);
// `perf record -e cpu-clock` samples that backend during the measured refreshes, and the samples are
// grouped by what the function does (expression interpreter, tuple forming, numeric arithmetic, …).
// A refresh whose time sat in a few functions could be sped up there; a flat profile cannot.
// Needs `perf` (Debian package linux-perf); `npm run bench -- refresh-profile` (BENCH_PROFILE_ITERATIONS, default 40).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startBenchClusters } from './support/clusters.ts';
import { table, writeSection, type Row } from './support/report.ts';
import { CADENCE_S, calibrationNote, insertRows, NEW_ROWS, PER_SYMBOL, settle, SYMBOLS, T0 } from './support/refresh-data.ts';

const ITERATIONS = Number(process.env.BENCH_PROFILE_ITERATIONS ?? 40);
const log = (msg: string) => process.stderr.write(`[bench refresh-profile] ${msg}\n`);

if (spawnSync('perf', ['--version']).status !== 0) {
  // Skipped, not failed: `npm run bench` (all of them) goes on with the next one.
  log('SKIPPED: needs perf (Debian package linux-perf: apt-get install linux-perf); nothing measured, nothing written');
  process.exit(0);
}

// First match wins; the order puts the specific groups before the broad ones.
const GROUPS: [string, RegExp][] = [
  ['expression interpreter (ExecInterpExpr, ExecEval*)', /^(ExecInterpExpr|ExecEval|ExecJust)/],
  ['tuple forming (heap_form_*, fill_val, copies)', /^(fill_val|heap_compute_data_size|heap_fill_tuple|heap_form|tts_.*materialize|datumCopy|heap_copy)/],
  ['tuple deforming (getsomeattrs, fetch_att)', /^(tts_.*getsomeattrs|fetch_att|slot_getsomeattrs|heap_deform|nocachegetattr|slot_deform)/],
  ['numeric arithmetic', /(_var\b|_var\.|numeric|make_result|add_abs|sub_abs|cmp_abs|init_var|round_var|strip_var|int64_to_numeric|cmp_numerics)/],
  ['memory (palloc, AllocSet*)', /^(AllocSet|palloc|pfree|MemoryContext|repalloc)/],
  ['detoasting / unpacking varlena', /detoast/],
  ['heap, index, buffers, WAL', /^(heap_|_bt|bt|index_|Heap|LWLock|XLog|ReadBuffer|PinBuffer|UnpinBuffer|pg_comp_crc|ExecInsertIndex)/],
  ['arrays (compare, subscript, build)', /^(array_|construct_md_array|btarraycmp|construct_array|deconstruct_array)/],
  ['hash tables and hashing', /^(hash_|Exec.*Hash|LookupTupleHash|tuplehash|texteq|hashtext)/],
  ['sorting', /(qsort|comparetup|tuplesort|ApplyUnsigned|ApplySort)/],
];

const clusters = await startBenchClusters();
const pool = new pg.Pool({ connectionString: clusters.ingestUrl, max: 4 });
const c = new pg.Client({ connectionString: clusters.ingestUrl });
const dataFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kapitaal-perf-')), 'perf.data');
try {
  await c.connect();
  const { rows } = await pool.query(`select run_id from ingest_run__start('{"bench":"refresh-profile"}', 'bench', 'bench')`);
  const run = Number(rows[0].run_id);
  const clock = { s: 0, tradeId: 1 };
  await insertRows(pool, run, clock.s - 300, 300, { ticker: 30, trades: 60, l2: 45, l3: 15 }, 500_000_000);
  await settle(pool);
  await c.query(`select * from refresh_run_symbol_state($1, $2)`, [run, new Date(T0)]);
  const loop = async (n: number): Promise<number[]> => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      await insertRows(pool, run, clock.s, CADENCE_S, PER_SYMBOL, clock.tradeId);
      clock.tradeId += PER_SYMBOL.trades;
      clock.s += CADENCE_S;
      await settle(pool);
      const r = await c.query(`select duration_ms from refresh_run_symbol_state($1, $2)`, [run, new Date(T0 + clock.s * 1000)]);
      ms.push(Number(r.rows[0].duration_ms));
    }
    return ms;
  };
  await loop(5);
  const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  // The backend sleeps while the client inserts, so the samples are (almost) all refresh work.
  const perf = spawn('perf', ['record', '-F', '1999', '-e', 'cpu-clock', '-p', String(pid), '-o', dataFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let perfErr = '';
  perf.stderr.on('data', (d) => (perfErr += String(d)));
  await new Promise((r) => setTimeout(r, 500));
  const ms = await loop(ITERATIONS);
  const exited = new Promise((r) => perf.on('exit', r));
  perf.kill('SIGINT');
  await exited;
  const report = spawnSync('perf', ['report', '-i', dataFile, '--no-children', '--sort', 'symbol', '--stdio', '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (report.status !== 0) throw new Error(`perf report failed: ${report.stderr || perfErr}`);
  const funcs: { pct: number; name: string }[] = [];
  for (const line of report.stdout.split('\n')) {
    const m = /^\s+([\d.]+)%\s+\[\.\]\s+(\S+)/.exec(line);
    if (m) funcs.push({ pct: Number(m[1]), name: m[2]! });
  }
  const samples = /^# Samples: (\S+)/m.exec(report.stdout)?.[1] ?? '?';
  const byGroup = new Map<string, number>(GROUPS.map(([g]) => [g, 0]));
  let other = 0;
  for (const f of funcs) {
    const g = GROUPS.find(([, re]) => re.test(f.name));
    if (g) byGroup.set(g[0], byGroup.get(g[0])! + f.pct);
    else other += f.pct;
  }
  const groups: Row[] = [...byGroup.entries()].sort((a, b) => b[1] - a[1]).map(([g, p]) => ({ 'what the C function does': g, 'share of samples': `${p.toFixed(1)} %` }));
  groups.push({ 'what the C function does': 'everything else (executor nodes, plpgsql, catalog caches, …)', 'share of samples': `${other.toFixed(1)} %` });
  const top: Row[] = funcs.slice(0, 12).map((f) => ({ function: f.name, 'share of samples': `${f.pct.toFixed(2)} %` }));
  const sorted = [...ms].sort((a, b) => a - b);
  const calNote = await calibrationNote(pool);
  const body = [
    `${SYMBOLS} symbols, ${NEW_ROWS.toLocaleString('en')} new rows per refresh (as bench refresh), 5-minute window full, ${ITERATIONS} refreshes ` +
      `(median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms in db) on one connection, sampled by \`perf record -F 1999 -e cpu-clock -p <backend>\` ` +
      `(${samples} samples). Grouped by function name (bench/refresh-profile.ts); shares are of the samples in the backend.`,
    '',
    table(groups),
    '',
    'The twelve functions with the most samples:',
    '',
    table(top),
    '',
    calNote,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  writeSection('refresh-profile', 'Where a refresh spends its CPU (perf, by C function)', 'npm run bench -- refresh-profile', body);
} finally {
  await c.end();
  await pool.end();
  await clusters.stop();
  fs.rmSync(path.dirname(dataFile), { recursive: true, force: true });
}
