// evaluation__place_orders: top-1 -> size -> limits -> intent (+ submit job) in the caller's
// transaction, deterministic client id, and a recorded reason whenever nothing is placed.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { logPlacement } from '../../../src/execution/placement.ts';
import { captureLog } from '../../e2e/decision/support.ts';
import { NOW, newRun, place, putEvaluation, putPair, putRanking } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});
// Every test starts with no working entries (they reserve capital for their symbol and in total).
beforeEach(async () => {
  await db.pool.query(`select kapitaal.order__transition(order_id, 'cancelled', null, null, now(), 'test reset') from kapitaal.orders where status = 'new'`);
});

describe('evaluation__place_orders', () => {
  it('places the top-1 as a sized, conformed intent with its submit job, in the same transaction', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'AAA/USD');
    const e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run, { entry_price: '99.99' });
    const c = await db.client();
    await c.query('begin');
    const p = await place(c, e, run);
    expect(p).toMatchObject({ outcome: 'placed', marker: 'ORDER_INTENT_CREATED' });
    // Not visible outside the evaluation's transaction until it commits: intent and job together.
    expect((await db.pool.query(`select count(*)::int n from kapitaal.orders where evaluation_id = $1`, [e])).rows[0].n).toBe(0);
    await c.query('commit');
    const { rows: [o] } = await db.pool.query(`select * from kapitaal.orders where order_id = $1`, [p.order_id]);
    // fixed equity 220 x 25 % = 55 quote at 99.99, rounded down to the lot
    expect(o).toMatchObject({
      status: 'new', side: 'buy', order_type: 'limit', post_only: true, price: '99.99', qty: '0.550055',
      strategy: 'liquidity', purpose: 'entry', evaluation_id: String(e), generation_id: '4242', regime: 'RANGE',
    });
    expect(o.client_order_id).toBe((await db.pool.query(`select kapitaal.order__client_id('entry', $1, '0') id`, [e])).rows[0].id);
    expect(o.reason).toMatch(/^liquidity limit entry on AAA\/USD \(RANGE\): selected: .* size 55(\.0+)? quote \(ok_position_cap\)/);
    const jobs = await db.pool.query(`select key from graphile_worker.jobs where task_identifier = 'order__submit' and key = $1`, [`order__submit:${o.order_id}`]);
    expect(jobs.rows).toEqual([{ key: `order__submit:${o.order_id}` }]);
    const payload = await db.pool.query(`select payload from graphile_worker._private_jobs where key = $1`, [`order__submit:${o.order_id}`]);
    expect(payload.rows[0].payload).toEqual({ order_id: Number(o.order_id) });
    expect(p.details.sizing.reason).toBe('ok_position_cap');
    expect(p.details.conformed.ok).toBe(true);
  });

  it('is idempotent: the same evaluation never creates a second order (nor a second decision)', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'AAA/USD');
    const e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run);
    const a = await place(db.pool, e, run);
    const b = await place(db.pool, e, run);
    const viaHook = (await db.pool.query(`select (kapitaal.evaluation__place_orders($1::bigint)).*`, [e])).rows[0];
    expect(b).toEqual(a);
    expect(viaHook.order_id).toBe(a.order_id);
    expect((await db.pool.query(`select count(*)::int n from kapitaal.orders where evaluation_id = $1`, [e])).rows[0].n).toBe(1);
  });

  it('records why nothing was placed: unknown pair, pair not tradable, below minimum, no candidate, no room', async () => {
    const run = newRun();
    // unknown pair
    let e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run, { symbol: 'ZZZ/USD' });
    let p = await place(db.pool, e, run);
    expect(p).toMatchObject({ outcome: 'unknown_pair', marker: 'ORDER_LIMITS_REJECTED', order_id: null });
    expect(p.reason).toMatch(/^UNKNOWN_PAIR: ZZZ\/USD has no run_pairs row for run \d+/);

    // pair in cancel_only
    await putPair(db.pool, run, 'CCC/USD', { status: 'cancel_only' });
    e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run, { symbol: 'CCC/USD' });
    p = await place(db.pool, e, run);
    expect(p).toMatchObject({ outcome: 'pair_not_tradable' });
    expect(p.reason).toMatch(/cancel_only/);

    // below the pair's minimum cost
    await putPair(db.pool, run, 'BIG/USD', { costMin: '100' });
    e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run, { symbol: 'BIG/USD' });
    p = await place(db.pool, e, run);
    expect(p).toMatchObject({ outcome: 'below_minimum', marker: 'ORDER_LIMITS_REJECTED' });
    expect(p.reason).toMatch(/^LIMITS_BELOW_MIN_COST: /);

    // no selected proposal
    e = await putEvaluation(db.pool, run);
    p = await place(db.pool, e, run);
    expect(p).toMatchObject({ outcome: 'no_candidate' });

    // no room: the symbol already holds its cap in working entries
    await putPair(db.pool, run, 'AAA/USD');
    const e1 = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e1, run, { entry_price: '100.00' }); // 55 quote exactly: nothing left
    expect((await place(db.pool, e1, run)).outcome).toBe('placed');
    e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run, { entry_price: '100.00' });
    p = await place(db.pool, e, run);
    expect(p).toMatchObject({ outcome: 'no_room', marker: 'CAPITAL_NO_ROOM', order_id: null });
    expect(p.reason).toMatch(/^NO_ROOM: position_cap_reached/);
    expect((await db.pool.query(`select count(*)::int n from kapitaal.orders where evaluation_id = $1`, [e])).rows[0].n).toBe(0);
  });

  it('places nothing while entries are halted (kill switch), says why, and places again once it is lifted', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'HLT/USD');
    const c = await db.client();
    await c.query('begin');
    try {
      await c.query(`update kapitaal.capital_policy set entries_enabled = false where account = 'default'`);
      const e = await putEvaluation(c, run);
      await putRanking(c, e, run, { symbol: 'HLT/USD' });
      const p = await place(c, e, run);
      expect(p).toMatchObject({ outcome: 'halted', marker: 'ENTRIES_HALTED', order_id: null });
      expect(p.reason).toBe('ENTRIES_DISABLED: capital_policy.entries_enabled is false for account default (exits go on)');
      expect(p.details.halt).toMatchObject({ halted: true });
      await c.query(`update kapitaal.capital_policy set entries_enabled = true where account = 'default'`);
      const e2 = await putEvaluation(c, run);
      await putRanking(c, e2, run, { symbol: 'HLT/USD' });
      expect((await place(c, e2, run)).outcome).toBe('placed');
    } finally {
      await c.query('rollback');
    }
  });

  it('places nothing while the exchange balances persistently disagree with the ledger (BALANCE_DRIFT), again after a rebaseline', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'BDR/USD');
    const c = await db.client();
    await c.query('begin');
    try {
      const t = (s: number) => new Date(Date.parse(NOW) + s * 1000).toISOString();
      // Three snapshots after the baseline, each 50 USD short of what the (empty) ledger expects.
      for (const [s, usd] of [[-40, '1000'], [-30, '950'], [-20, '950'], [-10, '950']] as const) {
        await c.query(`select kapitaal.balance__record('default', $1::jsonb, 'test:Balance', $2)`, [JSON.stringify({ USD: usd }), t(s)]);
      }
      const e = await putEvaluation(c, run);
      await putRanking(c, e, run, { symbol: 'BDR/USD' });
      const p = await place(c, e, run);
      expect(p).toMatchObject({ outcome: 'halted', marker: 'ENTRIES_HALTED', order_id: null });
      expect(p.reason).toMatch(/^BALANCE_DRIFT: .*USD actual 950, expected 1000 \(drift -50, /);
      await c.query(`select kapitaal.balance__rebaseline('default', 'withdrawal of 50 USD', $1)`, [t(-5)]);
      await c.query(`select kapitaal.balance__record('default', '{"USD": "950"}'::jsonb, 'test:Balance', $1)`, [t(-1)]);
      const e2 = await putEvaluation(c, run);
      await putRanking(c, e2, run, { symbol: 'BDR/USD' });
      expect((await place(c, e2, run)).outcome).toBe('placed');
    } finally {
      await c.query('rollback');
    }
  });

  it('calls dust left of a used cap what it is: no room, not a limits failure', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'DST/USD');
    const e1 = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e1, run, { symbol: 'DST/USD', entry_price: '99.99' }); // 55 quote -> 0.550055, lot-rounded
    expect((await place(db.pool, e1, run)).outcome).toBe('placed');
    const e2 = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e2, run, { symbol: 'DST/USD', entry_price: '99.99' });
    const p = await place(db.pool, e2, run);
    expect(p).toMatchObject({ outcome: 'no_room', marker: 'CAPITAL_NO_ROOM', order_id: null });
    expect(p.reason).toMatch(/^NO_ROOM: position cap nearly reached for DST\/USD: 0\.0000\d+ quote left \(exposure in the symbol 54\.99\d+/);
    expect(p.details.sizing.reason).toBe('ok_position_cap');
  });

  it('market entries carry the reference price and no limit price', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'MOM/USD');
    const e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run, { symbol: 'MOM/USD', strategy: 'momentum', entry_price: '100.01' });
    const p = await place(db.pool, e, run);
    const { rows: [o] } = await db.pool.query(`select order_type, price, reference_price, post_only from kapitaal.orders where order_id = $1`, [p.order_id]);
    expect(o).toEqual({ order_type: 'market', price: null, reference_price: '100.01', post_only: false });
  });
});

describe('logPlacement', () => {
  it('warns once per run of identical refusals, counts the repeats at the next change, and marks every placement', async () => {
    const run = newRun();
    await putPair(db.pool, run, 'BIG/USD', { costMin: '100' });
    await putPair(db.pool, run, 'MOM/USD');
    const cap = captureLog();
    const refused = async () => {
      const e = await putEvaluation(db.pool, run);
      await putRanking(db.pool, e, run, { symbol: 'BIG/USD' });
      await place(db.pool, e, run);
      return logPlacement(db.pool, e, cap.log);
    };
    for (let i = 0; i < 4; i++) expect((await refused())!.outcome).toBe('below_minimum');
    const e = await putEvaluation(db.pool, run);
    await putRanking(db.pool, e, run, { symbol: 'MOM/USD', strategy: 'momentum', entry_price: '100.01' });
    await place(db.pool, e, run);
    expect((await logPlacement(db.pool, e, cap.log))!.outcome).toBe('placed');
    await refused();
    const seen = cap.lines.map((l) => [l.level, l.marker, l.repeated ?? null]);
    expect(seen).toEqual([
      [40, 'ORDER_LIMITS_REJECTED', null], // first refusal: warn
      [20, 'ORDER_LIMITS_REJECTED', null], [20, 'ORDER_LIMITS_REJECTED', null], [20, 'ORDER_LIMITS_REJECTED', null],
      [30, 'ORDER_LIMITS_REJECTED', 3], // the streak ended: how often it repeated
      [30, 'ORDER_INTENT_CREATED', null],
      [40, 'ORDER_LIMITS_REJECTED', null], // a refusal after a placement is news again
    ]);
  });
});
