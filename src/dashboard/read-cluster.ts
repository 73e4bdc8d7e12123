// Reads one cluster's panels in one read-only, repeatable-read transaction: every panel sees
// the same snapshot (orders agree with fills, ages share one now()). A failing panel is
// rolled back to its savepoint and reported; the others still answer. A cluster that cannot
// be reached is one error for all its panels.
import type pg from 'pg';
import type { PanelReader } from './panels.ts';
import { redact } from './redact.ts';

export type Panel = { ok: true; data: unknown } | { ok: false; error: string };

export interface ClusterView {
  ok: boolean;
  /** Why the cluster could not be read at all (no panels then). */
  error?: string;
  /** The role the panels were read as (kapitaal_readonly where the login may use it). */
  role?: string;
  panels: Record<string, Panel>;
}

export async function readCluster(pool: pg.Pool, panels: Record<string, PanelReader>, secrets: string[]): Promise<ClusterView> {
  const clean = (err: unknown) => redact(err instanceof Error ? err.message : String(err), secrets);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    return { ok: false, error: clean(err), panels: {} };
  }
  let broken: Error | undefined;
  try {
    await client.query('begin isolation level repeatable read read only');
    // Least privilege where the login may take it (a superuser or a member of the group role);
    // otherwise the session's own role, still read-only.
    await client.query(`
      do $$ begin
        if exists (select 1 from pg_roles where rolname = 'kapitaal_readonly')
           and pg_has_role(current_user, 'kapitaal_readonly', 'member') then
          set local role kapitaal_readonly;
        end if;
      end $$`);
    const role = (await client.query<{ r: string }>('select current_user as r')).rows[0]!.r;
    const out: Record<string, Panel> = {};
    for (const [name, read] of Object.entries(panels)) {
      await client.query('savepoint panel');
      try {
        out[name] = { ok: true, data: await read(client) };
        await client.query('release savepoint panel');
      } catch (err) {
        out[name] = { ok: false, error: clean(err) };
        await client.query('rollback to savepoint panel');
      }
    }
    await client.query('rollback');
    return { ok: true, role, panels: out };
  } catch (err) {
    broken = err as Error;
    return { ok: false, error: clean(err), panels: {} };
  } finally {
    // A connection that failed outside a panel is not trusted again.
    client.release(broken);
  }
}
