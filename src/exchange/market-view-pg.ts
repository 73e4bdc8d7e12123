// A MarketView over the ingest cluster's raw tables, for the paper adapter: the newest verified book
// sample from l2_snap_metrics and the trades from trade_samples. Numbers are read as text
// (`::text[]`, `::text`) so that no value passes through a float.
//
// Trades are read by transaction-id watermark, the same method the refresh uses: rows whose
// inserting transaction id lies in [previous horizon, current horizon), the horizon being
// kapitaal.raw_txid_horizon(). Every transaction of this database below it has finished, so each
// committed row is read exactly once even when a transaction commits after a later one; unlike the
// snapshot xmin, a long transaction in another database of the cluster does not hold it back.
import type pg from 'pg';
import type { BookView, MarketTrade } from './matching.ts';
import type { MarketView, TradesPage } from './market-view.ts';

type Queryable = Pick<pg.Pool, 'query'>;

export interface PgMarketViewOptions {
  /** Restrict to one ingest run (partition pruning); default: the newest rows of any run. */
  runId?: bigint | string;
  /** Book levels to read per side (default 25). */
  depth?: number;
  /** Max trades per call (default 5000); the cursor then stops at the last transaction read in full. */
  limit?: number;
}

export class PgMarketView implements MarketView {
  constructor(private readonly db: Queryable, private readonly opts: PgMarketViewOptions = {}) {}

  async topOfBook(symbol: string): Promise<BookView | null> {
    const depth = this.opts.depth ?? 25;
    const { rows } = await this.db.query<{ bid_px: string[]; bid_qty: string[]; ask_px: string[]; ask_qty: string[] }>(
      `select bid_px[1:$3]::text[] as bid_px, bid_qty[1:$3]::text[] as bid_qty,
              ask_px[1:$3]::text[] as ask_px, ask_qty[1:$3]::text[] as ask_qty
         from kapitaal.l2_snap_metrics
        where symbol = $1 and checksum_ok and ($2::bigint is null or run_id = $2::bigint)
        order by received_at desc, seq desc
        limit 1`,
      [symbol, this.opts.runId?.toString() ?? null, depth],
    );
    const r = rows[0];
    if (!r) return null;
    const zip = (px: string[], qty: string[]) => px.map((p, i) => ({ price: p, qty: qty[i] ?? '0' }));
    return { bids: zip(r.bid_px, r.bid_qty), asks: zip(r.ask_px, r.ask_qty) };
  }

  async tradesSince(symbol: string, cursor: string | null): Promise<TradesPage> {
    if (cursor !== null && !/^\d+$/.test(cursor)) throw new RangeError('malformed market cursor');
    // Its own statement, before the read: rows below the horizon are final and visible to
    // every statement that starts after it.
    const h = await this.db.query<{ horizon: string }>('select kapitaal.raw_txid_horizon()::text as horizon');
    const horizon = h.rows[0]!.horizon;
    if (cursor === null) return { trades: [], cursor: horizon };
    const limit = this.opts.limit ?? 5000;
    const { rows } = await this.db.query<{
      txid: string; price: string; qty: string; side: 'buy' | 'sell'; trade_id: string; exchange_ts: Date;
    }>(
      `select t.txid::text as txid, t.price::text as price, t.qty::text as qty, t.side,
              t.trade_id::text as trade_id, t.exchange_ts
         from kapitaal.trade_samples t
        where t.symbol = $1 and t.txid >= $2::xid8 and t.txid < $5::xid8
          and ($3::bigint is null or t.run_id = $3::bigint)
        order by t.txid, t.trade_id, t.seq
        limit $4`,
      [symbol, cursor, this.opts.runId?.toString() ?? null, limit + 1, horizon],
    );
    // The horizon never moves back, but a cursor from a larger limit page may lie above it.
    let data = rows;
    let next = BigInt(horizon) > BigInt(cursor) ? horizon : cursor;
    if (data.length > limit) {
      // Stop before the last transaction we may have read only in part.
      const lastTx = data[limit]!.txid;
      data = data.filter((r) => BigInt(r.txid) < BigInt(lastTx));
      next = lastTx;
      if (data.length === 0) {
        // One transaction larger than the limit: take it whole rather than stall.
        const all = await this.db.query<{ price: string; qty: string; side: 'buy' | 'sell'; trade_id: string; exchange_ts: Date; txid: string }>(
          `select t.txid::text as txid, t.price::text as price, t.qty::text as qty, t.side,
                  t.trade_id::text as trade_id, t.exchange_ts
             from kapitaal.trade_samples t
            where t.symbol = $1 and t.txid = $2::xid8 and ($3::bigint is null or t.run_id = $3::bigint)
            order by t.trade_id, t.seq`,
          [symbol, lastTx, this.opts.runId?.toString() ?? null],
        );
        data = all.rows;
        next = (BigInt(lastTx) + 1n).toString();
      }
    }
    const trades: MarketTrade[] = data.map((r) => ({ price: r.price, qty: r.qty, side: r.side, tradeId: r.trade_id, time: r.exchange_ts }));
    return { trades, cursor: next };
  }
}
