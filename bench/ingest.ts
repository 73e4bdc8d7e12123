// Ingest benchmark: simulator at full speed (its own worker thread) → collector → COPY writer →
// ingest cluster, for BENCH_SECONDS (default 30). Reports sustained rows/s, batch commit latency,
// RSS, zero-loss checks against the simulator's own counts, and, on the same rows in the same
// run, the ceiling of a bare COPY into the same tables.
//   npm run bench -- ingest          (BENCH_SECONDS, BENCH_PAIRS, BENCH_SAMPLE_MS to vary)
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

// ---- the simulator in a worker thread (its own core) ------------------------------------------
const simModule = new URL('../src/sim/index.ts', import.meta.url).href;
const tsxApi = import.meta.resolve('tsx/esm/api');
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  (await import(workerData.tsxApi)).register();
  const { startSimulator } = await import(workerData.simModule);
  const sim = await startSimulator({ seed: 99, pairs: workerData.pairs, rate: 'max', highWaterBytes: 8 * 1024 * 1024 });
  parentPort.postMessage({ type: 'ready', url: sim.url });
  parentPort.on('message', async (m) => {
    if (m === 'pause') { sim.market.pause(); parentPort.postMessage({ type: 'paused', steps: sim.market.steps }); }
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
const ready = waitFor<{ url: string }>('ready');
const clusters = await startBenchClusters();
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
const pool = new pg.Pool({ connectionString: clusters.ingestUrl, max: 3 });
const startRun = async (tag: string) =>
  (await pool.query<{ run_id: string }>(`select run_id from ingest_run__start($1::jsonb, 'bench', 'bench')`,
    [JSON.stringify({ bench: tag, t: Date.now() })])).rows[0]!.run_id;

try {
  const { url } = await ready;
  say(`simulator ready at ${url}; clusters up`);
  const runId = await startRun('ingest');
  const writer = new CopyWriter({ connectionString: clusters.ingestUrl, runId, log, flushRows: 20_000, flushMs: 200 });
  const collector = new Collector({
    runId, sink: writer, log, wsUrl: url, l3Token: 'bench', bookDepth: 10, l3Depth: 10, storeLevels: 10,
    sampleMs: SAMPLE_MS, policy: { quotes: [], topN: 0 }, subRatePerSec: 100, subBurst: 50, idleMs: 30_000,
  });
  const written = () => RAW_TABLES.reduce((a, t) => a + writer.stats().tables[t].written, 0);
  collector.start();
  // Warm-up: wait for every pair's book snapshot before the clock starts.
  const t0Wait = Date.now();
  while ((Object.keys(collector.stats().received.book ?? {}).length < PAIRS) && Date.now() - t0Wait < 30_000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  say(`books of ${Object.keys(collector.stats().received.book ?? {}).length} pairs flowing; measuring ${SECONDS} s`);
  const startWritten = written();
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
  const steadyWritten = written() - startWritten;
  const latencies = writer.commitLatencies.slice(latStart).sort((a, b) => a - b);

  say(`measured; draining and checking for loss`);
  // Stop cleanly and prove nothing was lost.
  await ask('pause', 'paused');
  const sentBefore = (await ask<{ counts: SentCounts }>('counts', 'counts')).counts;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = collector.stats().received;
    const behind = ['trade', 'book', 'level3', 'ticker'].some((ch) =>
      Object.entries(sentBefore.channels[ch] ?? {}).some(([s, c]) =>
        ch === 'trade' ? (got[ch]?.[s]?.rows ?? 0) !== c.rows : got[ch]?.[s]?.messages !== c.messages));
    if (!behind || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await collector.stop();
  const ws = await writer.close(60_000);
  const cs = collector.stats();
  const sent = (await ask<{ counts: SentCounts }>('counts', 'counts')).counts;
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
  const lost = checks.some(([, a, b]) => a !== b);

  say('bare COPY of the same rows');
  // ---- bare COPY ceiling on the same rows -----------------------------------------------------
  const c = new pg.Client({ connectionString: clusters.ingestUrl });
  await c.connect();
  const dumped = new Map<RawTable, string[]>();
  for (const t of RAW_TABLES) {
    const chunks: Buffer[] = [];
    const out = c.query(copyTo(`copy (select ${RAW_COLUMNS[t].join(', ')} from kapitaal.${t} where run_id = ${runId}) to stdout`));
    await new Promise<void>((resolve, reject) => {
      out.on('data', (d: Buffer) => chunks.push(d));
      out.on('end', () => resolve());
      out.on('error', reject);
    });
    dumped.set(t, Buffer.concat(chunks).toString().split('\n').filter(Boolean));
  }
  /** COPYs the same rows into a new run's partitions, batchRows rows per transaction, one connection. */
  const bareCopy = async (batchRows: number): Promise<{ rows: number; secs: number }> => {
    const ceilingRun = await startRun(`ceiling-${batchRows}`);
    // Same rows, new run: only the leading run_id column changes.
    const dumps = new Map([...dumped].map(([t, ls]) => [t, ls.map((l) => `${ceilingRun}${l.slice(l.indexOf('\t'))}\n`)]));
    const total = [...dumps.values()].reduce((a, l) => a + l.length, 0);
    const cursors = new Map(RAW_TABLES.map((t) => [t, 0]));
    let rows = 0;
    const start = performance.now();
    while (rows < total) {
      await c.query('begin');
      for (const t of RAW_TABLES) {
        const lines = dumps.get(t)!;
        const from = cursors.get(t)!;
        const part = lines.slice(from, from + Math.ceil((batchRows * lines.length) / total));
        if (part.length === 0) continue;
        cursors.set(t, from + part.length);
        const s = c.query(copyFrom(copyStatement(t)));
        await new Promise<void>((resolve, reject) => {
          s.on('finish', resolve);
          s.on('error', reject);
          s.end(part.join(''));
        });
        rows += part.length;
      }
      await c.query('commit');
    }
    return { rows, secs: (performance.now() - start) / 1000 };
  };
  const batchRows = Math.max(1, Math.round(steadyWritten / Math.max(1, latencies.length)));
  const same = await bareCopy(batchRows);
  const big = await bareCopy(20_000);
  await c.end();
  const bareRows = same.rows;
  const bareSecs = same.secs;
  const sustained = steadyWritten / elapsed;
  const ceiling = bareRows / bareSecs;
  const sortedPs = [...perSecond].sort((a, b) => a - b);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const mix = RAW_TABLES.map((t) => `${t} ${ws.tables[t].written}`).join(', ');
  const body = [
    `Simulator (${PAIRS} pairs, rate max, own worker thread) → collector (sampleMs ${SAMPLE_MS}: ${SAMPLE_MS === 0 ? 'a row per book/level3 message' : 'sampled'}) → CopyWriter (flush 20 000 rows / 200 ms) → ingest cluster (durable settings), ${elapsed.toFixed(0)} s measured after warm-up.`,
    '',
    table([
      { metric: 'sustained rows/s (committed)', value: Math.round(sustained) },
      { metric: 'rows/s per second: min / p50 / max', value: `${sortedPs[0]} / ${quantile(sortedPs, 0.5)} / ${sortedPs.at(-1)}` },
      { metric: 'batches; rows per batch (mean)', value: `${latencies.length}; ${batchRows}` },
      { metric: 'batch commit latency p50 / p99 / max', value: `${quantile(latencies, 0.5).toFixed(1)} / ${quantile(latencies, 0.99).toFixed(1)} / ${(latencies.at(-1) ?? NaN).toFixed(1)} ms` },
      { metric: 'RSS p50 / max (collector + simulator thread)', value: `${mb(quantile([...rss].sort((a, b) => a - b), 0.5))} / ${mb(Math.max(...rss))}` },
      { metric: 'bare COPY ceiling, same rows, same batch size', value: `${Math.round(ceiling)} rows/s (${bareRows} rows in ${bareSecs.toFixed(1)} s)` },
      { metric: 'bare COPY, same rows, 20 000-row batches', value: `${Math.round(big.rows / big.secs)} rows/s` },
      { metric: 'collector / ceiling (same batch size)', value: `${((100 * sustained) / ceiling).toFixed(0)} %` },
      { metric: 'simulator messages sent; market steps', value: `${sent.messages}` },
      { metric: 'row mix', value: mix },
    ]),
    '',
    'Zero-loss checks (after pausing the simulator and draining):',
    '',
    table(checks.map(([check, got, want]) => ({ check, stored: got, expected: want, ok: got === want ? 'yes' : 'NO' }))),
  ].join('\n');
  writeSection('ingest', 'Ingest: simulator → collector → PostgreSQL', 'npm run bench -- ingest', body);
  if (lost) process.exitCode = 1;
} finally {
  await ask('close', 'closed').catch(() => {});
  await worker.terminate();
  await pool.end();
  await clusters.stop();
}
