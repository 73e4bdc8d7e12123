// Ingest benchmark: simulator at full speed (its own worker thread) → collector → COPY writer →
// ingest cluster, for BENCH_SECONDS (default 30). Reports sustained rows/s, batch commit latency,
// RSS, zero-loss checks against the simulator's own counts, and, on the same rows in the same
// run, the ceiling of a bare COPY into the same tables (text and binary, with and without the raw
// tables' indexes, and for trade-like rows alone). A second configuration runs with the production
// sampling (INGEST_SAMPLE_MS 250) against the same simulator.
//   npm run bench -- ingest          (BENCH_SECONDS, BENCH_PAIRS, BENCH_SAMPLE_MS, BENCH_SAMPLE_MS_2, BENCH_FLUSH_ROWS,
//                                     BENCH_IO_THREAD=1 to vary)
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import pino from 'pino';
import { Collector } from '../src/collector/collector.ts';
import { CopyWriter } from '../src/ingest/copy-writer.ts';
import { RAW_COLUMNS, RAW_TABLES, copyStatement, type RawTable } from '../src/ingest/raw-tables.ts';
import type { SentCounts } from '../src/sim/index.ts';
import { startBenchClusters } from './support/clusters.ts';
import { quantile, table, writeSection } from './support/report.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 20);
// 0: a row per book and level3 message (full fidelity; what the throughput target is about).
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_MS ?? 0);
// Second configuration: production sampling ('' or 'none' to skip).
const SAMPLE_MS_2 = process.env.BENCH_SAMPLE_MS_2 === 'none' ? null : Number(process.env.BENCH_SAMPLE_MS_2 ?? 250);
const FLUSH_ROWS = Number(process.env.BENCH_FLUSH_ROWS ?? 20_000);
// The writer's database I/O on the collector's thread (production default); 1 moves it to its own thread.
const IO_THREAD = process.env.BENCH_IO_THREAD === '1';

// ---- the simulator in a worker thread (its own core) ------------------------------------------
const simModule = new URL('../src/sim/index.ts', import.meta.url).href;
const tsxApi = import.meta.resolve('tsx/esm/api');
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  (await import(workerData.tsxApi)).register();
  const { startSimulator } = await import(workerData.simModule);
  const sim = await startSimulator({ seed: 99, pairs: workerData.pairs, rate: 'max', highWaterBytes: 8 * 1024 * 1024 });
  parentPort.postMessage({ type: 'ready', url: sim.url, tid: require('node:fs').readlinkSync('/proc/thread-self').split('/').pop() });
  parentPort.on('message', async (m) => {
    if (m === 'pause') { sim.market.pause(); parentPort.postMessage({ type: 'paused', steps: sim.market.steps }); }
    if (m === 'resume') { sim.market.resume(); parentPort.postMessage({ type: 'resumed' }); }
    if (m === 'counts') parentPort.postMessage({ type: 'counts', counts: sim.sentCounts() });
    if (m === 'close') { await sim.close(); parentPort.postMessage({ type: 'closed' }); }
  });
})();
`;
const worker = new Worker(workerCode, { eval: true, workerData: { simModule, tsxApi, pairs: PAIRS } });
worker.on('error', (err) => {
  process.stderr.write(`simulator worker failed: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});
const say = (m: string) => process.stderr.write(`[bench ingest] ${m}\n`);
const waitFor = <T>(type: string) =>
  new Promise<T>((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type === type) {
        worker.off('message', on);
        resolve(m as T);
      }
    };
    worker.on('message', on);
  });
const ask = async <T>(cmd: string, reply: string): Promise<T> => {
  const p = waitFor<T>(reply);
  worker.postMessage(cmd);
  return p;
};

// Listen for 'ready' before anything else awaits: a message without a listener is lost.
const ready = waitFor<{ url: string; tid: string }>('ready');
const clusters = await startBenchClusters();
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
const pool = new pg.Pool({ connectionString: clusters.ingestUrl, max: 3 });
const startRun = async (tag: string) =>
  (await pool.query<{ run_id: string }>(`select run_id from ingest_run__start($1::jsonb, 'bench', 'bench')`,
    [JSON.stringify({ bench: tag, t: Date.now() })])).rows[0]!.run_id;

// CPU time is what the 2 cores have to share, so it is measured too: it varies far less than
// throughput with the machine's other load.
const nodeCpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const TICK = 100; // USER_HZ
const statCpu = (file: string) => {
  try {
    const st = fs.readFileSync(file, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch { return 0; }
};
let simTid = '';
/** CPU seconds of the collector's (main) thread and of the simulator's thread. */
const threadCpu = () => ({ main: statCpu(`/proc/self/task/${process.pid}/stat`), sim: simTid ? statCpu(`/proc/self/task/${simTid}/stat`) : 0 });
/** CPU seconds per process of the ingest cluster (backends and background processes, from /proc). */
async function pgCpu(): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ pid: number }>('select pid from pg_stat_activity');
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) / TICK);
    } catch { /* exited */ }
  }
  return out;
}
const cpuSince = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((a, [pid, v]) => a + v - (before.get(pid) ?? 0), 0);

interface Measured {
  sampleMs: number;
  runId: string;
  elapsed: number;
  steadyWritten: number;
  messages: number;
  perSecond: number[];
  /** CPU seconds in the measured window: this process (collector, simulator thread, writer thread, GC) and the cluster. */
  cpu: { node: number; pg: number; main: number; sim: number };
  latencies: number[];
  rss: number[];
  ws: ReturnType<CopyWriter['stats']>;
  sent: SentCounts;
  checks: (readonly [string, number, number])[];
}

/** One configuration: a new run, the collector and writer against the running simulator, then drain and check. */
async function measure(url: string, sampleMs: number): Promise<Measured> {
  const runId = await startRun(`ingest-${sampleMs}`);
  const writer = new CopyWriter({ connectionString: clusters.ingestUrl, runId, log, flushRows: FLUSH_ROWS, flushMs: 200, ioThread: IO_THREAD });
  const collector = new Collector({
    runId, sink: writer, log, wsUrl: url, l3Token: 'bench', bookDepth: 10, l3Depth: 10, storeLevels: 10,
    sampleMs, policy: { quotes: [], topN: 0 }, subRatePerSec: 100, subBurst: 50, idleMs: 30_000,
  });
  const written = () => RAW_TABLES.reduce((a, t) => a + writer.stats().tables[t].written, 0);
  const frames = () => collector.connections.reduce((a, c) => a + c.stats.frames, 0);
  const sentBase = (await ask<{ counts: SentCounts }>('counts', 'counts')).counts;
  await ask('resume', 'resumed');
  collector.start();
  // Warm-up: wait for every pair's book snapshot before the clock starts.
  const t0Wait = Date.now();
  while ((Object.keys(collector.stats().received.book ?? {}).length < PAIRS) && Date.now() - t0Wait < 30_000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  say(`sampleMs ${sampleMs}: books of ${Object.keys(collector.stats().received.book ?? {}).length} pairs flowing; measuring ${SECONDS} s`);
  const startWritten = written();
  const startFrames = frames();
  const cpu0 = { node: nodeCpu(), pg: await pgCpu(), ...threadCpu() };
  const startAt = performance.now();
  const latStart = writer.commitLatencies.length;
  const perSecond: number[] = [];
  const rss: number[] = [];
  let prev = startWritten;
  for (let s = 0; s < SECONDS; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    const w = written();
    perSecond.push(w - prev);
    if (process.env.BENCH_VERBOSE) say(`t=${s + 1}s committed ${w - prev} rows/s, buffered ${writer.stats().bufferedRows}, paused ${collector.stats().paused}`);
    prev = w;
    rss.push(process.memoryUsage().rss);
  }
  const elapsed = (performance.now() - startAt) / 1000;
  const t1 = threadCpu();
  const cpu = { node: nodeCpu() - cpu0.node, pg: cpuSince(cpu0.pg, await pgCpu()), main: t1.main - cpu0.main, sim: t1.sim - cpu0.sim };
  const steadyWritten = written() - startWritten;
  const messages = frames() - startFrames;
  const latencies = writer.commitLatencies.slice(latStart).sort((a, b) => a - b);

  say(`measured; draining and checking for loss`);
  // Stop cleanly and prove nothing was lost. Counts are per run: the simulator's totals minus those before it.
  await ask('pause', 'paused');
  const sentNow = async () => {
    const c = (await ask<{ counts: SentCounts }>('counts', 'counts')).counts;
    for (const [ch, bySym] of Object.entries(c.channels)) {
      for (const [sym, v] of Object.entries(bySym)) {
        const b = sentBase.channels[ch]?.[sym];
        if (b) for (const f of ['messages', 'snapshots', 'updates', 'rows'] as const) v[f] -= b[f];
      }
    }
    c.messages -= sentBase.messages;
    return c;
  };
  const sentBefore = await sentNow();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = collector.stats().received;
    const behind = ['trade', 'book', 'level3', 'ticker'].some((ch) =>
      Object.entries(sentBefore.channels[ch] ?? {}).some(([s, c]) =>
        ch === 'trade' ? (got[ch]?.[s]?.rows ?? 0) !== c.rows : (got[ch]?.[s]?.messages ?? 0) !== c.messages));
    if (!behind || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await collector.stop();
  const ws = await writer.close(60_000);
  const cs = collector.stats();
  // Closing unsubscribes nothing on a paused market, so these are final.
  const sent = await sentNow();
  const sum = (ch: string, f: 'rows' | 'messages') =>
    Object.values(sent.channels[ch] ?? {}).reduce((a, c) => a + c[f], 0);
  const one = async (sql: string) => Number((await pool.query<{ n: string }>(sql, [runId])).rows[0]!.n);
  const stored = {
    trades: await one('select count(*) n from trade_samples where run_id = $1'),
    tickers: await one('select count(*) n from ticker_samples where run_id = $1'),
    bookUpdates: await one('select coalesce(sum(updates_applied), 0) n from l2_snap_metrics where run_id = $1'),
    l3Flow: await one('select coalesce(sum(adds + modifies + deletes), 0) n from l3_queue_metrics where run_id = $1'),
    rows: 0,
  };
  for (const t of RAW_TABLES) stored.rows += await one(`select count(*) n from ${t} where run_id = $1`);
  const accepted = RAW_TABLES.reduce((a, t) => a + ws.tables[t].accepted, 0);
  const dropped = RAW_TABLES.reduce((a, t) => a + ws.tables[t].dropped, 0);
  const checks = [
    ['trades stored = trades sent', stored.trades, sum('trade', 'rows')],
    ['ticker rows = ticker messages sent', stored.tickers, sum('ticker', 'messages')],
    ['Σ updates_applied = book messages sent', stored.bookUpdates, sum('book', 'messages')],
    ['Σ L3 flow = level3 events applied', stored.l3Flow, cs.l3EventsApplied],
    ['level3 rows received = sent', cs.l3EventsApplied + cs.l3SnapshotOrders, sum('level3', 'rows')],
    ['rows in tables = rows accepted', stored.rows, accepted],
    ['rows dropped', dropped, 0],
  ] as const;
  return { sampleMs, runId, elapsed, steadyWritten, messages, perSecond, cpu, latencies, rss, ws, sent, checks: [...checks] };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
function pipelineRows(m: Measured): Record<string, string | number>[] {
  const sortedPs = [...m.perSecond].sort((a, b) => a - b);
  const batchRows = Math.max(1, Math.round(m.steadyWritten / Math.max(1, m.latencies.length)));
  return [
    { metric: 'sustained rows/s (committed)', value: Math.round(m.steadyWritten / m.elapsed) },
    { metric: 'messages/s handled by the collector', value: Math.round(m.messages / m.elapsed) },
    { metric: 'rows/s per second: min / p50 / max', value: `${sortedPs[0]} / ${quantile(sortedPs, 0.5)} / ${sortedPs.at(-1)}` },
    { metric: 'batches; rows per batch (mean)', value: `${m.latencies.length}; ${batchRows}` },
    { metric: 'batch commit latency p50 / p99 / max', value: `${quantile(m.latencies, 0.5).toFixed(1)} / ${quantile(m.latencies, 0.99).toFixed(1)} / ${(m.latencies.at(-1) ?? NaN).toFixed(1)} ms` },
    { metric: 'CPU per committed row: collector thread / simulator thread / other node threads (GC, writer I/O) / PostgreSQL', value: [m.cpu.main, m.cpu.sim, m.cpu.node - m.cpu.main - m.cpu.sim, m.cpu.pg].map((c) => ((1e6 * c) / m.steadyWritten).toFixed(1)).join(' / ') + ' µs (budget on 2 cores at 100 k rows/s: 20 µs in all)' },
    { metric: 'RSS p50 / max (collector + simulator thread)', value: `${mb(quantile([...m.rss].sort((a, b) => a - b), 0.5))} / ${mb(Math.max(...m.rss))}` },
    { metric: 'simulator messages sent (this configuration)', value: m.sent.messages },
    { metric: 'row mix', value: RAW_TABLES.map((t) => `${t} ${m.ws.tables[t].written}`).join(', ') },
  ];
}
const checkTable = (m: Measured) =>
  table(m.checks.map(([check, got, want]) => ({ check, stored: got, expected: want, ok: got === want ? 'yes' : 'NO' })));

try {
  const { url, tid } = await ready;
  simTid = tid;
  say(`simulator ready at ${url}; clusters up`);
  const main = await measure(url, SAMPLE_MS);
  let lost = main.checks.some(([, a, b]) => a !== b);

  // The second configuration before the ceilings: they hold the first run's rows in memory (hundreds
  // of MiB), which the second configuration's RSS would otherwise include.
  let second: Measured | null = null;
  if (SAMPLE_MS_2 !== null) {
    second = await measure(url, SAMPLE_MS_2);
    lost ||= second.checks.some(([, a, b]) => a !== b);
  }

  say('bare COPY of the same rows');
  // ---- bare COPY ceilings on the same rows ------------------------------------------------------
  const c = new pg.Client({ connectionString: clusters.ingestUrl });
  await c.connect();
  const copyOut = async (sql: string): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    const out = c.query(copyTo(sql));
    await new Promise<void>((resolve, reject) => {
      out.on('data', (d: Buffer) => chunks.push(d));
      out.on('end', () => resolve());
      out.on('error', reject);
    });
    return Buffer.concat(chunks);
  };
  const copyIn = async (sql: string, data: string | Buffer): Promise<void> => {
    const s = c.query(copyFrom(sql));
    await new Promise<void>((resolve, reject) => {
      s.on('finish', resolve);
      s.on('error', reject);
      s.end(data);
    });
  };
  const dumped = new Map<RawTable, string[]>();
  for (const t of RAW_TABLES) {
    const text = (await copyOut(`copy (select ${RAW_COLUMNS[t].join(', ')} from kapitaal.${t} where run_id = ${main.runId} order by seq) to stdout`)).toString();
    dumped.set(t, text.split('\n').filter(Boolean));
  }
  /**
   * COPYs the same rows (text) into a new run's partitions, batchRows rows per transaction over the
   * given tables, one connection. `into` redirects to a scratch table (index experiments).
   */
  const bareCopy = async (batchRows: number, tables: readonly RawTable[] = RAW_TABLES, into?: (t: RawTable) => string): Promise<{ rows: number; secs: number }> => {
    const ceilingRun = await startRun(`ceiling-${batchRows}`);
    // Same rows, new run: only the leading run_id column changes.
    const dumps = new Map(tables.map((t) => [t, dumped.get(t)!.map((l) => `${ceilingRun}${l.slice(l.indexOf('\t'))}\n`)]));
    const total = [...dumps.values()].reduce((a, l) => a + l.length, 0);
    const cursors = new Map(tables.map((t) => [t, 0]));
    let rows = 0;
    const start = performance.now();
    while (rows < total) {
      await c.query('begin');
      for (const t of tables) {
        const lines = dumps.get(t)!;
        const from = cursors.get(t)!;
        const part = lines.slice(from, from + Math.ceil((batchRows * lines.length) / total));
        if (part.length === 0) continue;
        cursors.set(t, from + part.length);
        await copyIn(into ? `copy ${into(t)} (${RAW_COLUMNS[t].join(', ')}) from stdin` : copyStatement(t), part.join(''));
        rows += part.length;
      }
      await c.query('commit');
    }
    return { rows, secs: (performance.now() - start) / 1000 };
  };
  /** The same rows in COPY BINARY, 20 000-row batches (dumped by PostgreSQL itself; only the load is timed). */
  const bareBinary = async (): Promise<{ rows: number; secs: number }> => {
    const ceilingRun = await startRun('ceiling-binary');
    const total = RAW_TABLES.reduce((a, t) => a + dumped.get(t)!.length, 0);
    const batches: { t: RawTable; data: Buffer }[][] = [];
    const per = new Map(RAW_TABLES.map((t) => [t, Math.ceil((20_000 * dumped.get(t)!.length) / Math.max(1, total))]));
    const nBatches = Math.ceil(total / 20_000);
    for (let b = 0; b < nBatches; b++) {
      const batch: { t: RawTable; data: Buffer }[] = [];
      for (const t of RAW_TABLES) {
        const n = per.get(t)!;
        if (n === 0) continue;
        batch.push({ t, data: await copyOut(`copy (select ${ceilingRun}::bigint, ${RAW_COLUMNS[t].slice(1).join(', ')} from kapitaal.${t} where run_id = ${main.runId} order by seq offset ${b * n} limit ${n}) to stdout (format binary)`) });
      }
      batches.push(batch);
    }
    const start = performance.now();
    for (const batch of batches) {
      await c.query('begin');
      for (const { t, data } of batch) await copyIn(`${copyStatement(t)} (format binary)`, data);
      await c.query('commit');
    }
    return { rows: total, secs: (performance.now() - start) / 1000 };
  };
  const batchRows = Math.max(1, Math.round(main.steadyWritten / Math.max(1, main.latencies.length)));
  const same = await bareCopy(batchRows);
  const big = await bareCopy(20_000);
  const binary = await bareBinary();
  const tradeOnly = await bareCopy(20_000, ['trade_samples']);
  const bookOnly = await bareCopy(20_000, ['l2_snap_metrics', 'l3_queue_metrics']);
  // Index maintenance: the same rows into scratch tables shaped like the raw tables, without and with
  // the two indexes every raw partition had before migration current/2-ingest ((symbol, received_at) and (txid));
  // the raw partitions now keep (symbol, received_at) on L2 rows only.
  const scratch = (t: RawTable) => `bench_scratch_${t}`;
  for (const t of RAW_TABLES) await c.query(`drop table if exists ${scratch(t)}; create table ${scratch(t)} (like kapitaal.${t} including defaults including constraints)`);
  const noIdx = await bareCopy(20_000, RAW_TABLES, scratch);
  const noIdxTrade = await bareCopy(20_000, ['trade_samples'], scratch);
  const noIdxBook = await bareCopy(20_000, ['l2_snap_metrics', 'l3_queue_metrics'], scratch);
  for (const t of RAW_TABLES) await c.query(`truncate ${scratch(t)}; create index on ${scratch(t)} (symbol, received_at); create index on ${scratch(t)} (txid)`);
  const withIdx = await bareCopy(20_000, RAW_TABLES, scratch);
  for (const t of RAW_TABLES) await c.query(`drop table ${scratch(t)}`);
  await c.end();


  const rate = (r: { rows: number; secs: number }) => Math.round(r.rows / r.secs);
  const sustained = main.steadyWritten / main.elapsed;
  const ceiling = rate(same);
  const best = Math.max(rate(same), rate(big), rate(binary));
  const body = [
    `Simulator (${PAIRS} pairs, rate max, own worker thread) → collector (sampleMs ${SAMPLE_MS}: ${SAMPLE_MS === 0 ? 'a row per book/level3 message' : 'sampled'}) → CopyWriter (flush ${FLUSH_ROWS} rows / 200 ms, flow control at one waiting batch, database I/O ${IO_THREAD ? 'in its own thread' : 'on the collector thread'}) → ingest cluster (durable settings), ${main.elapsed.toFixed(0)} s measured after warm-up.`,
    '',
    table([
      ...pipelineRows(main),
      { metric: 'bare COPY ceiling, same rows, same batch size (text)', value: `${ceiling} rows/s (${same.rows} rows in ${same.secs.toFixed(1)} s)` },
      { metric: 'bare COPY, same rows, 20 000-row batches (text)', value: `${rate(big)} rows/s` },
      { metric: 'bare COPY, same rows, 20 000-row batches (binary)', value: `${rate(binary)} rows/s` },
      { metric: 'pipeline / ceiling (same batch size, text)', value: `${((100 * sustained) / ceiling).toFixed(0)} %` },
      { metric: 'pipeline / best bare COPY above', value: `${((100 * sustained) / best).toFixed(0)} %` },
    ]),
    '',
    'Reading it: the pipeline shares the 2 cores between the simulator thread, the collector thread and the PostgreSQL backend (and whatever else runs on the machine); the bare COPY runs alone after the simulator is paused. Before the fast parser, the cached book keys and the writer\'s flow control, this benchmark measured 3 195 rows/s (29 % of its ceiling) and 4 141 rows/s (13 %) on the same machine. Timings vary a lot with the machine\'s other load; compare rows of one run, and read the CPU per row, which varies much less. Details: docs/INGEST.md, section Performance.',
    '',
    'Bare COPY by row kind and index maintenance (same rows, text, 20 000-row batches, one connection):',
    '',
    table([
      { rows: 'trade-like (trade_samples only)', 'raw partitions (txid; + (symbol, received_at) on L2)': `${rate(tradeOnly)} rows/s`, 'scratch table, no index': `${rate(noIdxTrade)} rows/s` },
      { rows: 'L2/L3 (numeric[] arrays)', 'raw partitions (txid; + (symbol, received_at) on L2)': `${rate(bookOnly)} rows/s`, 'scratch table, no index': `${rate(noIdxBook)} rows/s` },
      { rows: 'all four tables (the mix above)', 'raw partitions (txid; + (symbol, received_at) on L2)': `${rate(big)} rows/s`, 'scratch table, no index': `${rate(noIdx)} rows/s (scratch with both indexes on every table, as before: ${rate(withIdx)})` },
    ]),
    '',
    'Zero-loss checks (after pausing the simulator and draining):',
    '',
    checkTable(main),
    ...(second ? [
      '',
      `Second configuration, production sampling (sampleMs ${second.sampleMs}: every snapshot and mismatch, else at most one L2 and one L3 row per symbol per interval), same simulator, ${second.elapsed.toFixed(0)} s:`,
      '',
      table(pipelineRows(second)),
      '',
      checkTable(second),
    ] : []),
  ].join('\n');
  writeSection('ingest', 'Ingest: simulator → collector → PostgreSQL', 'npm run bench -- ingest', body);
  if (lost) process.exitCode = 1;
} finally {
  await ask('close', 'closed').catch(() => {});
  await worker.terminate();
  await pool.end();
  await clusters.stop();
}
