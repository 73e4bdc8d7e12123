// A persistent ingest run (`kapitaal ingest`): abandon stale runs of the same configuration, start a
// run (run_id, lineage, partitions), stream with the collector into the COPY writer, heartbeat and
// publish epochs every few seconds, and on SIGTERM/SIGINT stop reading, flush everything buffered,
// publish a last epoch and end the run with its status and time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { Collector, type CollectorStats } from '../collector/collector.ts';
import type { UniversePair } from '../collector/universe.ts';
import { stopSignals } from '../runtime/stop-signals.ts';
import { ROOT_DIR } from '../db/migrate.ts';
import { mark } from '../log/logger.ts';
import type { IngestConfig } from './config.ts';
import { runConfig, topNMargin } from './config.ts';
import { CopyWriter, type WriterStats } from './copy-writer.ts';
import { createPool } from '../db/pool.ts';

export interface IngestRunOptions {
  databaseUrl: string;
  wsUrl: string;
  config: IngestConfig;
  log: Logger;
  /** Resolves (or aborts) when the run should stop; default: the first SIGTERM or SIGINT. */
  signal?: AbortSignal;
}

export interface IngestRunResult {
  runId: string;
  status: 'ended' | 'failed';
  reason: string;
  writer: WriterStats;
  collector: CollectorStats | null;
  epochs: number;
}

interface RunRow {
  run_id: string;
  parent_run_id: string | null;
  config_hash: string;
}

/** package version plus the git commit when the working copy has one (read-only file reads). */
export function codeVersion(): string {
  let version = 'unknown';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    /* keep unknown */
  }
  try {
    const gitDir = path.join(ROOT_DIR, '.git');
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    let commit = head;
    if (head.startsWith('ref: ')) {
      const ref = head.slice(5);
      const loose = path.join(gitDir, ref);
      commit = fs.existsSync(loose)
        ? fs.readFileSync(loose, 'utf8').trim()
        : (fs.readFileSync(path.join(gitDir, 'packed-refs'), 'utf8').split('\n').find((l) => l.endsWith(` ${ref}`)) ?? '').split(' ')[0]!;
    }
    if (/^[0-9a-f]{40}$/.test(commit)) version += `+${commit.slice(0, 12)}`;
  } catch {
    /* not a git checkout */
  }
  return version;
}

export async function runIngest(opts: IngestRunOptions): Promise<IngestRunResult> {
  const { config: c, log } = opts;
  const ownSignal = opts.signal ? null : stopSignals(log);
  const signal = opts.signal ?? ownSignal!.signal;
  const pool = createPool(opts.databaseUrl, { max: 3, applicationName: 'kapitaal-ingest', log });
  const cfgJson = runConfig(c, opts.wsUrl);
  let run: RunRow | undefined;
  let collector: Collector | null = null;
  let writer: CopyWriter | null = null;
  const timers: NodeJS.Timeout[] = [];
  let epochs = 0;
  let status: 'ended' | 'failed' = 'ended';
  let reason = '';
  let stoppedByDb = false;
  const stopper = new AbortController();
  try {
    const abandoned = await pool.query<{ run_id: string; heartbeat_at: Date }>(
      'select run_id, heartbeat_at from kapitaal.ingest_runs__abandon_stale($1::jsonb, make_interval(secs => $2))',
      [JSON.stringify(cfgJson), c.INGEST_STALE_AFTER_S],
    );
    for (const a of abandoned.rows) {
      log.warn({ run_id: a.run_id, heartbeat_at: a.heartbeat_at }, `marked run ${a.run_id} abandoned (its heartbeat stopped)`);
    }
    const started = await pool.query<RunRow>(
      'select run_id, parent_run_id, config_hash from kapitaal.ingest_run__start($1::jsonb, $2, $3, $4)',
      [JSON.stringify(cfgJson), codeVersion(), os.hostname(), process.pid],
    );
    run = started.rows[0]!;
    const runId = run.run_id;
    mark(log, 'INGEST_RUN_START', {
      run_id: runId, parent_run_id: run.parent_run_id, config_hash: run.config_hash, config: cfgJson,
      abandoned: abandoned.rows.map((r) => r.run_id),
      tuning: {
        flush_rows: c.INGEST_FLUSH_ROWS, flush_ms: c.INGEST_FLUSH_MS, buffer_mb: c.INGEST_BUFFER_MB,
        epoch_ms: c.INGEST_EPOCH_MS, heartbeat_ms: c.INGEST_HEARTBEAT_MS,
      },
    }, `ingest run ${runId} started`);

    writer = new CopyWriter({
      connectionString: opts.databaseUrl, runId, log, flushRows: c.INGEST_FLUSH_ROWS, flushMs: c.INGEST_FLUSH_MS,
      maxBufferBytes: c.INGEST_BUFFER_MB * 2 ** 20,
    });
    let universeWrite: Promise<unknown> = Promise.resolve();
    const recordUniverse = (pairs: UniversePair[]) => {
      const body = JSON.stringify(pairs.map((p) => ({
        symbol: p.symbol, base: p.base, quote: p.quote, status: p.status, price_precision: p.price_precision,
        qty_precision: p.qty_precision, cost_precision: p.cost_precision, price_increment: p.price_increment,
        qty_increment: p.qty_increment, qty_min: p.qty_min, cost_min: p.cost_min, in_universe: p.inUniverse,
        liquidity_rank: p.liquidityRank, volume_24h_quote: p.volume24hQuote,
      })));
      universeWrite = universeWrite.then(async () => {
        const { rows } = await pool.query<{ symbol: string; change: string }>(
          'select symbol, change from kapitaal.run_pairs__sync($1, $2::jsonb)', [runId, body]);
        const added = rows.filter((r) => r.change === 'added').length;
        const other = rows.filter((r) => r.change !== 'added');
        if (added) log.info({ run_id: runId, added }, `run_pairs: ${added} pairs recorded with their limits`);
        for (const r of other) log.info({ run_id: runId, symbol: r.symbol, change: r.change }, `run_pairs: ${r.symbol} ${r.change}`);
      }).catch((err: Error) => log.error({ err: err.message }, 'could not record the universe in run_pairs'));
    };
    collector = new Collector({
      runId, sink: writer, log, wsUrl: opts.wsUrl, l3Url: c.KRAKEN_L3_WS_URL, l3Token: c.KRAKEN_L3_TOKEN,
      bookDepth: c.INGEST_BOOK_DEPTH, l3Depth: c.INGEST_L3_DEPTH, storeLevels: c.INGEST_STORE_LEVELS,
      sampleMs: c.INGEST_SAMPLE_MS, policy: { quotes: c.INGEST_QUOTES, topN: c.INGEST_TOP_N, keepMargin: topNMargin(c) },
      universeWarmupMs: c.INGEST_UNIVERSE_WARMUP_MS, universeRefreshMs: c.INGEST_UNIVERSE_REFRESH_S * 1000,
      onUniverse: recordUniverse, subRatePerSec: c.INGEST_SUB_RATE, subBatch: c.INGEST_SUB_BATCH,
      reconnectMinMs: c.INGEST_RECONNECT_MIN_MS, reconnectMaxMs: c.INGEST_RECONNECT_MAX_MS,
      pingMs: c.INGEST_PING_MS, idleMs: c.INGEST_IDLE_TIMEOUT_MS,
    });
    collector.start();

    let heartbeatFailing = false;
    timers.push(setInterval(() => {
      pool.query<{ alive: boolean | null }>('select kapitaal.ingest_run__heartbeat($1) as alive', [runId]).then(({ rows }) => {
        if (heartbeatFailing) log.info({ run_id: runId }, 'heartbeat recorded again');
        heartbeatFailing = false;
        if (!rows[0]?.alive) {
          log.error({ run_id: runId }, 'the run is no longer running in the database (ended or abandoned elsewhere); stopping');
          stoppedByDb = true;
          stopper.abort();
        }
      }).catch((err: Error) => {
        if (!heartbeatFailing) log.error({ run_id: runId, err: err.message }, 'heartbeat failed; retrying');
        heartbeatFailing = true;
      });
    }, c.INGEST_HEARTBEAT_MS));

    let publishing = false;
    const publish = async (): Promise<void> => {
      if (publishing) return;
      publishing = true;
      try {
        const { rows } = await pool.query(
          `select epoch, ticker_rows, trade_rows, l2_rows, l3_rows, symbols, symbols_book_valid, symbols_fresh,
                  txid_horizon::text as txid_horizon
             from kapitaal.ingest_epoch__publish($1, now(), make_interval(secs => $2))`,
          [runId, c.INGEST_FRESH_WITHIN_S]);
        const e = rows[0]!;
        epochs++;
        mark(log, 'INGEST_EPOCH_PUBLISHED', { run_id: runId, ...e });
      } catch (err) {
        log.error({ run_id: runId, err: (err as Error).message }, 'epoch publish failed; next attempt at the next tick');
      } finally {
        publishing = false;
      }
    };
    timers.push(setInterval(() => void publish(), c.INGEST_EPOCH_MS));

    await new Promise<void>((resolve) => {
      if (signal.aborted || stopper.signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
      stopper.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    reason = stoppedByDb ? 'the run was ended outside this process' : `stopped by ${String(signal.reason ?? 'request')}`;
    log.info({ run_id: runId, reason }, 'stopping: closing sockets, flushing buffered rows');
    for (const t of timers) clearInterval(t);
    await collector.stop();
    await universeWrite;
    const ws = await writer.close(c.INGEST_SHUTDOWN_FLUSH_S * 1000);
    while (publishing) await new Promise((r) => setTimeout(r, 10));
    await publish();
    if (ws.gaps.length > 0) reason += `; ${ws.gaps.reduce((a, g) => a + g.rows, 0)} rows dropped (see ingest_gaps / DATA_INTEGRITY_GAP)`;
  } catch (err) {
    status = 'failed';
    reason = (err as Error).message;
    log.error({ err: reason, run_id: run?.run_id }, 'ingest run failed');
    for (const t of timers) clearInterval(t);
    await collector?.stop().catch(() => {});
    await writer?.close(c.INGEST_SHUTDOWN_FLUSH_S * 1000).catch(() => {});
  } finally {
    ownSignal?.dispose();
  }
  const writerStats = writer?.stats() ?? emptyWriterStats();
  const collectorStats = collector?.stats() ?? null;
  if (run) {
    try {
      await pool.query('select kapitaal.ingest_run__end($1, $2, $3)', [run.run_id, status, reason]);
    } catch (err) {
      log.error({ run_id: run.run_id, err: (err as Error).message },
        'could not record the end of the run; the next start with this configuration will mark it abandoned');
    }
    mark(log, 'INGEST_RUN_END', {
      run_id: run.run_id, status, reason, epochs, rows: writerStats.tables, batches: writerStats.batches,
      gaps: writerStats.gaps.length, malformed: collectorStats?.malformed ?? {},
      checksum_mismatches: collectorStats?.checksumMismatches ?? {}, duplicate_trades: collectorStats?.duplicateTrades ?? 0,
    }, `ingest run ${run.run_id} ${status}: ${reason}`);
  }
  await pool.end().catch(() => {});
  if (!run) throw new Error(reason);
  return { runId: run.run_id, status, reason, writer: writerStats, collector: collectorStats, epochs };
}

function emptyWriterStats(): WriterStats {
  const t = { accepted: 0, written: 0, dropped: 0 };
  return {
    tables: { ticker_samples: { ...t }, trade_samples: { ...t }, l2_snap_metrics: { ...t }, l3_queue_metrics: { ...t } },
    batches: 0, retries: 0, bufferedBytes: 0, bufferedRows: 0, healthy: true, gaps: [],
  };
}
