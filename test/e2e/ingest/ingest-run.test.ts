// `kapitaal ingest` as a child process against the simulator and a test database: SIGTERM flushes
// and ends the run, two runs form a lineage, a dead run is abandoned, the universe is stored with
// its limits and follows instrument changes, epochs and snapshots are published.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../../src/db/migrate.ts';
import { startSimulator, type Simulator } from '../../../src/sim/index.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { until } from './helpers.ts';

let db: TestDatabase;
let sim: Simulator;
beforeAll(async () => {
  db = await testDatabase('ingest');
  sim = await startSimulator({ seed: 21, pairs: 10, rate: 300 });
});
afterAll(async () => {
  await sim?.close();
});

interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<number | null>;
  markers(name: string): Record<string, unknown>[];
}

function startIngest(extraEnv: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [path.join(ROOT_DIR, 'bin', 'kapitaal.mjs'), 'ingest'], {
    cwd: ROOT_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: db.url,
      KRAKEN_WS_URL: sim.url,
      KRAKEN_L3_TOKEN: 'sim-token',
      LOG_LEVEL: 'info',
      INGEST_EPOCH_MS: '300',
      INGEST_HEARTBEAT_MS: '200',
      INGEST_STALE_AFTER_S: '2',
      INGEST_FLUSH_MS: '50',
      INGEST_SAMPLE_MS: '100',
      INGEST_SUB_RATE: '50',
      INGEST_TOP_N: '4',
      INGEST_UNIVERSE_WARMUP_MS: '3000',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        stderr.push(l);
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, lines, stderr, exit, markers: (n) => lines.filter((l) => l.marker === n) };
}

async function stop(c: Child): Promise<number | null> {
  c.proc.kill('SIGTERM');
  return await c.exit;
}

const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows as T[];

describe('kapitaal ingest', () => {
  let firstRun = '';

  it('starts a run, stores the universe with limits, publishes epochs, and on SIGTERM flushes and ends it', async () => {
    const child = startIngest();
    try {
      const started = await until('INGEST_RUN_START', () => child.markers('INGEST_RUN_START')[0], 60_000);
      firstRun = String(started.run_id);
      await until('two epochs with trades', () => child.markers('INGEST_EPOCH_PUBLISHED').filter((e) => Number(e.trade_rows) > 0).length >= 2, 60_000);
    } catch (err) {
      child.proc.kill('SIGKILL');
      throw new Error(`${String(err)}\n${child.stderr.join('')}`);
    }
    // Universe: the 4 most liquid of the 6 USD pairs, every USD pair recorded with its limits.
    const pairs = await q<{ symbol: string; in_universe: boolean; qty_min: string; cost_min: string; price_increment: string; price_precision: number; liquidity_rank: number }>(
      `select symbol, in_universe, qty_min::text, cost_min::text, price_increment::text, price_precision, liquidity_rank
         from run_pairs where run_id = $1 order by symbol`, [firstRun]);
    expect(pairs.map((p) => p.symbol)).toEqual(['ADA/USD', 'BTC/USD', 'DOGE/USD', 'ETH/USD', 'SOL/USD', 'XRP/USD']);
    expect(pairs.filter((p) => p.in_universe)).toHaveLength(4);
    expect(pairs.filter((p) => p.in_universe).every((p) => p.liquidity_rank <= 4)).toBe(true);
    const btc = pairs.find((p) => p.symbol === 'BTC/USD')!;
    const spec = sim.market.pair('BTC/USD')!.spec;
    expect(btc).toMatchObject({ price_precision: spec.pricePrecision, price_increment: '0.1' });
    expect(Number(btc.qty_min)).toBe(Number(spec.qtyMin));
    expect(Number(btc.cost_min)).toBe(Number(spec.costMin));

    const universe = pairs.filter((p) => p.in_universe).map((p) => p.symbol);
    const epochRows = await q(`select epoch from ingest_epochs where run_id = $1`, [firstRun]);
    expect(epochRows.length).toBeGreaterThanOrEqual(2);
    const snaps = await q<{ symbol: string; in_universe: boolean; book_valid: boolean | null }>(
      `select symbol, in_universe, book_valid from ingest_snapshots
        where run_id = $1 and epoch = (select max(epoch) from ingest_epochs where run_id = $1) and in_universe order by symbol`, [firstRun]);
    expect(snaps.map((s) => s.symbol)).toEqual(universe);

    expect(await stop(child)).toBe(0);
    const end = child.markers('INGEST_RUN_END')[0]!;
    expect(end).toMatchObject({ run_id: firstRun, status: 'ended', reason: 'stopped by SIGTERM' });
    const rows = end.rows as Record<string, { accepted: number; written: number; dropped: number }>;
    const [run] = await q<{ status: string; ended_at: Date | null; end_reason: string }>(
      'select status, ended_at, end_reason from ingest_runs where run_id = $1', [firstRun]);
    expect(run).toMatchObject({ status: 'ended', end_reason: 'stopped by SIGTERM' });
    expect(run!.ended_at).toBeInstanceOf(Date);
    // Everything accepted was flushed before the end: the tables hold exactly what the writer accepted.
    for (const [table, r] of Object.entries(rows)) {
      expect(r.dropped).toBe(0);
      expect(r.written).toBe(r.accepted);
      const [n] = await q<{ n: number }>(`select count(*)::int n from ${table} where run_id = $1`, [firstRun]);
      expect(n!.n).toBe(r.written);
    }
    expect(rows.trade_samples!.written).toBeGreaterThan(0);
    expect(rows.l3_queue_metrics!.written).toBeGreaterThan(0);
    // Only universe symbols have book data.
    const booked = await q<{ symbol: string }>('select distinct symbol from l2_snap_metrics where run_id = $1 order by 1', [firstRun]);
    expect(booked.map((b) => b.symbol)).toEqual(universe);
  });

  it('continues the lineage in the next run and abandons a dead run of the same configuration', async () => {
    expect(firstRun).not.toBe('');
    // A run of the same configuration whose process died: its heartbeat is old.
    const [cfg] = await q<{ config: unknown }>('select config from ingest_runs where run_id = $1', [firstRun]);
    const [dead] = await q<{ run_id: string }>(
      `select run_id from ingest_run__start($1::jsonb, 'test', 'gone-host', 1, now() - interval '1 minute')`,
      [JSON.stringify(cfg!.config)]);
    const child = startIngest();
    try {
      const started = await until('INGEST_RUN_START', () => child.markers('INGEST_RUN_START')[0], 60_000);
      expect(started).toMatchObject({ parent_run_id: dead!.run_id, abandoned: [dead!.run_id] });
      const [deadRow] = await q<{ status: string; parent_run_id: string }>('select status, parent_run_id from ingest_runs where run_id = $1', [dead!.run_id]);
      expect(deadRow).toEqual({ status: 'abandoned', parent_run_id: firstRun });
      await until('an epoch', () => child.markers('INGEST_EPOCH_PUBLISHED').length > 0, 60_000);
    } finally {
      // Ctrl-C reaches the whole process group and the demo then sends SIGTERM: the second signal must not cut
      // the clean shutdown short (it used to kill the process once the run had ended, while its jobs stopped).
      child.proc.kill('SIGINT');
      child.proc.kill('SIGTERM');
      expect(await child.exit).toBe(0);
    }
    expect(child.lines.filter((l) => /^already stopping/.test(String(l.msg)))).toHaveLength(1);
    expect(child.markers('INGEST_RUN_END')[0]).toMatchObject({ status: 'ended' });
  });

  it('follows an instrument status change: the pair leaves the universe, its row and data stay', async () => {
    const child = startIngest({ INGEST_TOP_N: '0' });
    try {
      const started = await until('INGEST_RUN_START', () => child.markers('INGEST_RUN_START')[0], 60_000);
      const runId = String(started.run_id);
      await until('BTC/USD in the universe with data', async () =>
        (await q<{ n: number }>(`select count(*)::int n from l2_snap_metrics where run_id = $1 and symbol = 'BTC/USD'`, [runId]))[0]!.n > 0, 60_000);
      sim.setPairStatus('BTC/USD', 'cancel_only');
      await until('BTC/USD recorded as cancel_only and out of the universe', async () => {
        const r = await q<{ status: string; in_universe: boolean }>(
          `select status, in_universe from run_pairs where run_id = $1 and symbol = 'BTC/USD'`, [runId]);
        return r[0]?.status === 'cancel_only' && !r[0].in_universe;
      }, 30_000);
      await until('universe change logged', () =>
        child.lines.some((l) => l.msg === 'universe changed' && (l.removed as string[]).includes('BTC/USD')), 30_000);
      const [kept] = await q<{ n: number }>(`select count(*)::int n from l2_snap_metrics where run_id = $1 and symbol = 'BTC/USD'`, [runId]);
      expect(kept!.n).toBeGreaterThan(0);
    } finally {
      sim.setPairStatus('BTC/USD', 'online');
      expect(await stop(child)).toBe(0);
    }
  });

  it('refuses a bad setting with one line naming it', async () => {
    const child = startIngest({ INGEST_BOOK_DEPTH: '7' });
    expect(await child.exit).toBe(2);
    expect(child.stderr.join('').trim()).toBe('kapitaal: configuration error: INGEST_BOOK_DEPTH: expected one of 10, 25, 100, 500, 1000 (got "7")');
  });
});
