// OrderTracker: transitions validated against order_status_transitions, replays harmless, concurrent
// writers serialised by the row lock, events append-only, submit crash-safety.
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { backendPid, waitUntilBlocked } from '../../support/locks.ts';
import { T0, at, cid, failing, intent, orderRow, transition, type Q } from './helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const STATUSES = ['new', 'submitting', 'open', 'partially_filled', 'filled', 'cancelled', 'rejected', 'expired'];

/** Shortest path of allowed transitions from new to each status (the table under test). */
const PATH: Record<string, string[]> = {
  new: [],
  submitting: ['submitting'],
  open: ['submitting', 'open'],
  partially_filled: ['submitting', 'open', 'partially_filled'],
  filled: ['submitting', 'open', 'filled'],
  cancelled: ['submitting', 'open', 'cancelled'],
  rejected: ['rejected'],
  expired: ['submitting', 'open', 'expired'],
};

/** The allowed transitions, written out independently of the SQL table. */
const ALLOWED = new Set([
  'new>submitting', 'new>rejected', 'new>cancelled',
  'submitting>open', 'submitting>partially_filled', 'submitting>filled', 'submitting>rejected',
  'submitting>cancelled', 'submitting>expired',
  'open>partially_filled', 'open>filled', 'open>cancelled', 'open>expired',
  'partially_filled>filled', 'partially_filled>cancelled', 'partially_filled>expired',
]);

async function orderIn(q: Q, status: string): Promise<string> {
  const i = await intent(q);
  for (const s of PATH[status]!) await transition(q, i.order_id, s, s === 'open' ? `TX-${i.order_id}` : null);
  return i.order_id;
}

const events = async (q: Q, orderId: string) =>
  (await q.query(`select from_status, to_status, exchange_order_id, note from order_events where order_id = $1 order by event_id`, [orderId])).rows;

describe('order__transition', () => {
  it('the SQL table allows exactly the documented transitions', async () => {
    const { rows } = await db.pool.query<{ t: string }>(`select from_status || '>' || to_status as t from order_status_transitions`);
    expect(new Set(rows.map((r) => r.t))).toEqual(ALLOWED);
    const st = await db.pool.query<{ status: string; terminal: boolean }>(`select status, terminal from order_statuses`);
    expect(new Set(st.rows.map((r) => r.status))).toEqual(new Set(STATUSES));
    expect(st.rows.filter((r) => r.terminal).map((r) => r.status).sort()).toEqual(['cancelled', 'expired', 'filled', 'rejected']);
  });

  for (const from of STATUSES) {
    for (const to of STATUSES) {
      if (from === to) continue;
      const allowed = ALLOWED.has(`${from}>${to}`);
      it(`${from} -> ${to} is ${allowed ? 'allowed' : 'refused and changes nothing'}`, async () => {
        await db.rollback(async (c) => {
          const id = await orderIn(c, from);
          const before = await orderRow(c, id);
          const evBefore = await events(c, id);
          if (allowed) {
            const r = await transition(c, id, to, null, at(60), { why: 'test' });
            expect(r).toMatchObject({ from_status: from, to_status: to, changed: true });
            const after = await orderRow(c, id);
            expect(after.status).toBe(to);
            expect(after.updated_at.toISOString()).toBe(at(60));
            const ev = (await c.query(`select * from order_events where order_id = $1 order by event_id desc limit 1`, [id])).rows[0];
            expect(ev).toMatchObject({ from_status: from, to_status: to, data: { why: 'test' } });
          } else {
            const e = await failing(c, `select * from order__transition($1, $2, null, null, $3)`, [id, to, at(60)]);
            expect(e.message).toBe(`order__transition: order ${id} cannot go from ${from} to ${to}`);
            expect((e as Error & { code?: string }).code).toBe('55000');
            expect(await orderRow(c, id)).toEqual(before);
            expect(await events(c, id)).toEqual(evBefore);
          }
        });
      });
    }
  }

  it('a repeated transition to the current status is a no-op', async () => {
    await db.rollback(async (c) => {
      const id = await orderIn(c, 'open');
      const before = await orderRow(c, id);
      const n = (await events(c, id)).length;
      const r = await transition(c, id, 'open', `TX-${id}`, at(99));
      expect(r).toMatchObject({ from_status: 'open', to_status: 'open', changed: false });
      expect(await orderRow(c, id)).toEqual(before);
      expect(await events(c, id)).toHaveLength(n);
      // Terminal too: replaying "filled" is harmless.
      const f = await orderIn(c, 'filled');
      expect((await transition(c, f, 'filled')).changed).toBe(false);
    });
  });

  it('records the exchange order id once and refuses a different one', async () => {
    await db.rollback(async (c) => {
      const i = await intent(c);
      await transition(c, i.order_id, 'submitting');
      await transition(c, i.order_id, 'open', 'OABC-1');
      expect((await orderRow(c, i.order_id)).exchange_order_id).toBe('OABC-1');
      const e = await failing(c, `select * from order__transition($1, 'filled', 'OXYZ-2')`, [i.order_id]);
      expect(e.message).toMatch(/already has exchange order id OABC-1/);
      expect((await orderRow(c, i.order_id)).status).toBe('open');
    });
  });

  it('refuses unknown statuses and orders', async () => {
    await db.rollback(async (c) => {
      const i = await intent(c);
      expect((await failing(c, `select * from order__transition($1, 'closed')`, [i.order_id])).message).toMatch(/unknown order status 'closed'/);
      expect((await failing(c, `select * from order__transition(-1, 'open')`)).message).toMatch(/order -1 does not exist/);
    });
  });

  it('serialises concurrent transitions on the order row: the second sees the first', async () => {
    const { order_id: id } = await intent(db.pool, { clientOrderId: cid('conc') });
    const a = await db.client();
    const b = await db.client();
    const pidB = await backendPid(b);
    await a.query('begin');
    await transition(a, id, 'submitting', null, at(1));
    await b.query('begin');
    const second = transition(b, id, 'submitting', null, at(2)); // waits for a's row lock
    await waitUntilBlocked(db.pool, pidB);
    await a.query('commit');
    expect(await second).toMatchObject({ from_status: 'submitting', changed: false });
    // b now holds the lock; a conflicting transition from a waits, then validates against b's result.
    const pidA = await backendPid(a);
    await transition(b, id, 'open', 'TX-conc', at(3));
    await a.query('begin');
    // The handler is attached at once: the rejection may arrive before the commit's answer.
    const third = expect(
      a.query(`select * from order__transition($1, 'rejected', null, null, $2)`, [id, at(4)]),
    ).rejects.toThrow(/cannot go from open to rejected/);
    await waitUntilBlocked(db.pool, pidA);
    await b.query('commit');
    await third;
    await a.query('rollback');
    const ev = await events(db.pool, id);
    expect(ev.map((e) => `${e.from_status}>${e.to_status}`)).toEqual(['null>new', 'new>submitting', 'submitting>open']);
  });
});

describe('order_events', () => {
  it('is append-only: update, delete and truncate are refused even for the owner', async () => {
    await db.rollback(async (c) => {
      const i = await intent(c);
      for (const sql of [
        `update order_events set note = 'rewritten' where order_id = ${i.order_id}`,
        `delete from order_events where order_id = ${i.order_id}`,
        `truncate order_events cascade`,
      ]) {
        const e = await failing(c, sql);
        expect(e.message).toMatch(/order_events is append-only/);
      }
      expect(await events(c, i.order_id)).toHaveLength(1);
    });
  });

  it('grants execution no update or delete', async () => {
    await db.rollback(async (c) => {
      await c.query('set local role kapitaal_execution');
      const e = await failing(c, `update order_events set note = 'x'`);
      expect(e.message).toMatch(/permission denied/);
    });
  });
});

describe('order__begin_submit', () => {
  const begin = async (q: Q | pg.Client, id: string, now = T0) =>
    (await q.query(`select * from order__begin_submit($1, $2)`, [id, now])).rows[0];

  it('moves new to submitting; a second start (after a crash) must query the exchange first', async () => {
    await db.rollback(async (c) => {
      const i = await intent(c);
      expect(await begin(c, i.order_id)).toMatchObject({ proceed: true, must_query_exchange: false, status: 'submitting', submit_attempts: 1 });
      expect(await begin(c, i.order_id, at(30))).toMatchObject({
        proceed: true, must_query_exchange: true, status: 'submitting', client_order_id: i.client_order_id, submit_attempts: 2,
      });
      const ev = await events(c, i.order_id);
      expect(ev.map((e) => `${e.from_status}>${e.to_status}`)).toEqual(['null>new', 'new>submitting', 'submitting>submitting']);
      expect(ev[2]!.note).toMatch(/query client order id/);
    });
  });

  it('refuses to send again once the order is acknowledged or finished', async () => {
    await db.rollback(async (c) => {
      for (const s of ['open', 'filled', 'rejected', 'cancelled']) {
        const id = await orderIn(c, s);
        expect(await begin(c, id)).toMatchObject({ proceed: false, must_query_exchange: false, status: s });
        expect((await orderRow(c, id)).status).toBe(s);
      }
    });
  });

  it('two workers starting the same order: exactly one gets a clean first attempt', async () => {
    const { order_id: id } = await intent(db.pool, { clientOrderId: cid('dup') });
    const a = await db.client();
    const b = await db.client();
    const pidB = await backendPid(b);
    await a.query('begin');
    const ra = await begin(a, id);
    await b.query('begin');
    const pending = begin(b, id);
    await waitUntilBlocked(db.pool, pidB);
    await a.query('commit');
    const rb = await pending;
    await b.query('commit');
    expect(ra).toMatchObject({ proceed: true, must_query_exchange: false });
    expect(rb).toMatchObject({ proceed: true, must_query_exchange: true });
  });
});
