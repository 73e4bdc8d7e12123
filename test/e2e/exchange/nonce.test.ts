// kraken_nonce__next: strictly increasing per key across concurrent sessions and restarts, keyed by
// a hash of the key (never the key itself).
import { beforeAll, describe, expect, it } from 'vitest';
import { PgNonceSource, apiKeyId } from '../../../src/exchange/nonce.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { backendPid, waitUntilBlocked } from '../../support/locks.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const KEY = 'nonce-test-api-key-0123456789';

describe('kraken_nonce__next', () => {
  it('two concurrent clients never get the same or a decreasing nonce', async () => {
    const [a, b] = [await db.client(), await db.client()];
    const sa = new PgNonceSource(a, KEY);
    const sb = new PgNonceSource(b, KEY);
    const got: { who: 'a' | 'b'; n: bigint }[] = [];
    const run = async (who: 'a' | 'b', s: PgNonceSource) => {
      for (let i = 0; i < 150; i++) got.push({ who, n: await s.next() });
    };
    await Promise.all([run('a', sa), run('b', sb)]);
    const all = got.map((g) => g.n);
    expect(new Set(all).size).toBe(300);
    for (const who of ['a', 'b'] as const) {
      const mine = got.filter((g) => g.who === who).map((g) => g.n);
      for (let i = 1; i < mine.length; i++) expect(mine[i]! > mine[i - 1]!).toBe(true);
    }
    const max = all.reduce((m, n) => (n > m ? n : m), 0n);
    // After a "restart" (a brand new session), the next nonce is above everything handed out.
    const c = await db.client();
    const after = await new PgNonceSource(c, KEY).next();
    expect(after > max).toBe(true);
  });

  it('a session holding the row lock makes the other wait, and the other still gets a larger nonce', async () => {
    const [a, b] = [await db.client(), await db.client()];
    const bPid = await backendPid(b);
    await a.query('begin');
    const first = BigInt((await a.query<{ n: string }>('select kraken_nonce__next($1)::text as n', [apiKeyId('lock-key')])).rows[0]!.n);
    let bDone = false;
    const second = b.query<{ n: string }>('select kraken_nonce__next($1)::text as n', [apiKeyId('lock-key')]).then((r) => {
      bDone = true;
      return BigInt(r.rows[0]!.n);
    });
    // b is blocked on a's row lock: wait until the server says so (no sleeps as proof).
    await waitUntilBlocked(db.pool, bPid);
    expect(bDone).toBe(false);
    await a.query('commit');
    expect((await second) > first).toBe(true);
  });

  it('when the clock goes back, nonces still grow by one', async () => {
    const id = apiKeyId('clock-key');
    const q = (now: string) => db.pool.query<{ n: string }>('select kraken_nonce__next($1, $2::timestamptz)::text as n', [id, now]).then((r) => BigInt(r.rows[0]!.n));
    const n1 = await q('2030-01-01T00:00:00Z');
    expect(n1).toBe(BigInt(Date.parse('2030-01-01T00:00:00Z')) * 1000n);
    const n2 = await q('2029-01-01T00:00:00Z');
    expect(n2).toBe(n1 + 1n);
    const n3 = await q('2030-01-01T00:00:00.002Z');
    expect(n3).toBe(n1 + 2000n);
  });

  it('stores a hash of the key, never the key', async () => {
    await new PgNonceSource(db.pool, KEY).next();
    const { rows } = await db.pool.query<{ t: string }>('select t::text from kraken_nonces t');
    const text = rows.map((r) => r.t).join('\n');
    expect(text).toContain(apiKeyId(KEY));
    expect(text).not.toContain(KEY);
    await expect(db.pool.query(`select kraken_nonce__next('raw-key-not-a-hash')`)).rejects.toThrow(/check constraint/);
  });
});
