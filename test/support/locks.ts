// Deterministic concurrency helpers: instead of sleeping, wait until PostgreSQL
// itself reports that a session is blocked on a lock.
import type pg from 'pg';

/** Resolves once backend `pid` waits on a heavyweight lock (e.g. an advisory lock). */
export async function waitUntilBlocked(observer: pg.Pool | pg.Client, pid: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await observer.query<{ wait_event_type: string | null }>(
      'select wait_event_type from pg_stat_activity where pid = $1',
      [pid],
    );
    if (rows[0]?.wait_event_type === 'Lock') return;
    if (Date.now() > deadline) throw new Error(`backend ${pid} never blocked on a lock`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function backendPid(client: pg.Client | pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return rows[0]!.pid;
}
