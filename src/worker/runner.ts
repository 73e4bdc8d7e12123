// Starts a Graphile Worker runner on one cluster with a chosen set of tasks.
import { run, type Runner } from 'graphile-worker';
import type pg from 'pg';
import { loadTaskList } from './task-list.ts';

export interface WorkerOptions {
  pool: pg.Pool;
  /** Task identifiers (file names in tasks/) this runner executes. */
  tasks: readonly string[];
  concurrency?: number;
  /** Milliseconds between polls when LISTEN/NOTIFY is quiet. */
  pollInterval?: number;
}

export async function startWorker(opts: WorkerOptions): Promise<Runner> {
  return run({
    pgPool: opts.pool,
    taskList: await loadTaskList(opts.tasks),
    concurrency: opts.concurrency ?? 2,
    pollInterval: opts.pollInterval ?? 500,
    // The engine's processes handle signals themselves and stop the runner.
    noHandleSignals: true,
  });
}
