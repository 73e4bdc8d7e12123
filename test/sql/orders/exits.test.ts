// exits__scan: every open position against a fresh mark; a trigger becomes exactly one exit intent
// per position (also when the scan runs twice, or twice at once); stale or missing marks are skipped
// with a reason.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { backendPid, waitUntilBlocked } from '../../support/locks.ts';
import { NOW, ago, newRun, putPair, putState } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});
// Positions of earlier tests would be scanned too: start each test with none open.
beforeEach(async () => {
  await db.pool.query(`select kapitaal.order__transition(order_id, 'cancelled', null, null, now(), 'test reset') from kapitaal.orders where status in ('new', 'submitting', 'open')`);
  const { rows } = await db.pool.query(`select position_id, symbol, strategy, qty from kapitaal.positions where closed_at is null`);
  for (const p of rows) {
    const { rows: [o] } = await db.pool.query(
      `select order_id from kapitaal.order__create_intent(kapitaal.order__client_id('exit', $1, 'reset'), 1, $2, 'sell', 'market', $3, null, $4, 'exit', 'test reset',
         p_exit_trigger => 'manual', p_position_id => $1, p_reference_price => 100)`, [p.position_id, p.symbol, p.qty, p.strategy]);
    await db.pool.query(`select kapitaal.order__begin_submit($1)`, [o.order_id]);
    await db.pool.query(`select kapitaal.order__record_fill($1, 'paper', $3, 100, $2, 0, 'taker', now())`, [o.order_id, p.qty, `reset-${o.order_id}`]);
  }
});

let n = 0;
/** An open position: a market buy of 0.5 at 100 filled (fee 0.2). */
async function openPosition(runId: number, symbol: string): Promise<string> {
  const { rows: [o] } = await db.pool.query(
    `select order_id from kapitaal.order__create_intent(kapitaal.order__client_id('entry', $1, 'exits'), $2, $3, 'buy', 'market',
       0.5, null, 'momentum', 'entry', 'exit test', p_reference_price => 100, p_regime => 'TREND', p_now => $4::timestamptz)`,
    [++n + runId, runId, symbol, ago(600)]);
  await db.pool.query(`select kapitaal.order__begin_submit($1, $2::timestamptz)`, [o.order_id, ago(600)]);
  const { rows: [f] } = await db.pool.query(
    `select position_id from kapitaal.order__record_fill($1, 'paper', $3, 100, 0.5, 0.2, 'taker', $2::timestamptz)`,
    [o.order_id, ago(599), `T-${o.order_id}`]);
  return String(f.position_id);
}

async function scan(q: { query: typeof db.pool.query } = db.pool, now = NOW) {
  const { rows } = await q.query(`select * from kapitaal.exits__scan($1::timestamptz)`, [now]);
  return rows as { position_id: string; outcome: string; exit_trigger: string | null; order_id: string | null; client_order_id: string | null; created: boolean; reason: string }[];
}

describe('exits__scan', () => {
  it('creates one stop-loss exit per position, even when run twice; the second scan sees it in flight', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'EXA/USD');
    await putState(db.pool, run, 'EXA/USD', { mid: '97.5', best_bid: '97.49', best_ask: '97.51' }); // -2.5 % < stop 2 %
    const pos = await openPosition(run, 'EXA/USD');
    const first = await scan();
    expect(first).toEqual([expect.objectContaining({ position_id: pos, outcome: 'exit_created', exit_trigger: 'stop_loss', created: true })]);
    const { rows: [o] } = await db.pool.query(`select * from kapitaal.orders where order_id = $1`, [first[0]!.order_id]);
    expect(o).toMatchObject({ purpose: 'exit', side: 'sell', order_type: 'market', qty: '0.5', reference_price: '97.49',
                              exit_trigger: 'stop_loss', position_id: pos, status: 'new', run_id: String(run), generation_id: '4242' });
    expect(o.client_order_id).toBe((await db.pool.query(`select kapitaal.order__client_id('exit', $1, 'attempt:1') id`, [pos])).rows[0].id);
    expect(o.reason).toMatch(/^stop_loss exit of position \d+ \(0\.5 EXA\/USD, avg entry 100\) at mark 97\.5/);

    const second = await scan();
    expect(second).toEqual([expect.objectContaining({ position_id: pos, outcome: 'in_flight', order_id: null })]);
    expect((await db.pool.query(`select count(*)::int n from kapitaal.orders where position_id = $1 and purpose = 'exit'`, [pos])).rows[0].n).toBe(1);
    const stored = await db.pool.query(`select outcome from kapitaal.exit_scan_decisions where position_id = $1 order by decision_id`, [pos]);
    expect(stored.rows.map((r) => r.outcome)).toEqual(['exit_created', 'in_flight']);
  });

  it('two scans at once still create one exit', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'EXB/USD');
    await putState(db.pool, run, 'EXB/USD', { mid: '104.5', best_bid: '104.49', best_ask: '104.51' }); // take profit at +4 %
    const pos = await openPosition(run, 'EXB/USD');
    const [a, b] = [await db.client(), await db.client()];
    await a.query('begin');
    await b.query('begin');
    const ra = await scan(a);
    const bPid = await backendPid(b);
    const pb = scan(b); // waits for a's advisory lock
    await waitUntilBlocked(db.pool, bPid);
    await a.query('commit');
    const rb = await pb;
    await b.query('commit');
    expect(ra[0]).toMatchObject({ outcome: 'exit_created', exit_trigger: 'take_profit' });
    expect(rb[0]).toMatchObject({ outcome: 'in_flight' });
    expect((await db.pool.query(`select count(*)::int n from kapitaal.orders where position_id = $1 and purpose = 'exit'`, [pos])).rows[0].n).toBe(1);
  });

  it('a rejected exit is retried as attempt 2 with a new client order id', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'EXC/USD');
    await putState(db.pool, run, 'EXC/USD', { mid: '97', best_bid: '96.99', best_ask: '97.01' });
    const pos = await openPosition(run, 'EXC/USD');
    const first = await scan();
    await db.pool.query(`select kapitaal.order__transition($1, 'rejected', null, null, now(), 'test: exchange refused')`, [first[0]!.order_id]);
    const second = await scan();
    expect(second[0]).toMatchObject({ outcome: 'exit_created', exit_trigger: 'stop_loss' });
    expect(second[0]!.client_order_id).toBe((await db.pool.query(`select kapitaal.order__client_id('exit', $1, 'attempt:2') id`, [pos])).rows[0].id);
  });

  it('holds inside the thresholds (returned, not stored)', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'EXD/USD');
    await putState(db.pool, run, 'EXD/USD', { mid: '100.5' });
    const pos = await openPosition(run, 'EXD/USD');
    expect(await scan()).toEqual([expect.objectContaining({ position_id: pos, outcome: 'hold', order_id: null })]);
    expect((await db.pool.query(`select count(*)::int n from kapitaal.exit_scan_decisions where position_id = $1`, [pos])).rows[0].n).toBe(0);
  });

  it('skips a stale mark, a missing mark and unknown pair limits, with the reason', async () => {
    const run = newRun();
    await putState(db.pool, run, 'EXE/USD', { mid: '90', refreshed_at: ago(31) }); // 31 s > 30 s
    const stale = await openPosition(run, 'EXE/USD');
    const nomark = await openPosition(run, 'EXF/USD'); // no state at all
    await putState(db.pool, run, 'EXG/USD', { mid: '90' }); // stop loss, but no run_pairs row
    const nopair = await openPosition(run, 'EXG/USD');
    const rows = await scan();
    const by = (p: string) => rows.find((r) => r.position_id === p)!;
    expect(by(stale)).toMatchObject({ outcome: 'stale_mark', order_id: null });
    expect(by(stale).reason).toMatch(/^STALE_MARK: newest state of EXE\/USD .* refreshed 00:00:31 ago > 00:00:30/);
    expect(by(nomark)).toMatchObject({ outcome: 'no_mark' });
    expect(by(nopair)).toMatchObject({ outcome: 'unknown_pair', exit_trigger: 'stop_loss' });
    expect((await db.pool.query(`select count(*)::int n from kapitaal.orders where position_id in ($1, $2, $3) and purpose = 'exit'`, [stale, nomark, nopair])).rows[0].n).toBe(0);
  });
});
