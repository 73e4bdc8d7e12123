// Logical replication mode: a publication of the decision tables on the ingest cluster and a
// subscription on the decision cluster. The subscriber applies each refresh transaction as one
// transaction, so a generation becomes visible there atomically, exactly as with the sync.
import pg from 'pg';
import type { Logger } from 'pino';

export interface ReplicationOptions {
  ingestUrl: string;
  decisionUrl: string;
  /** Publication, subscription and slot name (the slot name must be unique on the ingest cluster). */
  name?: string;
  /**
   * Empty the decision copies of the replicated tables first (needed when sync mode filled them:
   * the initial copy would otherwise hit duplicate keys). They are copies; the subscription refills them.
   */
  reset?: boolean;
  log?: Logger;
}

export interface ReplicationSetup {
  publication: 'created' | 'updated';
  subscription: 'created' | 'updated';
  name: string;
}

/** The subscription's conninfo for an ingest URL: host, port, user, password, dbname. */
export function conninfoFromUrl(url: string): string {
  const u = new URL(url);
  const q = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const parts: [string, string][] = [
    ['host', u.hostname || '127.0.0.1'],
    ['port', u.port || '5432'],
    ['user', decodeURIComponent(u.username)],
    ['password', decodeURIComponent(u.password)],
    ['dbname', decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres'],
  ];
  return parts.filter(([, v]) => v !== '').map(([k, v]) => `${k}=${q(v)}`).join(' ');
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Sets up (or repairs) publication and subscription. Idempotent. */
export async function ensureReplication(opts: ReplicationOptions): Promise<ReplicationSetup> {
  const name = opts.name ?? 'kapitaal_decision';
  const ident = pg.escapeIdentifier(name);
  const publication = await withClient(opts.ingestUrl, async (c) => {
    const { rows } = await c.query<{ wal_level: string }>('show wal_level');
    if (rows[0]?.wal_level !== 'logical') {
      throw new Error(`the ingest cluster runs with wal_level=${rows[0]?.wal_level}; logical replication needs wal_level=logical`);
    }
    const r = await c.query<{ r: 'created' | 'updated' }>('select kapitaal.decision_publication__ensure($1) as r', [name]);
    await c.query(`select kapitaal.decision_settings__configure('ingest', 'replication')`);
    return r.rows[0]!.r;
  });
  const conninfo = conninfoFromUrl(opts.ingestUrl);
  const subscription = await withClient(opts.decisionUrl, async (c) => {
    const { rows } = await c.query<{ subenabled: boolean }>(
      `select s.subenabled from pg_subscription s join pg_database d on d.oid = s.subdbid
        where d.datname = current_database() and s.subname = $1`,
      [name],
    );
    await c.query(`select kapitaal.decision_settings__configure('decision', 'replication')`);
    if (rows[0]) {
      await c.query(`alter subscription ${ident} connection ${pg.escapeLiteral(conninfo)}`);
      if (!rows[0].subenabled) await c.query(`alter subscription ${ident} enable`);
      await c.query(`alter subscription ${ident} refresh publication with (copy_data = true)`);
      return 'updated' as const;
    }
    const tables = (await c.query<{ t: string }>('select unnest(kapitaal.decision_publication__tables())::text as t')).rows.map((r) => r.t);
    if (opts.reset) {
      await c.query(`truncate ${tables.join(', ')}`);
    } else {
      const counts = await c.query<{ n: string }>(tables.map((t) => `select count(*) as n from ${t}`).join(' union all '));
      if (counts.rows.some((r) => Number(r.n) > 0)) {
        throw new Error(
          'the decision cluster already holds rows of the replicated tables (sync mode ran before); ' +
            'set up replication with reset (kapitaal db replicate --reset) to empty these copies first',
        );
      }
    }
    await c.query(
      `create subscription ${ident} connection ${pg.escapeLiteral(conninfo)} publication ${ident}
         with (copy_data = true, slot_name = ${pg.escapeLiteral(name)})`,
    );
    return 'created' as const;
  });
  opts.log?.info({ name, publication, subscription }, 'logical replication ingest -> decision set up');
  return { publication, subscription, name };
}

/** Waits until the initial copy of every replicated table is done (state r = ready). */
export async function waitForReplicationReady(decisionUrl: string, name = 'kapitaal_decision', timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withClient(decisionUrl, async (c) => {
    for (;;) {
      const { rows } = await c.query<{ total: string; ready: string }>(
        `select count(*) as total, count(*) filter (where r.srsubstate = 'r') as ready
           from pg_subscription s join pg_subscription_rel r on r.srsubid = s.oid
           join pg_database d on d.oid = s.subdbid
          where d.datname = current_database() and s.subname = $1`,
        [name],
      );
      const r = rows[0]!;
      if (Number(r.total) > 0 && r.total === r.ready) return;
      if (Date.now() > deadline) throw new Error(`subscription ${name}: ${r.ready} of ${r.total} tables ready after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 20));
    }
  });
}

/** Removes subscription, slot and publication. Works when the ingest cluster is unreachable (the slot then stays there). */
export async function dropReplication(opts: { ingestUrl?: string; decisionUrl: string; name?: string }): Promise<void> {
  const name = opts.name ?? 'kapitaal_decision';
  const ident = pg.escapeIdentifier(name);
  await withClient(opts.decisionUrl, async (c) => {
    const { rows } = await c.query(
      `select 1 from pg_subscription s join pg_database d on d.oid = s.subdbid
        where d.datname = current_database() and s.subname = $1`,
      [name],
    );
    if (rows.length) {
      await c.query(`alter subscription ${ident} disable`);
      await c.query(`alter subscription ${ident} set (slot_name = none)`);
      await c.query(`drop subscription ${ident}`);
    }
    await c.query(`select kapitaal.decision_settings__configure('decision', 'sync')`);
  });
  if (!opts.ingestUrl) return;
  await withClient(opts.ingestUrl, async (c) => {
    // The walsender may hold the slot for a moment after the subscription was disabled.
    for (let i = 0; i < 200; i++) {
      const { rows } = await c.query<{ active: boolean }>('select active from pg_replication_slots where slot_name = $1', [name]);
      if (!rows[0]) break;
      if (!rows[0].active) {
        await c.query('select pg_drop_replication_slot($1)', [name]);
        break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    await c.query(`drop publication if exists ${ident}`);
    await c.query(`select kapitaal.decision_settings__configure('ingest', 'sync')`);
  });
}
