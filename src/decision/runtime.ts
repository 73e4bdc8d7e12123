// The two runtimes of the decision side:
//  - startDecisionFeed: in the ingest process. Marks the ingest database's role, gives
//    state__sync its decision pool (sync mode) or sets up logical replication, and runs the
//    chain watchdog on the ingest cluster. Its tasks go into the ingest runner.
//  - startExecutionRuntime: `kapitaal execute` (and the demo). Runs the decision-cluster
//    Graphile Worker (evaluate, plus execution's tasks), attaches to a live ingest run as seen
//    on the decision cluster, and runs the watchdog there.
import fs from 'node:fs';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Config } from '../config/config.ts';
import { createPool } from '../db/pool.ts';
import { resolveTopology } from '../db/topology.ts';
import { logPlacement } from '../execution/placement.ts';
import { initExecution } from '../execution/runtime.ts';
import { mark } from '../log/logger.ts';
import { type EngineWorkers, startEngineWorkers } from '../worker/engine-workers.ts';
import { TASKS_DIR } from '../worker/task-list.ts';
import { type DecisionConfig, loadDecisionConfig } from './config.ts';
import { decisionContext, type EvaluationRow, setDecisionContext } from './context.ts';
import { rows } from './db.ts';
import { ensureReplication } from './replication.ts';

/** Task-file prefixes that run on the decision cluster (execution's submit/reconcile/exits included). */
export const EXECUTION_TASK_PREFIXES = ['evaluation__', 'order__', 'orders__', 'position__', 'positions__', 'exit__', 'exits__', 'execution__', 'capital__', 'fill__', 'fills__'];
/** Task files of the decision feed that run in the ingest runner. */
export const INGEST_FEED_TASKS = ['state__sync'];

/** The decision-cluster task list: every tasks/ file with an execution prefix (so new execution tasks need no change here). */
export function executionTaskNames(extra: readonly string[] = []): string[] {
  const names = fs
    .readdirSync(TASKS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => EXECUTION_TASK_PREFIXES.some((p) => n.startsWith(p)));
  return [...new Set([...names, ...extra])].sort();
}

interface Watchdog {
  stop(): void;
}

function startWatchdog(pool: pg.Pool, everySeconds: number, log: Logger, side: string): Watchdog {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const repairs = await rows<{ task_identifier: string | null; job_key: string | null; action: string; detail: string }>(
        pool,
        'select * from kapitaal.job_chain__watchdog()',
      );
      for (const r of repairs) {
        const f = { side, task: r.task_identifier, job_key: r.job_key, action: r.action, detail: r.detail };
        // A new run's chain beginning is routine; everything else is a repair worth a warning.
        if (r.action === 'started') log.info({ marker: 'JOB_CHAIN_STARTED', ...f }, 'JOB_CHAIN_STARTED');
        else log.warn({ marker: 'JOB_CHAIN_REPAIRED', ...f }, 'JOB_CHAIN_REPAIRED');
      }
    } catch (err) {
      log.warn({ side, err: (err as Error).message }, 'job chain watchdog failed; retrying');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), everySeconds * 1000);
  timer.unref();
  void tick();
  return { stop: () => clearInterval(timer) };
}

export interface DecisionFeed {
  feed: 'sync' | 'replication' | 'none';
  /** Add these to the ingest runner's task list. */
  tasks: string[];
  stop(): Promise<void>;
}

/** Ingest side of the decision feed (call in the ingest process, with its ingest pool). */
export async function startDecisionFeed(opts: {
  cfg: Config;
  log: Logger;
  ingestPool: pg.Pool;
  decisionCfg?: DecisionConfig;
  /** Run the chain watchdog on the ingest cluster (default true). */
  watchdog?: boolean;
}): Promise<DecisionFeed> {
  const dcfg = opts.decisionCfg ?? loadDecisionConfig();
  const topo = resolveTopology(opts.cfg);
  const ctx = decisionContext();
  let decisionPool: pg.Pool | undefined;
  let feed: DecisionFeed['feed'];
  if (!topo.separated) {
    feed = 'none';
    await opts.ingestPool.query(`select kapitaal.decision_settings__configure('shared', 'none')`);
  } else if (dcfg.DECISION_FEED === 'replication') {
    feed = 'replication';
    await ensureReplication({ ingestUrl: topo.ingestUrl, decisionUrl: topo.decisionUrl, name: dcfg.DECISION_SUBSCRIPTION, reset: true, log: opts.log });
  } else {
    feed = 'sync';
    decisionPool = createPool(topo.decisionUrl, { log: opts.log, applicationName: 'kapitaal-sync', max: 4 });
    await opts.ingestPool.query(`select kapitaal.decision_settings__configure('ingest', 'sync')`);
    await decisionPool.query(`select kapitaal.decision_settings__configure('decision', 'sync')`);
  }
  setDecisionContext({ ...ctx, log: opts.log, decisionPool: decisionPool ?? ctx.decisionPool, syncCadenceSeconds: dcfg.SYNC_CADENCE_SECONDS });
  const wd = opts.watchdog === false ? undefined : startWatchdog(opts.ingestPool, dcfg.CHAIN_WATCHDOG_SECONDS, opts.log, 'ingest');
  opts.log.info({ feed, separated: topo.separated }, 'decision feed started');
  return {
    feed,
    tasks: feed === 'sync' ? [...INGEST_FEED_TASKS] : [],
    async stop() {
      wd?.stop();
      await decisionPool?.end();
    },
  };
}

export interface Binding {
  attached: boolean;
  run_id: number | null;
  epoch: number | null;
  reason: string;
}

export interface ExecutionRuntime {
  pool: pg.Pool;
  workers: EngineWorkers;
  /** The current attach binding (updated by every evaluation). */
  binding(): Binding;
  stop(): Promise<void>;
}

async function resolveBinding(pool: pg.Pool): Promise<Binding> {
  const [r] = await rows<{ attached: boolean; run_id: string | null; epoch: string | null; reason: string }>(
    pool,
    'select attached, run_id, epoch, reason from kapitaal.execution_attach__resolve()',
  );
  return { attached: Boolean(r?.attached), run_id: r?.run_id ? Number(r.run_id) : null, epoch: r?.epoch ? Number(r.epoch) : null, reason: r?.reason ?? 'unknown' };
}

/** The decision side in-process: `kapitaal execute`, or the demo. Returns a handle with stop(). */
export async function startExecutionRuntime(opts: {
  cfg: Config;
  log: Logger;
  decisionCfg?: DecisionConfig;
  /** Extra task identifiers for the decision runner (execution's, when not matched by prefix). */
  tasks?: readonly string[];
}): Promise<ExecutionRuntime> {
  const dcfg = opts.decisionCfg ?? loadDecisionConfig();
  const topo = resolveTopology(opts.cfg);
  const log = opts.log;
  const pool = createPool(topo.decisionUrl, { log, applicationName: 'kapitaal-execution' });
  const role = topo.separated ? 'decision' : 'shared';
  const feed = topo.separated ? dcfg.DECISION_FEED : 'none';
  await pool.query('select kapitaal.decision_settings__configure($1, $2, true)', [role, feed]);

  let binding = await resolveBinding(pool);
  const onEvaluation = (e: EvaluationRow) => {
    const attached = e.outcome !== 'attach_blocked';
    if (attached && (!binding.attached || binding.run_id !== e.run_id)) {
      binding = { attached: true, run_id: e.run_id, epoch: e.epoch, reason: 'ATTACHED' };
      mark(log, 'EXECUTION_ATTACHED', { run_id: e.run_id, epoch: e.epoch, generation_id: e.generation_id, evaluation_id: e.evaluation_id });
    } else if (!attached && binding.attached) {
      binding = { attached: false, run_id: e.run_id, epoch: e.epoch, reason: e.reason };
    } else if (attached) {
      binding.epoch = e.epoch;
    }
  };
  // The exchange and cadences of the order tasks (paper by default), set before any worker starts.
  const execution = await initExecution({ cfg: opts.cfg, decisionPool: pool, ingestUrl: topo.ingestUrl, log });
  const onEvaluationLogged = (e: EvaluationRow) => {
    onEvaluation(e);
    if (e.outcome === 'candidates') void logPlacement(pool, e.evaluation_id, log).catch(() => {});
  };
  const ctx = decisionContext();
  setDecisionContext({ ...ctx, log, evaluationCadenceSeconds: dcfg.EVALUATION_CADENCE_SECONDS, onEvaluation: onEvaluationLogged });

  mark(log, 'EXECUTION_ENGINE_START', {
    execution_only: opts.cfg.EXECUTION_ONLY,
    trading_mode: opts.cfg.TRADING_MODE,
    separated: topo.separated,
    feed,
    binding,
  });
  if (!binding.attached) {
    // Not an error: evaluations report attach_blocked and retry at the cadence until a run appears.
    log.warn({ marker: 'EXECUTION_ATTACH_BLOCKED', reason: binding.reason }, 'EXECUTION_ATTACH_BLOCKED');
  }

  const workers = await startEngineWorkers({
    pool,
    role: 'execution',
    tasks: executionTaskNames(opts.tasks ?? []),
    concurrency: dcfg.EXECUTION_CONCURRENCY,
    log,
  });
  // Seed the chain (no-op when a cycle is already queued).
  await pool.query(`select kapitaal.job_chain__next('evaluation__run', 'evaluation__run', '{}', 'immediate')`);
  const wd = startWatchdog(pool, dcfg.CHAIN_WATCHDOG_SECONDS, log, 'decision');
  return {
    pool,
    workers,
    binding: () => binding,
    async stop() {
      wd.stop();
      await workers.stop();
      await execution.stop();
      await pool.end();
    },
  };
}
