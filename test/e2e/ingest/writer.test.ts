// The COPY writer against a real database: escaping survives the round trip, batches flush on size
// and on time, an unreachable database keeps memory bounded and reports exactly what was dropped,
// and a database that comes back (or kills the writer's session) gets every accepted row exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyWriter } from '../../../src/ingest/copy-writer.ts';
import { tickerLine, tradeLine } from '../../../src/ingest/rows.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { captureLog, closedPort, pgProxy, until } from './helpers.ts';

let db: TestDatabase;
const writers: CopyWriter[] = [];
beforeAll(async () => {
  db = await testDatabase('ingest');
});
afterAll(async () => {
  await Promise.all(writers.map((w) => w.close(1_000).catch(() => {})));
});

async function newRun(): Promise<string> {
  const { rows } = await db.pool.query<{ run_id: string }>(
    `select run_id from ingest_run__start($1::jsonb, 'test', 'host')`,
    [JSON.stringify({ test: 'writer', n: Math.random() })],
  );
  return rows[0]!.run_id;
}

// Every case runs with the database I/O in its own thread (ioThread) and on the caller's thread (the default).
let ioThread = true;

function writer(runId: string, opts: Partial<ConstructorParameters<typeof CopyWriter>[0]> = {}) {
  const cap = captureLog();
  const w = new CopyWriter({ connectionString: db.url, runId, log: cap.log, retryMinMs: 20, retryMaxMs: 200, ioThread, ...opts });
  writers.push(w);
  return { w, cap };
}

const trade = (runId: string, id: number, symbol = 'BTC/USD', price = '100.5') =>
  tradeLine(runId, { symbol, side: 'buy', price, qty: '0.10000000', ord_type: 'limit', trade_id: id,
    timestamp: '2026-01-01T00:00:00.000001Z' }, Date.UTC(2026, 0, 1, 0, 0, 0, id));

async function tradeIds(runId: string): Promise<number[]> {
  const { rows } = await db.pool.query<{ trade_id: string }>(
    'select trade_id from trade_samples where run_id = $1 order by trade_id', [runId]);
  return rows.map((r) => Number(r.trade_id));
}

describe.each([true, false])('CopyWriter (I/O thread: %s)', (thread) => {
  beforeAll(() => {
    ioThread = thread;
  });
  it('stores text with tabs, newlines and backslashes, and decimals digit for digit', async () => {
    const run = await newRun();
    const { w } = writer(run);
    const symbol = 'odd\tsym\\bol\nX\r';
    w.push('ticker_samples', tickerLine(run, {
      symbol, bid: '45283.5', bid_qty: '0.10000000', ask: '45285.2', ask_qty: '0.00100000', last: '45284.0',
      volume: '1234.56780000', vwap: '45000.0', low: null, high: '46000.0', change: '-12.3', change_pct: '-0.03',
      timestamp: '2026-01-01T00:00:00.123456Z',
    }, Date.UTC(2026, 0, 1)), Date.UTC(2026, 0, 1));
    await w.flush();
    const { rows } = await db.pool.query(
      `select symbol, bid_qty::text, ask_qty::text, volume::text, low, change::text, exchange_ts
         from ticker_samples where run_id = $1`, [run]);
    expect(rows).toEqual([{
      symbol, bid_qty: '0.10000000', ask_qty: '0.00100000', volume: '1234.56780000', low: null, change: '-12.3',
      exchange_ts: new Date('2026-01-01T00:00:00.123Z'),
    }]);
  });

  it('flushes when flushRows rows are pending, without waiting for the timer', async () => {
    const run = await newRun();
    const { w } = writer(run, { flushRows: 5, flushMs: 600_000 });
    const batch = new Promise((r) => w.once('batch', r));
    for (let i = 1; i <= 5; i++) w.push('trade_samples', trade(run, i), Date.now());
    await batch;
    expect(await tradeIds(run)).toEqual([1, 2, 3, 4, 5]);
    const { rows } = await db.pool.query('select batch_no::int, trade_rows from ingest_write_batches where run_id = $1', [run]);
    expect(rows).toEqual([{ batch_no: 1, trade_rows: 5 }]);
  });

  it('flushes a few rows on the timer', async () => {
    const run = await newRun();
    const { w } = writer(run, { flushRows: 10_000, flushMs: 50 });
    w.push('trade_samples', trade(run, 1), Date.now());
    await until('timer flush', async () => (await tradeIds(run)).length === 1, 10_000);
  });

  it('drops a row PostgreSQL rejects and keeps the rest of its batch, reporting the drop as a gap', async () => {
    const run = await newRun();
    const { w, cap } = writer(run);
    for (let i = 1; i <= 9; i++) w.push('trade_samples', trade(run, i, 'BTC/USD', i === 6 ? '0' : '100.5'), Date.now());
    await w.flush();
    expect(await tradeIds(run)).toEqual([1, 2, 3, 4, 5, 7, 8, 9]);
    expect(w.stats().tables.trade_samples).toEqual({ accepted: 9, written: 8, dropped: 1 });
    const gaps = await db.pool.query(
      `select table_name, rows_dropped::int, first_received_at, reason from ingest_gaps where run_id = $1`, [run]);
    expect(gaps.rows).toEqual([{
      table_name: 'trade_samples', rows_dropped: 1, first_received_at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 6)),
      reason: expect.stringContaining('trade_samples_price_check'),
    }]);
    expect(cap.markers('DATA_INTEGRITY_GAP')).toHaveLength(1);
  });

  it('with the database unreachable keeps the buffer bounded, says what it drops, and never crashes', async () => {
    const run = '424242';
    const url = db.url.replace(/:(\d+)\//, `:${await closedPort()}/`);
    const cap = captureLog();
    const line = trade(run, 1);
    const w = new CopyWriter({ connectionString: url, runId: run, log: cap.log, flushRows: 10, flushMs: 20, ioThread,
      retryMinMs: 10, retryMaxMs: 50, maxBufferBytes: 20 * (line.length + 40) });
    writers.push(w);
    let pressure = 0;
    w.on('pressure', () => pressure++);
    const t0 = Date.UTC(2026, 0, 1);
    let accepted = 0;
    for (let i = 1; i <= 100; i++) {
      if (w.push('trade_samples', trade(run, i), t0 + i)) accepted++;
      expect(w.bufferedBytes).toBeLessThanOrEqual(20 * (line.length + 40));
    }
    expect(accepted).toBeGreaterThan(10);
    expect(accepted).toBeLessThanOrEqual(20);
    await until('a failed write', () => !w.healthy, 10_000);
    expect(pressure).toBe(1);
    const stats = await w.close(300);
    expect(stats.tables.trade_samples).toEqual({ accepted, written: 0, dropped: 100 });
    // Two gaps: the rows that did not fit (received after the first `accepted`), then those buffered at shutdown.
    expect(stats.gaps.map((g) => [g.rows, g.firstMs - t0, g.lastMs - t0])).toEqual([
      [100 - accepted, accepted + 1, 100],
      [accepted, 1, accepted],
    ]);
    expect(stats.gaps[0]!.reason).toMatch(/unreachable \(.*ECONNREFUSED/);
    const logged = cap.markers('DATA_INTEGRITY_GAP').filter((l) => l.rows !== undefined);
    expect(logged.map((l) => [l.table, l.rows, l.from, l.to])).toEqual([
      ['trade_samples', 100 - accepted, new Date(t0 + accepted + 1).toISOString(), new Date(t0 + 100).toISOString()],
      ['trade_samples', accepted, new Date(t0 + 1).toISOString(), new Date(t0 + accepted).toISOString()],
    ]);
  });

  it('writes everything it accepted once the database is back, and records the gap in ingest_gaps', async () => {
    const run = await newRun();
    const proxy = await pgProxy(db.url);
    const line = trade(run, 1);
    const cap = captureLog();
    const w = new CopyWriter({ connectionString: proxy.url, runId: run, log: cap.log, flushRows: 5, flushMs: 20, ioThread,
      retryMinMs: 10, retryMaxMs: 100, maxBufferBytes: 30 * (line.length + 40) });
    writers.push(w);
    let id = 0;
    for (; id < 10; id++) w.push('trade_samples', trade(run, id + 1), Date.now());
    await w.flush();
    proxy.down();
    const accepted: number[] = [];
    for (let k = 0; k < 100; k++) {
      id++;
      if (w.push('trade_samples', trade(run, id), Date.now())) accepted.push(id);
    }
    await until('writer notices the outage', () => !w.healthy, 10_000);
    proxy.up();
    id++;
    // First row after recovery fits only once the buffer drains; keep offering until it does.
    await until('buffer drains', () => w.healthy && w.bufferedBytes === 0, 20_000);
    expect(w.push('trade_samples', trade(run, id), Date.now())).toBe(true);
    accepted.push(id);
    await w.flush();
    const stored = await tradeIds(run);
    expect(stored).toEqual([...Array.from({ length: 10 }, (_, i) => i + 1), ...accepted]);
    const s = w.stats().tables.trade_samples;
    expect(s.accepted).toBe(stored.length);
    expect(s.written).toBe(stored.length);
    expect(s.dropped).toBe(100 - (accepted.length - 1));
    const gaps = await db.pool.query(`select rows_dropped::int, reason from ingest_gaps where run_id = $1`, [run]);
    expect(gaps.rows).toEqual([{ rows_dropped: s.dropped, reason: expect.stringContaining('unreachable') }]);
    await proxy.close();
  });

  it('survives pg_terminate_backend of its session mid-stream with every row stored exactly once', async () => {
    const run = await newRun();
    const { w } = writer(run, { flushRows: 50, flushMs: 10 });
    let id = 0;
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 200; k++) {
        id++;
        expect(w.push('trade_samples', trade(run, id), Date.now())).toBe(true);
      }
      await db.pool.query(`select pg_terminate_backend(pid) from pg_stat_activity
                            where application_name = 'kapitaal-ingest-writer' and datname = current_database()`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await w.flush();
    const stored = await tradeIds(run);
    expect(stored.length).toBe(id);
    expect(new Set(stored).size).toBe(id);
    expect(w.stats().tables.trade_samples).toEqual({ accepted: id, written: id, dropped: 0 });
  });
});
