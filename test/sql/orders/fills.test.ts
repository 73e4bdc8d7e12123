// fills__ingest / fills__match: the venue's fills land in the inbox together with the cursor, are
// booked once per trade id, wait when their order is not known yet, and a stale poller can never
// move the cursor backwards.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

let n = 0;
async function submittedOrder(txid: string | null): Promise<{ id: string; cl: string }> {
  const { rows: [o] } = await db.pool.query(
    `select order_id, client_order_id from kapitaal.order__create_intent(kapitaal.order__client_id('entry', $1, 'fills'), 1, 'FIL/USD',
       'buy', 'limit', 1, 10, 'liquidity', 'entry', 'fills test')`, [++n]);
  await db.pool.query(`select kapitaal.order__begin_submit($1)`, [o.order_id]);
  if (txid) await db.pool.query(`select kapitaal.order__transition($1, 'open', $2)`, [o.order_id, txid]);
  return { id: String(o.order_id), cl: o.client_order_id };
}

const fill = (tradeId: string, exchangeOrderId: string, clientOrderId: string | null, qty = '0.5') => ({
  tradeId, exchangeOrderId, clientOrderId, symbol: 'FIL/USD', side: 'buy', price: '10', qty, cost: String(10 * Number(qty)),
  fee: '0.0125', liquidity: 'maker', time: '2026-01-01T12:00:00.000Z',
});

async function ingest(venue: string, fills: unknown[], prev: string | null, next: string) {
  const { rows } = await db.pool.query(`select * from kapitaal.fills__ingest($1, 'paper', $2::jsonb, $3, $4)`, [venue, JSON.stringify(fills), prev, next]);
  return rows[0] as { stored: number; duplicates: number; cursor_advanced: boolean };
}
async function match() {
  const { rows } = await db.pool.query(`select * from kapitaal.fills__match('paper', 100, 0)`);
  return rows as { trade_id: string; order_id: string | null; outcome: string; note: string | null }[];
}
const cursorOf = async (venue: string) => (await db.pool.query(`select cursor from kapitaal.exchange_fill_cursors where venue = $1`, [venue])).rows[0]?.cursor;

describe('fills__ingest and fills__match', () => {
  it('books each trade once; a replayed page stores nothing and books nothing', async () => {
    const o = await submittedOrder('OF-1');
    expect(await ingest('v1', [fill('TF-1', 'OF-1', o.cl), fill('TF-2', 'OF-1', o.cl)], null, '2')).toEqual({ stored: 2, duplicates: 0, cursor_advanced: true });
    expect((await match()).map((m) => [m.trade_id, m.outcome])).toEqual([['TF-1', 'recorded'], ['TF-2', 'recorded']]);
    expect(await cursorOf('v1')).toBe('2');
    // the same page again (e.g. a crash before the cursor was stored elsewhere): nothing new
    expect(await ingest('v1', [fill('TF-1', 'OF-1', o.cl), fill('TF-2', 'OF-1', o.cl)], '2', '2')).toMatchObject({ stored: 0, duplicates: 2 });
    expect(await match()).toEqual([]);
    const { rows: [ord] } = await db.pool.query(`select status, filled_qty from kapitaal.orders where order_id = $1`, [o.id]);
    expect(ord).toEqual({ status: 'filled', filled_qty: '1.0' });
    expect((await db.pool.query(`select count(*)::int n from kapitaal.fills where order_id = $1`, [o.id])).rows[0].n).toBe(2);
  });

  it('matches by client order id when the txid is not stored yet, and learns the txid', async () => {
    const o = await submittedOrder(null); // answer lost: still submitting, no txid
    await ingest('v2', [fill('TF-3', 'OF-LOST', o.cl, '1')], null, '1');
    expect((await match())[0]).toMatchObject({ trade_id: 'TF-3', order_id: o.id, outcome: 'recorded' });
    const { rows: [ord] } = await db.pool.query(`select status, exchange_order_id from kapitaal.orders where order_id = $1`, [o.id]);
    expect(ord).toEqual({ status: 'filled', exchange_order_id: 'OF-LOST' });
  });

  it('keeps a fill of an unknown order in the inbox until its order is known', async () => {
    await ingest('v3', [fill('TF-4', 'OF-LATER', null)], null, '1');
    expect((await match())[0]).toMatchObject({ trade_id: 'TF-4', outcome: 'unmatched', order_id: null });
    const o = await submittedOrder('OF-LATER');
    expect((await match())[0]).toMatchObject({ trade_id: 'TF-4', outcome: 'recorded', order_id: o.id });
  });

  it('a stale poller stores its fills but cannot move the cursor', async () => {
    const o = await submittedOrder('OF-5');
    await ingest('v4', [fill('TF-5', 'OF-5', o.cl)], null, '5');
    const stale = await ingest('v4', [fill('TF-5', 'OF-5', o.cl), fill('TF-6', 'OF-5', o.cl)], null, '3');
    expect(stale).toMatchObject({ stored: 1, cursor_advanced: false });
    expect(await cursorOf('v4')).toBe('5');
  });

  it('a fill for a rejected order is kept with its error and does not stop the others', async () => {
    const bad = await submittedOrder(null);
    await db.pool.query(`select kapitaal.order__transition($1, 'rejected')`, [bad.id]);
    const good = await submittedOrder('OF-7');
    await ingest('v5', [fill('TF-8', 'OF-BAD', bad.cl), fill('TF-9', 'OF-7', good.cl)], null, '9');
    const m = await match();
    expect(m.find((x) => x.trade_id === 'TF-8')).toMatchObject({ outcome: 'error' });
    expect(m.find((x) => x.trade_id === 'TF-9')).toMatchObject({ outcome: 'recorded' });
    const { rows: [inbox] } = await db.pool.query(`select matched_at, last_error from kapitaal.exchange_fill_inbox where trade_id = 'TF-8'`);
    expect(inbox.matched_at).toBeNull();
    expect(inbox.last_error).toMatch(/^55000: /);
  });
});
