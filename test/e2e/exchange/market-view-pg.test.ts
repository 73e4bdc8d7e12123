// PgMarketView over the ingest cluster's raw tables: exact decimal text, and trades read by
// transaction-id watermark so that a late-committing transaction is never skipped. Then the paper
// adapter filling a maker order from those tables.
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { PgMarketView } from '../../../src/exchange/market-view-pg.ts';
import { PaperExchange } from '../../../src/exchange/paper.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

let db: TestDatabase;
let runId: string;
beforeAll(async () => {
  db = await testDatabase('ingest');
  runId = (await db.pool.query<{ run_id: string }>(`select run_id from ingest_run__start('{"t":"mv"}'::jsonb, 'test', 'host')`)).rows[0]!.run_id;
});

const S = 'BTC/USD';
type Q = { query: TestDatabase['pool']['query'] };

async function book(q: Q, symbol: string, bids: [string, string][], asks: [string, string][], ok = true) {
  await q.query(
    `insert into l2_snap_metrics (run_id, symbol, depth, is_snapshot, bid_px, bid_qty, ask_px, ask_qty, checksum, checksum_ok, received_at)
     values ($1, $2, 10, true, $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], 0, $7, clock_timestamp())`,
    [runId, symbol, bids.map((b) => b[0]), bids.map((b) => b[1]), asks.map((a) => a[0]), asks.map((a) => a[1]), ok],
  );
}

let tradeId = 0;
async function trade(q: Q, symbol: string, side: 'buy' | 'sell', price: string, qty: string): Promise<string> {
  const { rows } = await q.query(
    `insert into trade_samples (run_id, symbol, side, price, qty, ord_type, trade_id, exchange_ts, received_at)
     values ($1, $2, $3, $4::numeric, $5::numeric, 'limit', $6, clock_timestamp(), clock_timestamp())
     returning txid::text`,
    [runId, symbol, side, price, qty, ++tradeId],
  );
  return rows[0].txid as string;
}

/**
 * Waits until the txid horizon has passed a committed write. Any backend of this database that
 * holds an older xid (an autovacuum ANALYZE of the freshly cloned tables, under load) holds the
 * horizon back for a moment; the view then rightly does not show the row yet.
 */
async function visible(txid: string) {
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.pool.query('select kapitaal.raw_txid_horizon() > $1::xid8 as ok', [txid]);
    if (rows[0].ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`txid horizon did not pass ${txid} within 5 s`);
}

describe('PgMarketView', () => {
  it('returns the newest verified book as exact text', async () => {
    const mv = new PgMarketView(db.pool);
    expect(await mv.topOfBook('ETH/USD')).toBeNull();
    await book(db.pool, 'ETH/USD', [['2999.90', '0.10000000']], [['3000.10', '1.50000000']]);
    await book(db.pool, 'ETH/USD', [['1.00', '1']], [['9.00', '1']], false); // checksum failed: ignored
    expect(await mv.topOfBook('ETH/USD')).toEqual({
      bids: [{ price: '2999.90', qty: '0.10000000' }],
      asks: [{ price: '3000.10', qty: '1.50000000' }],
    });
  });

  it('reads trades after the cursor exactly once, holding back rows of a transaction still open', async () => {
    // A transaction open in another database of the cluster (another test file, a psql session)
    // holds back the cluster-wide snapshot xmin; it must not hold back this database's trades.
    const elsewhere = new pg.Client({ connectionString: inject('ingestAdminUrl') });
    await elsewhere.connect();
    await elsewhere.query('begin');
    await elsewhere.query('select pg_current_xact_id()');
    const mv = new PgMarketView(db.pool, { runId });
    const start = await mv.tradesSince('SOL/USD', null);
    expect(start.trades).toEqual([]);
    const slow = await db.client();
    const fast = await db.client();
    await slow.query('begin');
    await slow.query('select pg_current_xact_id()'); // takes its txid now: the older transaction
    const slowTxid = await trade(slow, 'SOL/USD', 'buy', '150.10', '2.00000000');
    const fastTxid = await trade(fast, 'SOL/USD', 'sell', '150.00', '1.00000000'); // commits first
    const first = await mv.tradesSince('SOL/USD', start.cursor);
    expect(first.trades).toEqual([]); // held back: an older transaction is still open
    await slow.query('commit');
    await visible(fastTxid);
    await visible(slowTxid);
    const second = await mv.tradesSince('SOL/USD', first.cursor);
    expect(second.trades.map((t) => [t.side, t.price, t.qty])).toEqual([
      ['buy', '150.10', '2.00000000'],
      ['sell', '150.00', '1.00000000'],
    ]);
    expect((await mv.tradesSince('SOL/USD', second.cursor)).trades).toEqual([]);
    await elsewhere.query('commit');
    await elsewhere.end();
  });

  it('drives the paper adapter: a maker order fills from ingested trades', async () => {
    await book(db.pool, S, [['59999.9', '2.00000000']], [['60000.1', '1.00000000']]);
    const paper = new PaperExchange({ market: new PgMarketView(db.pool, { runId }) });
    await paper.addOrder({ clientOrderId: 'pg-mk-1', symbol: S, side: 'buy', orderType: 'limit', price: '59999.9', qty: '0.5', postOnly: true });
    await visible(await trade(db.pool, S, 'sell', '59999.9', '2.2')); // 2 ahead of us, 0.2 to us
    expect(await paper.queryOrderByClientId('pg-mk-1')).toMatchObject({ status: 'partially_filled', qtyExec: '0.2', cost: '11999.98', fee: '29.99995' });
    await paper.addOrder({ clientOrderId: 'pg-tk-1', symbol: S, side: 'buy', orderType: 'market', qty: '1.5', postOnly: false });
    // Only 1 on the ask side: the rest of a market order is cancelled.
    expect(await paper.queryOrderByClientId('pg-tk-1')).toMatchObject({ status: 'cancelled', qtyExec: '1', cost: '60000.1', fee: '240.0004' });
  });
});
