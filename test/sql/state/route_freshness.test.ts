// apply_route_freshness_filter: per route type a maximum state age (30 s / 45 s); the
// boundary itself is allowed. Time is injected through p_now.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { at, refresh, seed, settle, startRun } from './support.ts';

let db: TestDatabase;
let run: number;

interface Route {
  symbol: string;
  route_type: string;
  exec_allowed: boolean;
  reason: string;
  marker: string;
  age_s: number;
  refresh_age_s: number;
}

async function routes(nowSec: number): Promise<Route[]> {
  const { rows } = await db.pool.query(
    `select symbol, route_type, exec_allowed, reason, marker,
            extract(epoch from state_age)::float8 as age_s, extract(epoch from refresh_age)::float8 as refresh_age_s
       from apply_route_freshness_filter($1, $2::timestamptz)`,
    [run, at(nowSec)],
  );
  return rows;
}
const route = (rs: Route[], symbol: string, type: string) => rs.find((r) => r.symbol === symbol && r.route_type === type)!;

beforeAll(async () => {
  db = await testDatabase('ingest');
  run = await startRun(db.pool);
  // Book and ticker until t = 100 s; a second symbol with trades only (no quote at all).
  await seed(db.pool, run, 'AAA/USD', { from: 41, to: 100, mid: (i) => 100 + i * 0.001 });
  await seed(db.pool, run, 'TRD/USD', { from: 41, to: 100, mid: () => 3, ticker: false, l2: false, l3: false });
  await settle(db.pool, run);
});

describe('apply_route_freshness_filter', () => {
  it('has the documented route types and defaults', async () => {
    const { rows } = await db.pool.query(
      `select route_type, extract(epoch from max_state_age)::int s from route_freshness_policy order by 1`,
    );
    expect(rows).toEqual([
      { route_type: 'exit', s: 45 },
      { route_type: 'maker_entry', s: 30 },
      { route_type: 'taker_entry', s: 30 },
    ]);
  });

  it('allows 29.9 s and exactly 30 s, and blocks 30.1 s (a 30 s route); the 45 s route still allows 30.1 s', async () => {
    await refresh(db.pool, run, 129.9);
    let rs = await routes(129.9);
    expect(route(rs, 'AAA/USD', 'taker_entry')).toMatchObject({ exec_allowed: true, marker: 'ROUTE_FRESHNESS_OK', age_s: 29.9 });

    await refresh(db.pool, run, 130);
    rs = await routes(130);
    expect(route(rs, 'AAA/USD', 'taker_entry')).toMatchObject({ exec_allowed: true, marker: 'ROUTE_FRESHNESS_OK', age_s: 30 });
    expect(route(rs, 'AAA/USD', 'maker_entry')).toMatchObject({ exec_allowed: true, age_s: 30 });

    await refresh(db.pool, run, 130.1);
    rs = await routes(130.1);
    expect(route(rs, 'AAA/USD', 'taker_entry')).toMatchObject({
      exec_allowed: false,
      marker: 'ROUTE_FRESHNESS_STALE',
      age_s: 30.1,
      refresh_age_s: 0,
    });
    expect(route(rs, 'AAA/USD', 'taker_entry').reason).toMatch(/^STATE_AGE_EXCEEDS_MAX: market data 00:00:30\.1 old > 00:00:30/);
    expect(route(rs, 'AAA/USD', 'maker_entry')).toMatchObject({ exec_allowed: false, marker: 'ROUTE_FRESHNESS_STALE' });
    expect(route(rs, 'AAA/USD', 'exit')).toMatchObject({ exec_allowed: true, marker: 'ROUTE_FRESHNESS_OK' });

    // Exactly 45 s still allowed, 45.1 s not.
    await refresh(db.pool, run, 145);
    expect(route(await routes(145), 'AAA/USD', 'exit')).toMatchObject({ exec_allowed: true, age_s: 45 });
    await refresh(db.pool, run, 145.1);
    expect(route(await routes(145.1), 'AAA/USD', 'exit')).toMatchObject({ exec_allowed: false, marker: 'ROUTE_FRESHNESS_STALE' });
  });

  it('blocks every route when the refresh itself stopped (state older than the max), with its own marker', async () => {
    await refresh(db.pool, run, 150);
    // Data fresh at refresh time? No: the refresh age alone decides here.
    const rs = await routes(150 + 45.1);
    for (const type of ['taker_entry', 'maker_entry', 'exit']) {
      expect(route(rs, 'AAA/USD', type)).toMatchObject({ exec_allowed: false, marker: 'ROUTE_EXECUTION_BLOCKED_STALE_DATA' });
      expect(route(rs, 'AAA/USD', type).reason).toMatch(/^REFRESH_STALE/);
    }
  });

  it('blocks a symbol without any book or ticker data (NO_MARKET_DATA)', async () => {
    const rs = await routes(150);
    expect(route(rs, 'TRD/USD', 'taker_entry')).toMatchObject({
      exec_allowed: false,
      marker: 'ROUTE_EXECUTION_BLOCKED_STALE_DATA',
    });
    expect(route(rs, 'TRD/USD', 'taker_entry').reason).toMatch(/^NO_MARKET_DATA/);
  });

  it('returns every symbol x enabled route type, and the route_freshness view uses now() for running runs', async () => {
    expect(await routes(150)).toHaveLength(2 * 3);
    await db.pool.query(`update route_freshness_policy set enabled = false where route_type = 'exit'`);
    try {
      expect(await routes(150)).toHaveLength(2 * 2);
    } finally {
      await db.pool.query(`update route_freshness_policy set enabled = true where route_type = 'exit'`);
    }
    // Crafted data is from 2026-01-01: at now() every route of this running run is blocked.
    const { rows } = await db.pool.query(`select marker, exec_allowed from route_freshness where run_id = $1`, [run]);
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.exec_allowed === false)).toBe(true);
  });
});
