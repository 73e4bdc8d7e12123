// `kapitaal demo` (`npm start`): the whole split topology on one machine — two
// embedded clusters, the local Kraken simulator, an ingest process and an
// attached execution process in paper mode — with one live status line.
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { clusterUp, assertPortUsable } from '../db/cluster.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { resolveTopology } from '../db/topology.ts';
import { type Dashboard, startDashboard } from '../dashboard/server.ts';
import { startSimulator } from '../sim/index.ts';
import { readOverview } from '../status/overview.ts';
import { EpochBase, statusLine } from '../status/status-line.ts';
import { startChild, stopChild, type Child } from './children.ts';

export type SizingMode = 'compounding' | 'fixed';

export interface DemoOptions {
  pairs: number;
  /** capital_policy.mode of the default account for this demo. */
  sizing: SizingMode;
  /** Stop by itself after this many seconds (0: run until Ctrl-C). */
  durationS: number;
  statusEveryMs: number;
}

export async function runDemo(cfg: Config, opts: DemoOptions, log: Logger): Promise<void> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const topo = resolveTopology(cfg);
  if (topo.embedded) {
    for (const spec of topo.clusters) await assertPortUsable(spec);
    for (const spec of topo.clusters) await clusterUp(spec, cfg.stateDir);
  }
  for (const url of new Set([topo.ingestUrl, topo.decisionUrl])) await migrateDatabase(url, { includeCurrent: true });
  say(`clusters ready: psql "$(npx kapitaal db url ingest)" / psql "$(npx kapitaal db url decision)"`);
  await setSizing(topo.decisionUrl, opts.sizing, log);
  say(`sizing: ${opts.sizing} (capital_policy.mode of account default; --sizing ${opts.sizing === 'fixed' ? 'compounding' : 'fixed'} for the other)`);
  const dashboard = await startDemoDashboard(cfg, topo.ingestUrl, topo.decisionUrl, say);

  const l3Token = 'demo-l3-token';
  const sim = await startSimulator({ port: 0, pairs: opts.pairs, rate: 'realistic', l3Token });
  say(`simulator on ${sim.url} (${opts.pairs} pairs)`);

  const logDir = path.join(cfg.stateDir, 'logs');
  const env = {
    ...process.env,
    KAPITAAL_STATE_DIR: cfg.stateDir,
    KRAKEN_WS_URL: sim.url,
    KRAKEN_L3_TOKEN: l3Token,
    INGEST_TOP_N: String(opts.pairs),
    INGEST_QUOTES: '*',
    INGEST_UNIVERSE_WARMUP_MS: '2000',
    TRADING_MODE: 'paper',
    // The children log to files, and `kapitaal validate` reads their info-level markers.
    LOG_LEVEL: ['debug', 'trace'].includes(cfg.LOG_LEVEL) ? cfg.LOG_LEVEL : 'info',
  };
  const children: Child[] = [
    startChild('ingest', ['ingest'], env, logDir),
    startChild('execute', ['execute'], { ...env, EXECUTION_ONLY: 'true' }, logDir),
  ];
  say(`ingest and execution processes started; logs in ${logDir}`);

  const ingestPool = createPool(topo.ingestUrl, { max: 2, log, applicationName: 'kapitaal-demo-status' });
  const decisionPool = createPool(topo.decisionUrl, { max: 2, log, applicationName: 'kapitaal-demo-status' });
  const tty = process.stdout.isTTY;
  const epochs = new EpochBase();
  let stopping = false;
  const started = Date.now();

  const done = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('Ctrl-C'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    if (opts.durationS > 0) setTimeout(() => resolve(`${opts.durationS} s elapsed`), opts.durationS * 1000).unref();
    for (const c of children) void c.exited.then((code) => !stopping && resolve(`${c.name} exited with ${code}; see ${c.logFile}`));
  });
  const tick = setInterval(() => {
    void readOverview(ingestPool, decisionPool).then((now) => {
      epochs.observe(now);
      const line = statusLine(now, epochs.base);
      const elapsed = `${Math.round((Date.now() - started) / 1000)}s`;
      if (tty) process.stdout.write(`\r\x1b[2K${elapsed} ${line}`.slice(0, (process.stdout.columns ?? 200) + 8));
      else process.stdout.write(`${elapsed} ${line}\n`);
    });
  }, opts.statusEveryMs);

  const why = await done;
  stopping = true;
  clearInterval(tick);
  if (tty) process.stdout.write('\n');
  say(`stopping (${why}) …`);
  // Execution first, so nothing is decided on data that stops arriving.
  for (const c of [...children].reverse()) say(`${c.name} exited with ${await stopChild(c)}`);
  await sim.close();
  await dashboard?.close();
  await ingestPool.end();
  await decisionPool.end();
  say('stopped; the clusters keep running (`npx kapitaal db down` stops them)');
}

/** The demo account sizes as asked: compounding from the runtime's capital snapshots, or fixed. */
async function setSizing(decisionUrl: string, mode: SizingMode, log: Logger): Promise<void> {
  const pool = createPool(decisionUrl, { max: 1, log, applicationName: 'kapitaal-demo' });
  try {
    await pool.query(`update kapitaal.capital_policy set mode = $1 where account = 'default'`, [mode]);
  } finally {
    await pool.end();
  }
}

/** The dashboard is a window, not part of trading: if its port is taken the demo says so and runs on. */
async function startDemoDashboard(cfg: Config, ingestUrl: string, decisionUrl: string, say: (l: string) => void): Promise<Dashboard | null> {
  if (cfg.DASHBOARD_PORT === null) {
    say('dashboard off (DASHBOARD_PORT=off)');
    return null;
  }
  try {
    const d = await startDashboard({ host: cfg.DASHBOARD_HOST, port: cfg.DASHBOARD_PORT, ingestUrl, decisionUrl, token: cfg.DASHBOARD_TOKEN });
    say(`dashboard on ${d.url}`);
    return d;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    say(`dashboard not started: ${cfg.DASHBOARD_HOST}:${cfg.DASHBOARD_PORT}: ${e.code ?? e.message}${e.code ? ' (set DASHBOARD_PORT, or off)' : ''}`);
    return null;
  }
}
