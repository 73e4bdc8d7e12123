// Development tool: commits migrations/current/ into migrations/committed/ with
// graphile-migrate, using a throwaway embedded cluster for the databases it
// needs (development, shadow, root). If the shadow run fails, graphile-migrate
// writes the compiled SQL back into migrations/current/: restore it with
// `git checkout migrations/current`. Usage: npm run db:commit -- "message"
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commit } from 'graphile-migrate';
import { clearAllPools } from 'graphile-migrate/dist/pgReal.js';
import { Logger, runMigrations } from 'graphile-worker';
import pg from 'pg';
import { clusterDown, clusterUp, clusterUrl, localPassword, type ClusterSpec } from '../src/db/cluster.ts';
import { freePort } from '../src/db/free-port.ts';
import { MIGRATIONS_DIR, ROOT_DIR, migrateSettings } from '../src/db/migrate.ts';

const message = process.argv[2];
if (!message) {
  process.stderr.write('usage: npm run db:commit -- "what the migration does"\n');
  process.exit(2);
}

const port = await freePort();
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapitaal-commit-'));
fs.chmodSync(stateDir, 0o755);
const spec: ClusterSpec = { role: 'ingest', dir: path.join(stateDir, 'pg'), port, logicalWal: true, unsafeFast: true };
try {
  await clusterUp(spec, stateDir);
  const pw = localPassword(stateDir);
  const root = new pg.Client({ connectionString: clusterUrl(port, pw, 'postgres') });
  await root.connect();
  await root.query(fs.readFileSync(path.join(MIGRATIONS_DIR, 'roles.sql'), 'utf8'));
  await root.query('create database kapitaal_dev');
  await root.end();
  await runMigrations({ connectionString: clusterUrl(port, pw, 'kapitaal_dev'), logger: new Logger(() => () => {}) });
  await commit(
    {
      ...migrateSettings(clusterUrl(port, pw, 'kapitaal_dev'), (m) => process.stderr.write(`${m}\n`)),
      shadowConnectionString: clusterUrl(port, pw, 'kapitaal_shadow'),
      rootConnectionString: clusterUrl(port, pw, 'postgres'),
      afterReset: [
        { _: 'command', command: `"${process.execPath}" --import tsx "${path.join(ROOT_DIR, 'scripts', 'install-worker-schema.ts')}"` },
      ],
    },
    message,
  );
  clearAllPools();
} finally {
  await clusterDown(spec);
  fs.rmSync(stateDir, { recursive: true, force: true });
}
