import { beforeEach, describe, expect, it } from 'vitest';
import { DuplicateClientOrderIdError, InvalidArgumentsError, ServiceUnavailableError } from '../../../src/exchange/errors.ts';
import { StaticMarketView } from '../../../src/exchange/market-view.ts';
import { PaperExchange, type PaperOptions } from '../../../src/exchange/paper.ts';
import type { AddOrderRequest } from '../../../src/exchange/types.ts';

const S = 'BTC/USD';
let market: StaticMarketView;
let clock: { t: number };
let ids: number;

function paper(extra: Partial<PaperOptions> = {}): PaperExchange {
  return new PaperExchange({
    market,
    now: () => clock.t,
    newId: (k) => `${k === 'order' ? 'O' : 'T'}${++ids}`,
    ...extra,
  });
}

const order = (o: Partial<AddOrderRequest> & Pick<AddOrderRequest, 'clientOrderId' | 'side' | 'qty'>): AddOrderRequest => ({
  symbol: S,
  orderType: 'limit',
  postOnly: false,
  ...o,
});

let tradeSeq = 0;
const trade = (side: 'buy' | 'sell', price: string, qty: string, at?: number) =>
  market.pushTrade(S, { side, price, qty, tradeId: String(++tradeSeq), time: at === undefined ? undefined : new Date(at) });

beforeEach(() => {
  market = new StaticMarketView();
  clock = { t: Date.UTC(2026, 0, 1) };
  ids = 0;
  market.setBook(S, {
    bids: [
      { price: '99.9', qty: '2' },
      { price: '99.8', qty: '3' },
    ],
    asks: [
      { price: '100.1', qty: '0.3' },
      { price: '100.3', qty: '0.45' },
      { price: '100.7', qty: '5' },
    ],
  });
});

describe('paper taker orders', () => {
  it('a market buy walks the asks: VWAP and taker fees to the last decimal', async () => {
    const ex = paper();
    const { exchangeOrderId } = await ex.addOrder(order({ clientOrderId: 'mkt-1', side: 'buy', orderType: 'market', qty: '1' }));
    const o = await ex.queryOrderByClientId('mkt-1');
    expect(o).toMatchObject({
      exchangeOrderId,
      status: 'filled',
      qty: '1',
      qtyExec: '1',
      // 0.3×100.1 + 0.45×100.3 + 0.25×100.7 = 30.03 + 45.135 + 25.175
      cost: '100.34',
      avgPrice: '100.34',
      // 0.4 % of each fill: 0.12012 + 0.18054 + 0.1007
      fee: '0.40136',
      limitPrice: null,
    });
    const { fills, cursor } = await ex.fillsSince(null);
    expect(fills.map((f) => [f.price, f.qty, f.cost, f.fee, f.liquidity])).toEqual([
      ['100.1', '0.3', '30.03', '0.12012', 'taker'],
      ['100.3', '0.45', '45.135', '0.18054', 'taker'],
      ['100.7', '0.25', '25.175', '0.1007', 'taker'],
    ]);
    expect(fills.every((f) => f.clientOrderId === 'mkt-1' && f.exchangeOrderId === exchangeOrderId)).toBe(true);
    expect((await ex.fillsSince(cursor)).fills).toEqual([]);
  });

  it('fees are rounded up per fill at the quote decimals', async () => {
    const ex = paper({ feeDecimals: () => 4 });
    await ex.addOrder(order({ clientOrderId: 'mkt-2', side: 'buy', orderType: 'market', qty: '1' }));
    const { fills } = await ex.fillsSince(null);
    expect(fills.map((f) => f.fee)).toEqual(['0.1202', '0.1806', '0.1007']);
    expect((await ex.queryOrderByClientId('mkt-2'))!.fee).toBe('0.4015');
  });

  it('a market sell walks the bids; a book too thin leaves the rest cancelled', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'mkt-3', side: 'sell', orderType: 'market', qty: '6' }));
    const o = await ex.queryOrderByClientId('mkt-3');
    expect(o).toMatchObject({ status: 'cancelled', qtyExec: '5', cost: '499.2', fee: '1.9968' });
    expect(o!.avgPrice).toBe('99.84');
  });

  it('a marketable limit takes up to its price and rests the remainder', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'lim-1', side: 'buy', price: '100.3', qty: '1' }));
    const o = await ex.queryOrderByClientId('lim-1');
    expect(o).toMatchObject({ status: 'partially_filled', qtyExec: '0.75', cost: '75.165', fee: '0.30066', limitPrice: '100.3' });
  });

  it('IOC cancels the remainder', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'ioc-1', side: 'buy', price: '100.1', qty: '1', timeInForce: 'IOC' }));
    expect(await ex.queryOrderByClientId('ioc-1')).toMatchObject({ status: 'cancelled', qtyExec: '0.3', reason: 'Immediate or cancel' });
  });
});

describe('paper maker orders', () => {
  it('queue ahead is consumed by trades before the order fills; a trade through fills the rest', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'mk-1', side: 'buy', price: '99.8', qty: '1', postOnly: true }));
    // Queue ahead at entry: 2 at 99.9 (better) + 3 at 99.8 = 5.
    trade('sell', '99.9', '1.5'); // better level: queue 3.5
    trade('sell', '99.8', '3'); // our level: queue 0.5
    expect(await ex.queryOrderByClientId('mk-1')).toMatchObject({ status: 'open', qtyExec: '0' });
    trade('buy', '100.1', '5'); // the other side: no effect
    trade('sell', '99.8', '0.8'); // 0.5 queue, 0.3 to us
    expect(await ex.queryOrderByClientId('mk-1')).toMatchObject({
      status: 'partially_filled',
      qtyExec: '0.3',
      cost: '29.94',
      fee: '0.07485', // 0.25 % maker
    });
    trade('sell', '99.7', '0.2'); // through our price: our level was swept
    const done = await ex.queryOrderByClientId('mk-1');
    expect(done).toMatchObject({ status: 'filled', qtyExec: '1', cost: '99.8', avgPrice: '99.8', fee: '0.2495' });
    const { fills } = await ex.fillsSince(null);
    expect(fills.map((f) => [f.price, f.qty, f.fee, f.liquidity])).toEqual([
      ['99.8', '0.3', '0.07485', 'maker'],
      ['99.8', '0.7', '0.17465', 'maker'],
    ]);
    expect(new Set(fills.map((f) => f.tradeId)).size).toBe(2);
  });

  it('an order inside the spread has no queue ahead', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'mk-2', side: 'sell', price: '100.0', qty: '0.5', postOnly: true }));
    trade('buy', '100.0', '0.2');
    expect(await ex.queryOrderByClientId('mk-2')).toMatchObject({ status: 'partially_filled', qtyExec: '0.2' });
  });

  it('trades before the order was placed do not fill it', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'warm', side: 'buy', price: '90', qty: '0.1' })); // starts watching
    trade('sell', '99.0', '10');
    await ex.addOrder(order({ clientOrderId: 'mk-3', side: 'buy', price: '99.5', qty: '0.5', postOnly: true }));
    expect(await ex.queryOrderByClientId('mk-3')).toMatchObject({ status: 'open', qtyExec: '0' });
  });

  it('post-only that would take is accepted and cancelled (status rejected)', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'po-1', side: 'buy', price: '100.1', qty: '0.1', postOnly: true }));
    expect(await ex.queryOrderByClientId('po-1')).toMatchObject({ status: 'rejected', reason: 'Post only order', qtyExec: '0' });
  });

  it('cancel keeps the partial fill; a cancelled id may be reused, an open one may not', async () => {
    const ex = paper();
    const first = await ex.addOrder(order({ clientOrderId: 'c-1', side: 'buy', price: '99.9', qty: '1', postOnly: true }));
    trade('sell', '99.9', '2.4'); // queue 2, then 0.4 to us
    await expect(ex.addOrder(order({ clientOrderId: 'c-1', side: 'buy', price: '99.0', qty: '1' }))).rejects.toBeInstanceOf(DuplicateClientOrderIdError);
    expect(await ex.cancelOrder({ clientOrderId: 'c-1' })).toEqual({ count: 1 });
    expect(await ex.cancelOrder({ exchangeOrderId: first.exchangeOrderId })).toEqual({ count: 0 });
    const cancelled = await ex.queryOrderByClientId('c-1');
    expect(cancelled).toMatchObject({ exchangeOrderId: first.exchangeOrderId, status: 'cancelled', qtyExec: '0.4', reason: 'User requested' });
    trade('sell', '99.0', '5'); // would have swept it
    expect((await ex.queryOrderByClientId('c-1'))!.qtyExec).toBe('0.4');
    // Reuse: Kraken checks uniqueness among open orders only; the open one is reported first.
    const second = await ex.addOrder(order({ clientOrderId: 'c-1', side: 'buy', price: '98.0', qty: '1', postOnly: true }));
    expect(second.exchangeOrderId).not.toBe(first.exchangeOrderId);
    expect(await ex.queryOrderByClientId('c-1')).toMatchObject({ exchangeOrderId: second.exchangeOrderId, status: 'open' });
    await ex.cancelOrder({ exchangeOrderId: second.exchangeOrderId });
    // Both closed: the newest wins.
    expect((await ex.queryOrderByClientId('c-1'))!.exchangeOrderId).toBe(second.exchangeOrderId);
    expect(await ex.queryOrderByClientId('nope')).toBeNull();
  });

  it('GTD orders expire; trades after expiry do not fill them', async () => {
    const ex = paper();
    const t0 = clock.t;
    await ex.addOrder(order({ clientOrderId: 'gtd-1', side: 'buy', price: '99.9', qty: '1', postOnly: true, timeInForce: 'GTD', expireAt: new Date(t0 + 60_000) }));
    trade('sell', '99.0', '5', t0 + 61_000); // through, but after expiry
    clock.t = t0 + 30_000;
    const o = await ex.queryOrderByClientId('gtd-1');
    expect(o).toMatchObject({ status: 'expired', qtyExec: '0' });
  });

  it('GTD orders expire by the clock alone', async () => {
    const ex = paper();
    const t0 = clock.t;
    await ex.addOrder(order({ clientOrderId: 'gtd-2', side: 'sell', price: '101', qty: '1', timeInForce: 'GTD', expireAt: new Date(t0 + 1000) }));
    expect((await ex.queryOrderByClientId('gtd-2'))!.status).toBe('open');
    clock.t = t0 + 1000;
    expect((await ex.queryOrderByClientId('gtd-2'))!.status).toBe('expired');
  });
});

describe('paper state', () => {
  it('can be exported and rebuilt, and goes on filling', async () => {
    const ex = paper();
    await ex.addOrder(order({ clientOrderId: 'st-1', side: 'buy', price: '99.9', qty: '1', postOnly: true }));
    trade('sell', '99.9', '2.5');
    await ex.sync();
    const state = JSON.parse(JSON.stringify(ex.exportState()));
    const again = PaperExchange.fromState({ market, now: () => clock.t }, state);
    expect(await again.queryOrderByClientId('st-1')).toEqual(await ex.queryOrderByClientId('st-1'));
    trade('sell', '99.9', '0.5');
    expect(await again.queryOrderByClientId('st-1')).toMatchObject({ status: 'filled', qtyExec: '1' });
    const { fills } = await again.fillsSince(null);
    expect(fills.map((f) => f.qty)).toEqual(['0.5', '0.5']);
  });

  it('refuses bad input with typed errors', async () => {
    const ex = paper();
    await expect(ex.addOrder(order({ clientOrderId: 'x'.repeat(19), side: 'buy', price: '99', qty: '1' }))).rejects.toBeInstanceOf(InvalidArgumentsError);
    await expect(ex.addOrder(order({ clientOrderId: 'ok', side: 'buy', price: '99', qty: '1e-3' }))).rejects.toBeInstanceOf(InvalidArgumentsError);
    await expect(ex.addOrder(order({ clientOrderId: 'ok', symbol: 'ETH/USD', side: 'buy', price: '99', qty: '1' }))).rejects.toBeInstanceOf(ServiceUnavailableError);
  });
});
