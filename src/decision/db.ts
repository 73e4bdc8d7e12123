// A query helper that accepts a pool, a pooled client or a plain client.
import type pg from 'pg';

export type Db = pg.Pool | pg.PoolClient | pg.Client;

export async function rows<T extends pg.QueryResultRow>(db: Db, text: string, values?: unknown[]): Promise<T[]> {
  const res = await (db as pg.Pool).query<T>(text, values);
  return res.rows;
}

export async function one<T extends pg.QueryResultRow>(db: Db, text: string, values?: unknown[]): Promise<T> {
  const r = await rows<T>(db, text, values);
  if (!r[0]) throw new Error(`expected one row from: ${text.slice(0, 80)}`);
  return r[0];
}

/** bigint columns arrive as strings; ids here stay far below 2^53. */
export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
