// Helpers for the execution end-to-end tests: a trending market crafted on the ingest cluster,
// synced to the decision cluster; the execution context with a paper exchange over the ingest
// cluster's raw book and trades; running the queued jobs with Graphile Worker's runTaskListOnce.
import type pg from 'pg';
import { runTaskListOnce } from 'graphile-worker';
import { syncRunToDecision } from '../../../src/decision/sync.ts';
import { PgMarketView } from '../../../src/exchange/market-view-pg.ts';
import { PaperExchange } from '../../../src/exchange/paper.ts';
import type { Exchange } from '../../../src/exchange/types.ts';
import { type ExecutionContext, setExecutionContext } from '../../../src/execution/context.ts';
import { loadTaskList } from '../../../src/worker/task-list.ts';
import { at, captureLog, heartbeat, publishEpoch, refresh, seed, settle, startRun } from '../decision/support.ts';

export { at, captureLog };

type Q = pg.Pool | pg.PoolClient | pg.Client;

export async function putPair(q: Q, runId: number, symbol: string, o: { tick?: string; lot?: string; qtyMin?: string; costMin?: string; status?: string } = {}) {
  await q.query(
    `insert into kapitaal.run_pairs (run_id, symbol, base, quote, status, price_precision, qty_precision, cost_precision,
                            price_increment, qty_increment, qty_min, cost_min, in_universe, first_seen_at, updated_at,
                            status_changed_at, universe_changed_at)
     values ($1, $2, split_part($2, '/', 1), split_part($2, '/', 2), $3, 8, 8, 8, $4::numeric, $5::numeric, $6::numeric,
             $7::numeric, true, $8::timestamptz, $8::timestamptz, $8::timestamptz, $8::timestamptz)`,
    [runId, symbol, o.status ?? 'online', o.tick ?? '0.00000001', o.lot ?? '0.00000001', o.qtyMin ?? '0.0001', o.costMin ?? '0.5', at(0)],
  );
}

/** A clean up-trend (TREND regime, a momentum entry) of `symbol` from 0 to 299 s, refreshed at 300. */
export async function trendingMarket(ingest: Q, symbols: string[] = ['TRN/USD']): Promise<{ runId: number; generationId: number }> {
  const runId = await startRun(ingest, 0);
  for (const [k, s] of symbols.entries()) {
    await seed(ingest, runId, s, { from: 0, to: 299, mid: (i) => (100 + i * 0.015 + Math.sin(i / 3) * 0.01) * (1 + k / 10), firstTradeId: 1 });
    await putPair(ingest, runId, s);
  }
  await settle(ingest, runId);
  let g = { generation_id: 0 };
  for (let k = 0; k < 3; k++) g = await refresh(ingest, runId, 300);
  await publishEpoch(ingest, runId, 300);
  await heartbeat(ingest, runId, 300);
  return { runId, generationId: g.generation_id };
}

/** More market data from `from` to `to` s with the given mid, refreshed at to + 1 and synced. */
export async function moveMarket(ingest: Q, decision: Q, runId: number, symbol: string, from: number, to: number, mid: (i: number) => number) {
  await seed(ingest, runId, symbol, { from, to, mid, firstTradeId: from + 1 });
  await settle(ingest, runId);
  const g = await refresh(ingest, runId, to + 1);
  await publishEpoch(ingest, runId, to + 1);
  await heartbeat(ingest, runId, to + 1);
  await syncRunToDecision(ingest, decision, runId);
  return g;
}

export { syncRunToDecision };

export function paperExchange(ingest: pg.Pool, runId: number): PaperExchange {
  return new PaperExchange({ market: new PgMarketView(ingest, { runId: String(runId) }) });
}

/** Sets the execution context with a controllable clock; returns it and the captured log. */
export function useExecution(exchange: Exchange, over: Partial<ExecutionContext> = {}) {
  const cap = captureLog();
  let nowSec = 0;
  const ctx: ExecutionContext = {
    exchange,
    venue: `${exchange.kind}:test:${Math.random()}`,
    ledgerExchange: exchange.kind === 'paper' ? 'paper' : exchange.kind === 'simulator' ? 'sim' : 'kraken',
    log: cap.log,
    now: () => new Date(at(nowSec)),
    unknownOutcomeBackoffMs: [10, 20, 50],
    ...over,
  };
  setExecutionContext(ctx);
  return { ctx, ...cap, setNow: (s: number) => (nowSec = s) };
}

/** Runs every job that is due for the given tasks until none is left (Graphile Worker's runTaskListOnce). */
export async function runJobs(pool: pg.Pool, tasks: string[]): Promise<void> {
  const list = await loadTaskList(tasks);
  const client = await pool.connect();
  try {
    await runTaskListOnce({ pgPool: pool, useNodeTime: false }, list, client).promise;
  } finally {
    client.release();
  }
}

export async function jobsOf(pool: pg.Pool, task: string) {
  const { rows } = await pool.query(`select id, key, run_at, attempts, last_error from graphile_worker.jobs where task_identifier = $1`, [task]);
  return rows;
}
