// The paper venue survives a restart: orders, fills, fill numbering and market cursors are saved in
// the decision database (paper_venue__save / paper_venue__load) before an operation answers.
import type pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutcomeUnknownError } from '../../../src/exchange/errors.ts';
import { StaticMarketView } from '../../../src/exchange/market-view.ts';
import { PaperExchange } from '../../../src/exchange/paper.ts';
import { PgPaperStore } from '../../../src/exchange/paper-store.ts';
import type { AddOrderRequest } from '../../../src/exchange/types.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

const S = 'BTC/USD';
let db: TestDatabase;
let market: StaticMarketView;
let venue = 0;
let tradeId = 0;

beforeAll(async () => {
  db = await testDatabase('decision');
});

beforeEach(() => {
  market = new StaticMarketView();
  market.setBook(S, {
    bids: [{ price: '99.9', qty: '2' }],
    asks: [{ price: '100.1', qty: '0.3' }, { price: '100.3', qty: '5' }],
  });
  venue++;
});

const store = (pool: Pick<pg.Pool, 'query'> = db.pool) => new PgPaperStore(pool, `test-${venue}`);
const paper = (s = store()) => new PaperExchange({ market, store: s });
const order = (o: Partial<AddOrderRequest> & Pick<AddOrderRequest, 'clientOrderId' | 'side' | 'qty'>): AddOrderRequest => ({
  symbol: S, orderType: 'limit', postOnly: false, ...o,
});
const trade = (side: 'buy' | 'sell', price: string, qty: string) =>
  market.pushTrade(S, { side, price, qty, tradeId: String(++tradeId) });

describe('paper venue store', () => {
  it('a restarted paper exchange has the same orders and fills, goes on filling and never reuses a fill number', async () => {
    const first = paper();
    await first.addOrder(order({ clientOrderId: 'taker-1', side: 'buy', orderType: 'market', qty: '0.5' }));
    await first.addOrder(order({ clientOrderId: 'maker-1', side: 'buy', price: '99.9', qty: '1', postOnly: true }));
    trade('sell', '99.9', '2.5'); // consumes the 2 queued ahead, fills 0.5 of ours
    await first.sync();
    const before = await first.fillsSince(null);
    expect(before.fills.map((f) => [f.clientOrderId, f.qty, f.liquidity])).toEqual([
      ['taker-1', '0.3', 'taker'], ['taker-1', '0.2', 'taker'], ['maker-1', '0.5', 'maker'],
    ]);

    // "Restart": a new adapter on the same database, nothing carried over in memory.
    const second = paper();
    expect(await second.queryOrderByClientId('maker-1')).toEqual(await first.queryOrderByClientId('maker-1'));
    expect(await second.queryOrderByClientId('taker-1')).toMatchObject({ status: 'filled', qtyExec: '0.5', cost: '50.09' });
    expect(await second.fillsSince(null)).toEqual(before);

    // The resting order keeps its queue position and fills from trades seen after the restart.
    trade('sell', '99.9', '0.5');
    await second.sync();
    expect(await second.queryOrderByClientId('maker-1')).toMatchObject({ status: 'filled', qtyExec: '1' });
    const after = await second.fillsSince(before.cursor);
    expect(after.fills.map((f) => [f.clientOrderId, f.qty])).toEqual([['maker-1', '0.5']]);
    expect(BigInt(after.cursor)).toBeGreaterThan(BigInt(before.cursor));
    const seqs = (await db.pool.query<{ seq: string }>('select seq::text from paper_trades where venue = $1 order by seq', [`test-${venue}`]))
      .rows.map((r) => Number(r.seq));
    expect(new Set(seqs).size).toBe(4);
  });

  it('keeps amounts as decimal strings in the stored documents', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'dec-1', side: 'buy', price: '99.90', qty: '1.50000000', postOnly: true }));
    const { rows } = await db.pool.query<{ price: string; vol: string; typeofs: string[] }>(
      `select order_doc->>'price' as price, order_doc->>'vol' as vol,
              array[jsonb_typeof(order_doc->'price'), jsonb_typeof(order_doc->'vol'), jsonb_typeof(order_doc->'cost')] as typeofs
         from paper_orders where venue = $1`, [`test-${venue}`]);
    // The venue normalises decimal text (as Kraken echoes it); what matters is text, never a JSON number.
    expect(rows).toEqual([{ price: '99.9', vol: '1.5', typeofs: ['string', 'string', 'string'] }]);
  });

  it('answers nothing it could not save, and saves it with the next operation', async () => {
    let failNext = false;
    const flaky: Pick<pg.Pool, 'query'> = {
      query: ((text: string, values?: unknown[]) => {
        if (failNext && text.includes('paper_venue__save')) {
          failNext = false;
          return Promise.reject(new Error('connection terminated'));
        }
        return db.pool.query(text, values);
      }) as pg.Pool['query'],
    };
    const ex = paper(store(flaky));
    failNext = true;
    const err = await ex.addOrder(order({ clientOrderId: 'lost-1', side: 'buy', price: '99.9', qty: '1', postOnly: true })).catch((e) => e);
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect((err as Error).message).toMatch(/could not be saved \(connection terminated\)/);
    expect((await db.pool.query('select 1 from paper_orders where venue = $1', [`test-${venue}`])).rowCount).toBe(0);
    // The engine asks again (its unknown-outcome path): the order is there, and now saved.
    expect(await ex.queryOrderByClientId('lost-1')).toMatchObject({ status: 'open' });
    expect(await paper().queryOrderByClientId('lost-1')).toMatchObject({ status: 'open' });
  });

  it('refuses a save from a second process holding an older copy of the venue', async () => {
    const a = paper();
    const b = paper();
    await b.queryOrderByClientId('nothing'); // b loads the (empty) venue
    await a.addOrder(order({ clientOrderId: 'a-1', side: 'buy', orderType: 'market', qty: '0.1' }));
    // b's counter is behind a's: its save must not win, and b must not answer from its stale copy.
    const err = await b.queryOrderByClientId('a-1').catch((e) => e);
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect((err as Error).message).toMatch(/is at seq 2, this save is at 0 \(another process owns this paper venue\?\)/);
    expect(await paper().queryOrderByClientId('a-1')).toMatchObject({ status: 'filled' });
  });

  it('lets only the execution role save and load, through the functions', async () => {
    await db.rollback(async (c) => {
      await c.query('set local role kapitaal_execution');
      await c.query(`select paper_venue__save('role-test', 1, '{}'::jsonb, '[]'::jsonb, '[]'::jsonb)`);
      expect((await c.query(`select * from paper_venue__load('role-test')`)).rows).toEqual([{ seq: '1', cursors: {}, orders: [], trades: [] }]);
      await expect(c.query(`update paper_venues set seq = 0`)).rejects.toThrow(/permission denied/);
    });
  });
});
