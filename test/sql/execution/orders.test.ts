// DB-first order intents: the intent and its submit job are written in one transaction, idempotently by
// client order id; exits are guarded against doubling.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { backendPid, waitUntilBlocked } from '../../support/locks.ts';
import { T0, cid, failing, fill, intent, openEntry } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const jobsFor = async (q: { query: TestDatabase['pool']['query'] }, orderId: string) =>
  (
    await q.query<{ task_identifier: string; key: string; max_attempts: number; payload: { order_id: number } }>(
      `select j.task_identifier, j.key, j.max_attempts, pj.payload
         from graphile_worker.jobs j join graphile_worker._private_jobs pj on pj.id = j.id
        where j.key = 'order__submit:' || $1`,
      [orderId],
    )
  ).rows;

describe('order__create_intent', () => {
  it('writes the intent, its creation event and its submit job', async () => {
    await db.rollback(async (c) => {
      const i = await intent(c, { evaluationId: 41, generationId: 7, reason: 'momentum top-1' });
      expect(i).toMatchObject({ status: 'new', created: true });
      const jobs = await jobsFor(c, i.order_id);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ task_identifier: 'order__submit', max_attempts: 25 });
      expect(String(jobs[0]!.payload.order_id)).toBe(i.order_id);
      expect(Number(i.job_id)).toBeGreaterThan(0);
      const ev = await c.query(`select from_status, to_status, note, data from order_events where order_id = $1`, [i.order_id]);
      expect(ev.rows).toEqual([
        { from_status: null, to_status: 'new', note: 'intent: momentum top-1', data: { evaluation_id: 41, generation_id: 7 } },
      ]);
      const o = await c.query(`select generation_id, evaluation_id, reference_price from orders where order_id = $1`, [i.order_id]);
      expect(o.rows[0]).toEqual({ generation_id: '7', evaluation_id: '41', reference_price: '100' });
    });
  });

  it('leaves neither order nor job when the transaction rolls back', async () => {
    const id = cid('rb');
    let orderId = '';
    await db.rollback(async (c) => {
      orderId = (await intent(c, { clientOrderId: id })).order_id;
      expect(await jobsFor(c, orderId)).toHaveLength(1);
    });
    expect((await db.pool.query(`select 1 from orders where client_order_id = $1`, [id])).rowCount).toBe(0);
    expect(await jobsFor(db.pool, orderId)).toHaveLength(0);
  });

  it('commits order and job together', async () => {
    const id = cid('cm');
    const c = await db.client();
    await c.query('begin');
    const i = await intent(c, { clientOrderId: id });
    // Not visible to others before commit, both visible after.
    expect((await db.pool.query(`select 1 from orders where client_order_id = $1`, [id])).rowCount).toBe(0);
    expect(await jobsFor(db.pool, i.order_id)).toHaveLength(0);
    await c.query('commit');
    expect((await db.pool.query(`select 1 from orders where client_order_id = $1`, [id])).rowCount).toBe(1);
    expect(await jobsFor(db.pool, i.order_id)).toHaveLength(1);
  });

  it('is idempotent by client order id: the second call returns the order and queues nothing', async () => {
    await db.rollback(async (c) => {
      const id = cid('idem');
      const first = await intent(c, { clientOrderId: id });
      const second = await intent(c, { clientOrderId: id, now: '2026-03-01T12:05:00Z' });
      expect(second).toMatchObject({ order_id: first.order_id, created: false, job_id: null, status: 'new' });
      expect(await jobsFor(c, first.order_id)).toHaveLength(1);
      const n = await c.query(`select count(*)::int as n from order_events where order_id = $1`, [first.order_id]);
      expect(n.rows[0].n).toBe(1);
      // Even after the order moved on, a replayed intent returns it unchanged.
      await c.query(`select order__begin_submit($1)`, [first.order_id]);
      expect(await intent(c, { clientOrderId: id })).toMatchObject({ order_id: first.order_id, status: 'submitting', created: false });
    });
  });

  it('refuses the same client order id for different terms', async () => {
    await db.rollback(async (c) => {
      const id = cid('clash');
      await intent(c, { clientOrderId: id, qty: '1' });
      const e = await failing(c, `select * from order__create_intent(p_client_order_id => $1, p_run_id => 1, p_symbol => 'BTC/USD',
        p_side => 'buy', p_order_type => 'limit', p_qty => 2, p_price => 100, p_strategy => 'momentum', p_purpose => 'entry',
        p_reason => 'x')`, [id]);
      expect(e.message).toMatch(/already belongs to order/);
    });
  });

  it('two concurrent intents with one client id create one order and one job', async () => {
    const id = cid('race');
    const a = await db.client();
    const b = await db.client();
    const pidB = await backendPid(b);
    await a.query('begin');
    await b.query('begin');
    const ia = await intent(a, { clientOrderId: id });
    const pending = intent(b, { clientOrderId: id }); // blocks on the unique index until a commits
    await waitUntilBlocked(db.pool, pidB);
    await a.query('commit');
    const ib = await pending;
    await b.query('commit');
    expect(ia.created).toBe(true);
    expect(ib).toMatchObject({ order_id: ia.order_id, created: false });
    expect((await db.pool.query(`select count(*)::int as n from orders where client_order_id = $1`, [id])).rows[0].n).toBe(1);
    expect(await jobsFor(db.pool, ia.order_id)).toHaveLength(1);
  });

  it('derives deterministic, Kraken-valid client order ids', async () => {
    const { rows } = await db.pool.query(
      `select order__client_id('entry', 42, 'a') as a, order__client_id('entry', 42, 'a') as b,
              order__client_id('entry', 42, 'b') as c, order__client_id('exit', 42, 'a') as d`,
    );
    expect(rows[0].a).toBe(rows[0].b);
    expect(new Set([rows[0].a, rows[0].c, rows[0].d]).size).toBe(3);
    expect(rows[0].a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await db.rollback(async (c) => {
      expect((await intent(c, { clientOrderId: rows[0].a })).created).toBe(true);
      const e = await failing(c, `select * from order__create_intent(p_client_order_id => 'this id is far too long for kraken',
        p_run_id => 1, p_symbol => 'BTC/USD', p_side => 'buy', p_order_type => 'limit', p_qty => 1, p_price => 100,
        p_strategy => 'momentum', p_purpose => 'entry', p_reason => 'x')`);
      expect(e.message).toMatch(/orders_client_order_id_check/);
    });
  });

  it('checks the order terms: long only, limit has a price, market has a reference price, reason given', async () => {
    await db.rollback(async (c) => {
      const base = `p_run_id => 1, p_symbol => 'BTC/USD', p_strategy => 'momentum', p_qty => 1`;
      const cases: [string, RegExp][] = [
        [`p_side => 'sell', p_order_type => 'limit', p_price => 100, p_purpose => 'entry', p_reason => 'x'`, /orders_long_only/],
        [`p_side => 'buy', p_order_type => 'limit', p_price => null, p_purpose => 'entry', p_reason => 'x'`, /orders_price_by_type|reference_price/],
        [`p_side => 'buy', p_order_type => 'market', p_price => null, p_purpose => 'entry', p_reason => 'x'`, /reference_price/],
        [`p_side => 'buy', p_order_type => 'market', p_price => null, p_reference_price => 100, p_post_only => true, p_purpose => 'entry', p_reason => 'x'`, /orders_post_only_is_limit/],
        [`p_side => 'buy', p_order_type => 'limit', p_price => 100, p_purpose => 'entry', p_reason => ' '`, /orders_reason_check/],
      ];
      for (const [args, re] of cases) {
        const e = await failing(c, `select * from order__create_intent(p_client_order_id => $1, ${base}, ${args})`, [cid('bad')]);
        expect(e.message).toMatch(re);
      }
      const m = await c.query(`select * from order__create_intent(p_client_order_id => $1, ${base}, p_side => 'buy',
        p_order_type => 'market', p_price => null, p_reference_price => 101.5, p_purpose => 'entry', p_reason => 'taker')`, [cid('mkt')]);
      expect(m.rows[0].created).toBe(true);
      expect((await c.query(`select count(*)::int as n from orders where client_order_id like 'bad%'`)).rows[0].n).toBe(0);
    });
  });

  it('allows one exit in flight per position, of at most its quantity, for its own key', async () => {
    await db.rollback(async (c) => {
      const entry = await openEntry(c, { qty: '2' });
      const f = await fill(c, entry, cid('tr'), '100', '2', '0.5');
      const pos = f.position_id!;
      const exit = (o: object) => intent(c, { purpose: 'exit', positionId: pos, qty: '2', price: '98', ...o });
      expect((await failing(c, `select * from order__create_intent(p_client_order_id => 'x1', p_run_id => 1,
        p_symbol => 'BTC/USD', p_side => 'sell', p_order_type => 'limit', p_qty => 3, p_price => 98, p_strategy => 'momentum',
        p_purpose => 'exit', p_reason => 'x', p_exit_trigger => 'stop_loss', p_position_id => $1)`, [pos])).message).toMatch(/exceeds position/);
      expect((await failing(c, `select * from order__create_intent(p_client_order_id => 'x2', p_run_id => 1,
        p_symbol => 'ETH/USD', p_side => 'sell', p_order_type => 'limit', p_qty => 1, p_price => 98, p_strategy => 'momentum',
        p_purpose => 'exit', p_reason => 'x', p_exit_trigger => 'stop_loss', p_position_id => $1)`, [pos])).message).toMatch(/does not match position/);
      const first = await exit({ clientOrderId: cid('ex') });
      expect(first.created).toBe(true);
      expect((await failing(c, `select * from order__create_intent(p_client_order_id => 'x3', p_run_id => 1,
        p_symbol => 'BTC/USD', p_side => 'sell', p_order_type => 'limit', p_qty => 2, p_price => 98, p_strategy => 'momentum',
        p_purpose => 'exit', p_reason => 'x', p_exit_trigger => 'take_profit', p_position_id => $1)`, [pos])).message).toMatch(/already has exit order/);
      // Once the first exit is finished, another may follow.
      await c.query(`select order__transition($1, 'rejected', null, null, $2)`, [first.order_id, T0]);
      expect((await exit({ clientOrderId: cid('ex') })).created).toBe(true);
    });
  });
});
