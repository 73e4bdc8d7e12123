// `kapitaal db …`: the clusters a new user meets first.
import { Command, Option } from 'commander';
import { loadConfig } from '../../config/config.ts';
import { assertPortUsable, clusterDown, clusterRunning, clusterUp } from '../../db/cluster.ts';
import { currentHasContent, migrateDatabase } from '../../db/migrate.ts';
import { resolveTopology, type Topology } from '../../db/topology.ts';
import { UserError } from '../user-error.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

async function migrateAll(topo: Topology) {
  if (currentHasContent()) say('note: applying migrations/current/ as well (uncommitted development migrations)');
  const urls = [...new Set([topo.ingestUrl, topo.decisionUrl])];
  for (const url of urls) await migrateDatabase(url, { includeCurrent: true });
  say(`migrated ${urls.length === 2 ? 'ingest and decision databases' : 'the shared database'}`);
}

export function registerDbCommands(program: Command) {
  const db = program.command('db').description('start, stop, migrate and locate the PostgreSQL clusters');

  db.command('up')
    .description('start the ingest and decision clusters (embedded PostgreSQL 17) and migrate them; idempotent')
    .option('--no-migrate', 'start only, do not apply migrations')
    .action(async (opts: { migrate: boolean }) => {
      const cfg = loadConfig();
      const topo = resolveTopology(cfg);
      if (!topo.embedded) {
        say('DATABASE_URL is set: using that server, no cluster started');
      } else {
        // Check every port first, so a conflict never leaves one cluster half up.
        for (const spec of topo.clusters) await assertPortUsable(spec);
        for (const spec of topo.clusters) {
          const info = await clusterUp(spec, cfg.stateDir);
          say(`${spec.role} cluster up on 127.0.0.1:${info.port} (data ${info.dataDir})`);
        }
      }
      if (opts.migrate) await migrateAll(topo);
    });

  db.command('down')
    .description('stop both embedded clusters (fast shutdown; data is kept)')
    .action(async () => {
      const cfg = loadConfig();
      const topo = resolveTopology(cfg);
      if (!topo.embedded) throw new UserError('DATABASE_URL is set: the engine did not start that server and will not stop it');
      for (const spec of topo.clusters) {
        say(`${spec.role} cluster ${(await clusterDown(spec)) ? 'stopped' : 'was not running'}`);
      }
    });

  db.command('url')
    .description('print a connection URL for psql: psql "$(kapitaal db url ingest)"')
    .addArgument(new Command().createArgument('<role>', 'ingest or decision').choices(['ingest', 'decision']))
    .action((role: 'ingest' | 'decision') => {
      const topo = resolveTopology(loadConfig());
      process.stdout.write(`${role === 'ingest' ? topo.ingestUrl : topo.decisionUrl}\n`);
    });

  db.command('migrate')
    .description('apply the migrations to both databases (safe to run twice, or twice at once)')
    .action(async () => {
      await migrateAll(resolveTopology(loadConfig()));
    });

  db.command('status')
    .description('show whether each embedded cluster is running')
    .addOption(new Option('--json', 'machine-readable output'))
    .action((opts: { json?: boolean }) => {
      const cfg = loadConfig();
      const topo = resolveTopology(cfg);
      const rows = topo.clusters.map((spec) => ({ role: spec.role, port: spec.port, running: clusterRunning(spec) !== null }));
      if (opts.json) process.stdout.write(`${JSON.stringify({ embedded: topo.embedded, clusters: rows })}\n`);
      else if (!topo.embedded) process.stdout.write('external servers (DATABASE_URL); nothing embedded\n');
      else for (const r of rows) process.stdout.write(`${r.role}\t127.0.0.1:${r.port}\t${r.running ? 'running' : 'stopped'}\n`);
    });
}
