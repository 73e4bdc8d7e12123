// The lifecycle proof on two clusters: a crafted trending market on the ingest cluster, synced to the
// decision cluster; evaluation -> order intent (evaluation__place_orders in the evaluation's
// transaction) -> order__submit (paper exchange over the ingest cluster's raw book) -> fills__poll ->
// position -> the market falls -> exits__scan -> exit intent -> submit -> fills -> position closed,
// with realised P&L equal to the exchange's fills minus fees, exactly.
import { beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../../src/exchange/decimal.ts';
import type { Fill } from '../../../src/exchange/types.ts';
import { scanExits } from '../../../src/execution/exits.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { evaluate } from '../decision/support.ts';
import { jobsOf, moveMarket, paperExchange, runJobs, syncRunToDecision, trendingMarket, useExecution } from './support.ts';

let ingest: TestDatabase;
let decision: TestDatabase;
beforeAll(async () => {
  [ingest, decision] = await Promise.all([testDatabase('ingest'), testDatabase('decision')]);
});

describe('execution lifecycle (paper exchange, two clusters)', () => {
  it('evaluation -> entry -> fills -> position -> exit trigger -> exit -> fills -> closed, P&L exact', async () => {
    const { runId } = await trendingMarket(ingest.pool);
    const sync = await syncRunToDecision(ingest.pool, decision.pool, runId);
    expect(sync.applied).toBe(true);

    const paper = paperExchange(ingest.pool, runId);
    const ex = useExecution(paper);

    // 1. The evaluation places the top-1 candidate in its own transaction.
    const e = await evaluate(decision.pool, 301, runId);
    expect(e.outcome).toBe('candidates');
    const { rows: [placement] } = await decision.pool.query(`select * from kapitaal.evaluation_placements where evaluation_id = $1`, [e.evaluation_id]);
    expect(placement).toMatchObject({ outcome: 'placed', marker: 'ORDER_INTENT_CREATED', symbol: 'TRN/USD', strategy: 'momentum' });
    const entryId = Number(placement.order_id);
    const { rows: [intent] } = await decision.pool.query(`select * from kapitaal.orders where order_id = $1`, [entryId]);
    expect(intent).toMatchObject({ status: 'new', side: 'buy', order_type: 'market', purpose: 'entry', evaluation_id: String(e.evaluation_id) });
    expect(intent.client_order_id).toBe(
      (await decision.pool.query(`select kapitaal.order__client_id('entry', $1, '0') as id`, [e.evaluation_id])).rows[0].id,
    );
    expect(await jobsOf(decision.pool, 'order__submit')).toEqual([expect.objectContaining({ key: `order__submit:${entryId}` })]);
    // Placing the same evaluation again changes nothing.
    await decision.pool.query(`select kapitaal.evaluation__place_orders($1)`, [e.evaluation_id]);
    expect((await decision.pool.query(`select count(*)::int n from kapitaal.orders`)).rows[0].n).toBe(1);

    // 2. Submit (the real task through Graphile Worker), then the fills poll it queued.
    ex.setNow(302);
    await runJobs(decision.pool, ['order__submit', 'fills__poll']);
    const { rows: [entry] } = await decision.pool.query(`select * from kapitaal.orders where order_id = $1`, [entryId]);
    expect(entry.status).toBe('filled');
    expect(entry.exchange_order_id).toMatch(/./);
    expect(ex.markers()).toEqual(expect.arrayContaining(['ORDER_SUBMITTED', 'FILL_RECORDED']));
    const { rows: [pos] } = await decision.pool.query(`select * from kapitaal.positions where entry_order_id = $1`, [entryId]);
    expect(pos.closed_at).toBeNull();
    expect(pos.qty).toBe(entry.qty);

    // 3. The market falls ~3 %: stop loss. The exit loop creates one exit, also when it runs twice.
    const entryPx = Number(entry.avg_fill_price);
    await moveMarket(ingest.pool, decision.pool, runId, 'TRN/USD', 300, 359, (i) => entryPx * (1 - 0.0005 * (i + 1)));
    ex.setNow(361);
    const first = await scanExits(decision.pool, ex.ctx);
    expect(first).toEqual([expect.objectContaining({ position_id: String(pos.position_id), outcome: 'exit_created', exit_trigger: 'stop_loss' })]);
    const second = await scanExits(decision.pool, ex.ctx);
    expect(second).toEqual([expect.objectContaining({ outcome: 'in_flight' })]);
    const exitId = Number(first[0]!.order_id);
    const { rows: [exitIntent] } = await decision.pool.query(`select * from kapitaal.orders where order_id = $1`, [exitId]);
    expect(exitIntent).toMatchObject({ purpose: 'exit', side: 'sell', exit_trigger: 'stop_loss', position_id: pos.position_id, qty: pos.qty });
    expect(exitIntent.client_order_id).toBe(
      (await decision.pool.query(`select kapitaal.order__client_id('exit', $1, 'attempt:1') as id`, [pos.position_id])).rows[0].id,
    );

    // 4. Exit submitted and filled: the position is closed.
    ex.setNow(362);
    await runJobs(decision.pool, ['order__submit', 'fills__poll']);
    const { rows: [closed] } = await decision.pool.query(`select * from kapitaal.positions where position_id = $1`, [pos.position_id]);
    expect(closed.closed_at).not.toBeNull();
    expect(closed.qty).toMatch(/^0(\.0+)?$/);
    expect((await decision.pool.query(`select status from kapitaal.orders where order_id = $1`, [exitId])).rows[0].status).toBe('filled');

    // 5. P&L: the exchange's own fills minus fees, to the last decimal.
    const venueFills: Fill[] = (await paper.fillsSince(null)).fills;
    expect(venueFills.length).toBeGreaterThanOrEqual(2);
    let pnl = new Dec(0);
    for (const f of venueFills) pnl = pnl.plus(new Dec(f.cost).times(f.side === 'sell' ? 1 : -1)).minus(new Dec(f.fee));
    expect(new Dec(closed.realised_pnl).eq(pnl)).toBe(true);
    const ledger = await decision.pool.query(`select exchange_trade_id, price::text, qty::text, fee::text from kapitaal.fills order by fill_id`);
    expect(ledger.rows.map((r) => r.exchange_trade_id).sort()).toEqual(venueFills.map((f) => f.tradeId).sort());
    const { rows: [sums] } = await decision.pool.query(
      `select sum(case when side = 'sell' then price * qty else -(price * qty) end) - sum(fee) as pnl from kapitaal.fills_ledger`);
    expect(new Dec(sums.pnl).eq(new Dec(closed.realised_pnl))).toBe(true);
    expect((await decision.pool.query(`select * from kapitaal.positions__verify()`)).rows).toEqual([]);
    expect(pnl.isNegative()).toBe(true); // a stop loss loses money, fees included
  });

  it('the cadence tasks run through Graphile Worker and re-queue themselves; a bad submit payload fails loudly', async () => {
    const paper = paperExchange(ingest.pool, 1);
    const cap = useExecution(paper, { reconcileEverySeconds: 60, exitsEverySeconds: 60, capitalSnapshotEverySeconds: 60 });
    const snapshotsBefore = Number((await decision.pool.query(`select count(*) n from kapitaal.capital_snapshots`)).rows[0].n);
    await decision.pool.query(`select * from kapitaal.execution_jobs__ensure()`);
    await decision.pool.query(`select * from kapitaal.execution_jobs__ensure()`); // twice: still one pending each
    expect(await jobsOf(decision.pool, 'order__reconcile')).toHaveLength(1);
    await runJobs(decision.pool, ['order__reconcile', 'exits__scan', 'capital__snapshot']);
    // The snapshot task wrote one (or said plainly why it could not).
    const snapshotsAfter = Number((await decision.pool.query(`select count(*) n from kapitaal.capital_snapshots`)).rows[0].n);
    const said = cap.markers().filter((m) => m.startsWith('CAPITAL_SNAPSHOT'));
    expect(said).toHaveLength(1);
    expect(snapshotsAfter).toBe(snapshotsBefore + (said[0] === 'CAPITAL_SNAPSHOT' ? 1 : 0));
    for (const task of ['order__reconcile', 'exits__scan', 'capital__snapshot']) {
      const jobs = await jobsOf(decision.pool, task);
      expect(jobs).toEqual([expect.objectContaining({ key: task, attempts: 0 })]);
      expect(new Date(jobs[0].run_at).getTime()).toBeGreaterThan(Date.now() + 30_000);
    }
    const { rows: [bad] } = await decision.pool.query(`select (graphile_worker.add_job('order__submit', '{"order_id": "x"}'::json, max_attempts => 1)).id`);
    await runJobs(decision.pool, ['order__submit']);
    const { rows: [failed] } = await decision.pool.query(`select attempts, last_error from graphile_worker.jobs where id = $1`, [bad.id]);
    expect(failed.attempts).toBe(1);
    expect(failed.last_error).toMatch(/order_id/);
  });
});
