// Simulator → Collector → CopyWriter → test database, for the end-to-end tests.
import type pg from 'pg';
import { Collector, type CollectorOptions } from '../../../src/collector/collector.ts';
import { CopyWriter } from '../../../src/ingest/copy-writer.ts';
import type { Simulator } from '../../../src/sim/index.ts';
import { captureLog, type CapturedLog, until } from './helpers.ts';

export interface Pipeline {
  runId: string;
  collector: Collector;
  writer: CopyWriter;
  cap: CapturedLog;
  /** Pauses the market, waits until the collector received every data frame sent, stops, flushes. */
  drainAndStop(): Promise<void>;
}

export async function startPipeline(
  pool: pg.Pool,
  url: string,
  sim: Simulator,
  over: Partial<CollectorOptions> = {},
): Promise<Pipeline> {
  const { rows } = await pool.query<{ run_id: string }>(
    `select run_id from ingest_run__start($1::jsonb, 'test', 'host')`,
    [JSON.stringify({ test: 'pipeline', n: Math.random() })],
  );
  const runId = rows[0]!.run_id;
  const cap = captureLog();
  const writer = new CopyWriter({ connectionString: url, runId, log: cap.log, flushMs: 50, retryMinMs: 20, retryMaxMs: 200 });
  const collector = new Collector({
    runId, sink: writer, log: cap.log, wsUrl: sim.url, l3Token: 'sim-token', bookDepth: 10, l3Depth: 10,
    storeLevels: 10, sampleMs: 100, policy: { quotes: ['USD'], topN: 0 }, reconnectMinMs: 50, reconnectMaxMs: 500,
    idleMs: 3_000, pingMs: 1_000, subRatePerSec: 50, subBurst: 20, ...over,
  });
  collector.start();
  return {
    runId, collector, writer, cap,
    async drainAndStop() {
      sim.market.pause();
      await until('collector received every data frame the simulator sent', () => {
        const sent = sim.sentCounts().channels;
        const got = collector.stats().received;
        for (const ch of ['ticker', 'trade', 'book', 'level3']) {
          for (const [sym, c] of Object.entries(sent[ch] ?? {})) {
            // An empty trade snapshot names no symbol; trades are compared by rows.
            if (ch === 'trade' ? (got[ch]?.[sym]?.rows ?? 0) !== c.rows : got[ch]?.[sym]?.messages !== c.messages) return false;
          }
        }
        return true;
      }, 30_000);
      await collector.stop();
      await writer.close(10_000);
    },
  };
}

/** Rows per symbol from one query returning (symbol, n). */
export async function perSymbol(pool: pg.Pool, sql: string, runId: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ symbol: string; n: string }>(sql, [runId]);
  return Object.fromEntries(rows.map((r) => [r.symbol, Number(r.n)]));
}
