// The one thing the execution code needs from a database handle: query(). A pool, a pooled client,
// a plain client and Graphile Worker's helpers.query all fit.
export interface Db {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export async function rowsOf<T>(db: Db, text: string, values?: unknown[]): Promise<T[]> {
  return (await db.query(text, values)).rows as T[];
}

export async function oneOf<T>(db: Db, text: string, values?: unknown[]): Promise<T> {
  const r = await rowsOf<T>(db, text, values);
  if (!r[0]) throw new Error(`expected one row from: ${text.slice(0, 80)}`);
  return r[0];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
