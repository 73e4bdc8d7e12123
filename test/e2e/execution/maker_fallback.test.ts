// Maker fallback: a post-only entry still unfilled after order_policy.maker_wait is cancelled; it falls
// back to a taker order only when the edge recomputed from current state still pays the taker fee.
import { beforeAll, describe, expect, it } from 'vitest';
import { reconcileOrders } from '../../../src/execution/reconcile.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { NOW, ago, newRun, putPair, putState } from '../../sql/orders/support.ts';
import { rangeDip } from '../../sql/strategy/support.ts';
import { FakeExchange } from './fake-exchange.ts';
import { useExecution } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

/** A post-only entry at the bid, acknowledged `ageSec` seconds before NOW. */
async function makerEntry(runId: number, symbol: string, ageSec: number, fx?: FakeExchange): Promise<number> {
  const { rows } = await db.pool.query(
    `select order_id, client_order_id from kapitaal.order__create_intent(
       p_client_order_id => kapitaal.order__client_id('entry', $1, 'maker'), p_run_id => $2, p_symbol => $3,
       p_side => 'buy', p_order_type => 'limit', p_qty => 0.5, p_price => 99.99, p_strategy => 'liquidity',
       p_purpose => 'entry', p_reason => 'maker test', p_generation_id => 4242, p_post_only => true,
       p_regime => 'RANGE', p_now => $4::timestamptz)`,
    [runId, runId, symbol, ago(ageSec)],
  );
  const id = Number(rows[0].order_id);
  let txid = `OM-${id}-${runId}`;
  if (fx) {
    const accepted = await fx.addOrder({ clientOrderId: rows[0].client_order_id, symbol, side: 'buy', orderType: 'limit', price: '99.99', qty: '0.5', postOnly: true });
    txid = accepted.exchangeOrderId;
  }
  await db.pool.query(`select kapitaal.order__begin_submit($1, $2::timestamptz)`, [id, ago(ageSec)]);
  await db.pool.query(`select kapitaal.order__transition($1, 'open', $2, null, $3::timestamptz)`, [id, txid, ago(ageSec)]);
  return id;
}

async function decide(orderId: number, now = NOW) {
  const { rows } = await db.pool.query(`select * from kapitaal.order__maker_fallback_decision($1, $2::timestamptz)`, [orderId, now]);
  return rows[0] as { action: string; reason: string; details: any };
}

describe('order__maker_fallback_decision', () => {
  it('waits while the maker entry is younger than maker_wait (30 s)', async () => {
    const run = newRun();
    await putState(db.pool, run, 'AAA/USD', rangeDip);
    const id = await makerEntry(run, 'AAA/USD', 10);
    expect(await decide(id)).toMatchObject({ action: 'wait' });
    expect((await decide(id, ago(-20))).action).not.toBe('wait'); // 30 s old: the wait is over (inclusive)
  });

  it('falls back to taker when the recomputed edge still pays the taker fee on both legs', async () => {
    const run = newRun();
    await putState(db.pool, run, 'AAA/USD', rangeDip);
    const id = await makerEntry(run, 'AAA/USD', 60);
    const d = await decide(id);
    expect(d.action).toBe('cancel_and_taker');
    expect(d.reason).toMatch(/^MAKER_FALLBACK_TAKER: /);
    // The arithmetic, exactly: move - (ask - mid)/mid - exit cost - 2 x taker fee - adverse selection.
    const x = d.details;
    const net = Number(x.expected_move_bps) - Number(x.taker_entry_cost_bps) - Number(x.exit_cost_bps) - Number(x.taker_fee_bps) - Number(x.adverse_selection_bps);
    expect(Number(x.taker_net_edge_bps)).toBeCloseTo(net, 6);
    expect(Number(x.taker_fee_bps)).toBe(80);
    expect(Number(x.taker_entry_cost_bps)).toBe(1); // ask 100.01 vs mid 100
  });

  it('only cancels when the edge no longer pays the taker fee', async () => {
    const run = newRun();
    await putState(db.pool, run, 'AAA/USD'); // no signal any more: expected move 0
    const id = await makerEntry(run, 'AAA/USD', 60);
    const d = await decide(id);
    expect(d.action).toBe('cancel');
    expect(d.reason).toMatch(/^MAKER_FALLBACK_CANCEL: .*does not pay the taker fee/);
    expect(Number(d.details.taker_net_edge_bps)).toBeLessThanOrEqual(0);
  });

  it('only cancels when the taker fallback is disabled by policy', async () => {
    const run = newRun();
    await putState(db.pool, run, 'AAA/USD', rangeDip);
    const id = await makerEntry(run, 'AAA/USD', 60);
    await db.pool.query(`insert into kapitaal.order_policy (strategy, maker_fallback_to_taker) values ('liquidity', false)`);
    try {
      expect(await decide(id)).toMatchObject({ action: 'cancel' });
    } finally {
      await db.pool.query(`delete from kapitaal.order_policy where strategy = 'liquidity'`);
    }
  });
});

describe('order__reconcile with the maker fallback', () => {
  it('cancels the expired maker entry on the exchange and writes one taker intent for the rest', async () => {
    const run = newRun();
    await putState(db.pool, run, 'BBB/USD', rangeDip);
    await putPair(db.pool, run, 'BBB/USD');
    const fx = new FakeExchange();
    const ex = useExecution(fx, { now: () => new Date(NOW) });
    const id = await makerEntry(run, 'BBB/USD', 60, fx);

    const txid = (await db.pool.query(`select exchange_order_id from kapitaal.orders where order_id = $1`, [id])).rows[0].exchange_order_id;
    const cancelsOfThis = () => fx.calls.filter((c) => c.method === 'cancelOrder' && (c.arg as { exchangeOrderId?: string }).exchangeOrderId === txid).length;
    const r = await reconcileOrders(db.pool, ex.ctx);
    expect(cancelsOfThis()).toBe(1);
    expect(r.fallbacks.filter((f) => f.orderId === id)).toEqual([expect.objectContaining({ orderId: id, action: 'taker' })]);
    const { rows: [maker] } = await db.pool.query(`select status from kapitaal.orders where order_id = $1`, [id]);
    expect(maker.status).toBe('cancelled');
    const { rows: [taker] } = await db.pool.query(`select * from kapitaal.orders where order_id = $1`, [r.fallbacks.find((f) => f.orderId === id)!.fallbackOrderId]);
    expect(taker).toMatchObject({ status: 'new', order_type: 'market', post_only: false, side: 'buy', qty: '0.5', reference_price: '100.01', purpose: 'entry' });
    expect(taker.reason).toMatch(new RegExp(`^taker fallback of maker order ${id}: MAKER_FALLBACK_TAKER`));
    expect((await db.pool.query(`select key from graphile_worker.jobs where key = $1`, [`order__submit:${taker.order_id}`])).rowCount).toBe(1);

    // A second reconcile changes nothing: one fallback per maker order.
    const again = await reconcileOrders(db.pool, ex.ctx);
    expect(again.fallbacks.filter((f) => f.orderId === id)).toEqual([]);
    expect(cancelsOfThis()).toBe(1);
    expect((await db.pool.query(`select count(*)::int n from kapitaal.maker_fallbacks where order_id = $1`, [id])).rows[0].n).toBe(1);
    expect(ex.markers()).toContain('MAKER_FALLBACK');
  });

  it('cancels without a taker order when the edge no longer pays, and says why', async () => {
    const run = newRun();
    await putState(db.pool, run, 'CCC/USD');
    await putPair(db.pool, run, 'CCC/USD');
    const fx = new FakeExchange();
    const ex = useExecution(fx, { now: () => new Date(NOW) });
    const id = await makerEntry(run, 'CCC/USD', 60, fx);
    const r = await reconcileOrders(db.pool, ex.ctx);
    expect(r.fallbacks.filter((f) => f.orderId === id)).toEqual([expect.objectContaining({ orderId: id, action: 'cancel', fallbackOrderId: null })]);
    const { rows: [m] } = await db.pool.query(`select * from kapitaal.maker_fallbacks where order_id = $1`, [id]);
    expect(m.reason).toMatch(/^MAKER_FALLBACK_CANCEL/);
  });
});
