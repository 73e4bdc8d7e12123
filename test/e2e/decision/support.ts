// Helpers for the decision tests: a crafted market on a run (raw rows inserted directly),
// refresh, epoch publish and heartbeat at controlled times, and log capture for markers.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type pg from 'pg';
import { at, seed, settle } from '../../sql/state/support.ts';

export { at, seed, settle };

type Q = pg.Pool | pg.PoolClient | pg.Client;

export async function startRun(q: Q, nowSec = 0): Promise<number> {
  const { rows } = await q.query<{ run_id: string }>(
    `select run_id from kapitaal.ingest_run__start($1::jsonb, 'test', 'host', null, $2::timestamptz)`,
    [JSON.stringify({ test: Math.random() }), at(nowSec)],
  );
  return Number(rows[0]!.run_id);
}

export async function heartbeat(q: Q, runId: number, nowSec: number): Promise<void> {
  await q.query('select kapitaal.ingest_run__heartbeat($1, $2::timestamptz)', [runId, at(nowSec)]);
}

export async function refresh(q: Q, runId: number, nowSec: number): Promise<{ generation_id: number; state_digest: string }> {
  const { rows } = await q.query(`select generation_id, state_digest from kapitaal.refresh_run_symbol_state($1, $2::timestamptz)`, [
    runId,
    at(nowSec),
  ]);
  return { generation_id: Number(rows[0].generation_id), state_digest: rows[0].state_digest };
}

export async function publishEpoch(q: Q, runId: number, nowSec: number): Promise<number> {
  const { rows } = await q.query(`select epoch from kapitaal.ingest_epoch__publish($1, $2::timestamptz)`, [runId, at(nowSec)]);
  return Number(rows[0].epoch);
}

const wave = (i: number) => 100 + Math.sin(i / 7) * 0.3 + i * 0.001;

/**
 * A live market: `symbols` symbols with data from `from` to `to` seconds, then three refreshes
 * (the regime needs three to establish) with an epoch and a heartbeat before the last, all at `to + 1`.
 */
export async function liveMarket(q: Q, runId: number, opts: { symbols?: number; from?: number; to?: number } = {}) {
  const n = opts.symbols ?? 3;
  const from = opts.from ?? 0;
  const to = opts.to ?? 299;
  for (let s = 0; s < n; s++) {
    await seed(q, runId, `S${String(s).padStart(3, '0')}/USD`, { from, to, mid: (i) => wave(i) * (1 + s), firstTradeId: from + 1 });
  }
  await settle(q, runId);
  await refresh(q, runId, to + 1);
  await refresh(q, runId, to + 1);
  await publishEpoch(q, runId, to + 1);
  await heartbeat(q, runId, to + 1);
  // The last refresh commits after the epoch and heartbeat: a feed that applies in commit order
  // (replication) shows them once it shows this generation.
  return refresh(q, runId, to + 1);
}

/** A logger whose lines are kept in memory (to assert markers). */
export function captureLog(): { log: Logger; lines: Record<string, unknown>[]; markers: () => string[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  const log = pino({ level: 'debug' }, stream);
  return { log, lines, markers: () => lines.map((l) => l.marker).filter((m): m is string => typeof m === 'string') };
}

export async function evaluate(q: Q, nowSec: number, runId?: number) {
  const { rows } = await q.query(`select * from kapitaal.evaluation__run($1, $2::timestamptz)`, [runId ?? null, at(nowSec)]);
  return rows[0] as Record<string, any>;
}

export async function gate(q: Q, runId: number, generationId: number, nowSec: number) {
  const { rows } = await q.query(`select * from kapitaal.generation_gate__check($1, $2, $3::timestamptz)`, [runId, generationId, at(nowSec)]);
  return rows[0] as { allowed: boolean; reason: string; marker: string | null; current_generation_id: string | null };
}
