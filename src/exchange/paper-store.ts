// Where the paper exchange keeps its books between restarts: the decision cluster's paper_* tables,
// through paper_venue__save / paper_venue__load (sql/exchange/). Without a store the paper exchange
// lives in memory only (unit tests, throwaway runs).
import type pg from 'pg';
import type { VenueOrder, VenueTrade } from './matching.ts';
import type { PaperState } from './paper.ts';

/** What changed in one step of the paper venue. */
export interface PaperDelta {
  seq: number;
  cursors: Record<string, string>;
  orders: VenueOrder[];
  trades: VenueTrade[];
}

export interface PaperStore {
  /** The saved venue, or null when nothing was saved yet. */
  load(): Promise<PaperState | null>;
  save(delta: PaperDelta): Promise<void>;
}

export class PgPaperStore implements PaperStore {
  constructor(
    private readonly pool: Pick<pg.Pool, 'query'>,
    private readonly venue = 'paper',
  ) {}

  async load(): Promise<PaperState | null> {
    const { rows } = await this.pool.query<{ seq: string; cursors: Record<string, string>; orders: VenueOrder[]; trades: VenueTrade[] }>(
      'select seq::text, cursors, orders, trades from kapitaal.paper_venue__load($1)',
      [this.venue],
    );
    const r = rows[0];
    if (!r) return null;
    return { venue: { seq: Number(r.seq), orders: r.orders, trades: r.trades }, cursors: r.cursors };
  }

  async save(d: PaperDelta): Promise<void> {
    await this.pool.query('select kapitaal.paper_venue__save($1, $2, $3::jsonb, $4::jsonb, $5::jsonb)', [
      this.venue,
      d.seq,
      JSON.stringify(d.cursors),
      JSON.stringify(d.orders),
      JSON.stringify(d.trades),
    ]);
  }
}
