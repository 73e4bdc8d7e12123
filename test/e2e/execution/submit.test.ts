// The order__submit path against a scripted exchange: the generation gate at submit time, Kraken's
// rejection text, and an unknown AddOrder outcome that is resolved by querying, never by resending.
import { beforeAll, describe, expect, it } from 'vitest';
import { OrderRejectedError, OutcomeUnknownError } from '../../../src/exchange/errors.ts';
import { SubmitOutcomeUnknown, submitOrder } from '../../../src/execution/submit.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { liveMarket, startRun } from '../decision/support.ts';
import { FakeExchange } from './fake-exchange.ts';
import { useExecution } from './support.ts';

let db: TestDatabase;
let runId: number;
let gen: number;
beforeAll(async () => {
  db = await testDatabase('decision');
  runId = await startRun(db.pool, 0);
  gen = (await liveMarket(db.pool, runId, { symbols: 1 })).generation_id;
});

let n = 0;
async function intent(generationId: number | null, purpose: 'entry' = 'entry'): Promise<number> {
  const { rows } = await db.pool.query(
    `select order_id from kapitaal.order__create_intent(
       p_client_order_id => kapitaal.order__client_id('entry', $1, 'submit'), p_run_id => $2, p_symbol => 'S000/USD',
       p_side => 'buy', p_order_type => 'limit', p_qty => 0.1, p_price => 99.5, p_strategy => 'liquidity',
       p_purpose => $4, p_reason => 'submit test', p_generation_id => $3, p_post_only => true)`,
    [++n, runId, generationId, purpose],
  );
  return Number(rows[0].order_id);
}
const order = async (id: number) => (await db.pool.query(`select * from kapitaal.orders where order_id = $1`, [id])).rows[0];

describe('generation gate at submit time', () => {
  it('sends an entry whose generation is current', async () => {
    const fx = new FakeExchange();
    const ex = useExecution(fx);
    ex.setNow(301);
    const id = await intent(gen);
    const r = await submitOrder(db.pool, id, ex.ctx);
    expect(r).toMatchObject({ action: 'sent', status: 'open' });
    expect(fx.count('addOrder')).toBe(1);
    expect(fx.calls[0]!.arg).toMatchObject({ symbol: 'S000/USD', side: 'buy', orderType: 'limit', price: '99.5', qty: '0.1', postOnly: true });
    expect((await order(id)).exchange_order_id).toBe(`OFAKE-${fx.tag}-1`);
  });

  for (const [name, generation, nowSec, reason] of [
    ['superseded', () => gen - 1, 301, /^GENERATION_SUPERSEDED/],
    ['not visible yet', () => gen + 1, 301, /^GENERATION_NOT_VISIBLE/],
    ['stale', () => gen, 3600, /^GENERATION_STALE/],
  ] as const) {
    it(`blocks an entry whose generation is ${name}: rejected with the reason and a marker, nothing sent`, async () => {
      const fx = new FakeExchange();
      const ex = useExecution(fx);
      ex.setNow(nowSec);
      const id = await intent(generation());
      const r = await submitOrder(db.pool, id, ex.ctx);
      expect(r.action).toBe('blocked');
      expect(r.reason).toMatch(reason);
      expect(fx.calls).toEqual([]);
      const o = await order(id);
      expect(o.status).toBe('rejected');
      const ev = await db.pool.query(`select note, data from kapitaal.order_events where order_id = $1 and to_status = 'rejected'`, [id]);
      expect(ev.rows[0].note).toMatch(/^EXECUTION_BLOCKED_GENERATION_MISMATCH: /);
      expect(ev.rows[0].data.gate.allowed).toBe(false);
      expect(ex.markers()).toContain('EXECUTION_BLOCKED_GENERATION_MISMATCH');
      // A retried job never sends it either.
      expect((await submitOrder(db.pool, id, ex.ctx)).action).toBe('done');
      expect(fx.calls).toEqual([]);
    });
  }
});

describe('exchange answers', () => {
  it("records Kraken's error text when the exchange rejects", async () => {
    const fx = new FakeExchange();
    fx.onAdd = () => {
      throw new OrderRejectedError('AddOrder', 'EOrder:Insufficient funds', 'order_rejected', false, ['EOrder:Insufficient funds']);
    };
    const ex = useExecution(fx);
    ex.setNow(301);
    const id = await intent(gen);
    const r = await submitOrder(db.pool, id, ex.ctx);
    expect(r).toMatchObject({ action: 'rejected', status: 'rejected', reason: 'EOrder:Insufficient funds' });
    const ev = await db.pool.query(`select note from kapitaal.order_events where order_id = $1 and to_status = 'rejected'`, [id]);
    expect(ev.rows[0].note).toBe('exchange rejected: EOrder:Insufficient funds');
    expect(ex.markers()).toContain('ORDER_REJECTED');
  });

  it('an unknown outcome is resolved by querying the client id; the order is never sent twice', async () => {
    const fx = new FakeExchange();
    let hidden = true; // accepted, but the venue does not list it yet
    fx.onAdd = (_req, accept) => {
      accept();
      throw new OutcomeUnknownError('AddOrder', 'socket hang up', 'outcome_unknown', true);
    };
    fx.onQuery = (id) => (hidden ? null : (fx.orders.get(id) ?? null));
    const ex = useExecution(fx);
    ex.setNow(301);
    const id = await intent(gen);
    await expect(submitOrder(db.pool, id, ex.ctx)).rejects.toBeInstanceOf(SubmitOutcomeUnknown);
    expect((await order(id)).status).toBe('submitting');
    expect(fx.count('addOrder')).toBe(1);
    expect(fx.count('queryOrderByClientId')).toBeGreaterThan(1);
    expect(ex.markers()).toContain('ORDER_OUTCOME_UNKNOWN');

    // The job's retry: query first, adopt, no second AddOrder.
    hidden = false;
    const r = await submitOrder(db.pool, id, ex.ctx);
    expect(r).toMatchObject({ action: 'adopted', status: 'open', exchangeOrderId: `OFAKE-${fx.tag}-1` });
    expect(fx.count('addOrder')).toBe(1);
    expect(ex.markers()).toEqual(expect.arrayContaining(['ORDER_SUBMIT_RECOVERY_QUERY', 'ORDER_ADOPTED_FROM_EXCHANGE']));
  });

  it('a retry confirms "no such order" after a pause before it sends again (Kraken may list a new order late)', async () => {
    const fx = new FakeExchange();
    let queries = 0;
    fx.onAdd = (_req, accept) => {
      accept();
      throw new OutcomeUnknownError('AddOrder', 'socket hang up', 'outcome_unknown', true);
    };
    // The venue has the order but lists it only from the 5th query on: the first attempt's three queries and
    // the retry's first one see nothing.
    fx.onQuery = (id) => (++queries <= 4 ? null : (fx.orders.get(id) ?? null));
    const ex = useExecution(fx, { unknownOutcomeBackoffMs: [1, 1], resendConfirmMs: 10 });
    ex.setNow(301);
    const id = await intent(gen);
    await expect(submitOrder(db.pool, id, ex.ctx)).rejects.toBeInstanceOf(SubmitOutcomeUnknown);
    expect(queries).toBe(3);
    const r = await submitOrder(db.pool, id, ex.ctx);
    expect(r).toMatchObject({ action: 'adopted', status: 'open' });
    expect(fx.count('addOrder')).toBe(1); // never sent twice
    expect(queries).toBe(5);
  });

  it('a retry whose query finds nothing sends once; a gate that closed meanwhile withdraws it instead', async () => {
    const fx = new FakeExchange();
    const ex = useExecution(fx, { resendConfirmMs: 1 });
    ex.setNow(301);
    const id = await intent(gen);
    await db.pool.query(`select kapitaal.order__begin_submit($1)`, [id]); // an attempt died before AddOrder
    const r = await submitOrder(db.pool, id, ex.ctx);
    expect(r.action).toBe('sent');
    expect(fx.calls.map((c) => c.method)).toEqual(['queryOrderByClientId', 'queryOrderByClientId', 'addOrder']);

    const id2 = await intent(gen);
    await db.pool.query(`select kapitaal.order__begin_submit($1)`, [id2]);
    ex.setNow(3600); // generation now stale
    const r2 = await submitOrder(db.pool, id2, ex.ctx);
    expect(r2).toMatchObject({ action: 'withdrawn', status: 'cancelled' });
    expect(fx.count('addOrder')).toBe(1);
  });
});
