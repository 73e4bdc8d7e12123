// `kapitaal db replicate`: logical replication ingest -> decision (publication on the ingest
// cluster, subscription on the decision cluster) for the state, generation, epoch, snapshot,
// run and pair tables. Idempotent. --drop removes it again.
import { Command } from 'commander';
import { loadConfig } from '../../config/config.ts';
import { loadDecisionConfig } from '../../decision/config.ts';
import { dropReplication, ensureReplication, waitForReplicationReady } from '../../decision/replication.ts';
import { resolveTopology } from '../../db/topology.ts';
import { UserError } from '../user-error.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

export function registerReplicateCommand(program: Command): void {
  const db = program.commands.find((c) => c.name() === 'db') ?? program.command('db');
  db.command('replicate')
    .description('feed the decision cluster by logical replication (publication on ingest, subscription on decision); idempotent')
    .option('--name <name>', 'publication/subscription/slot name (default DECISION_SUBSCRIPTION or kapitaal_decision)')
    .option('--reset', 'empty the decision copies first (needed after sync mode filled them)', false)
    .option('--drop', 'remove subscription, slot and publication (back to sync mode)', false)
    .action(async (o: { name?: string; reset: boolean; drop: boolean }) => {
      const cfg = loadConfig();
      const dcfg = loadDecisionConfig();
      const topo = resolveTopology(cfg);
      if (!topo.separated) throw new UserError('one shared database (no DECISION_DATABASE_URL): nothing to replicate');
      const name = o.name ?? dcfg.DECISION_SUBSCRIPTION;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new UserError(`--name must be a lowercase SQL identifier, got ${name}`);
      try {
        if (o.drop) {
          await dropReplication({ ingestUrl: topo.ingestUrl, decisionUrl: topo.decisionUrl, name });
          say(`replication ${name} removed; set DECISION_FEED=sync for the sync job`);
          return;
        }
        const r = await ensureReplication({ ingestUrl: topo.ingestUrl, decisionUrl: topo.decisionUrl, name, reset: o.reset });
        await waitForReplicationReady(topo.decisionUrl, name);
        say(`publication ${name} ${r.publication} on ingest, subscription ${name} ${r.subscription} on decision; initial copy done`);
        say('set DECISION_FEED=replication so that the ingest process does not run the sync job');
      } catch (err) {
        throw new UserError(`db replicate: ${(err as Error).message}${topo.embedded ? ' (is `kapitaal db up` running?)' : ''}`);
      }
    });
}
