// The Graphile Worker runner of one engine process, with a heartbeat and the
// recovery of a dead predecessor's jobs. Graphile Worker keeps a dead pool's
// jobs locked for 4 hours; each process records its pool id (the jobs'
// locked_by) in engine_processes, so a successor can unlock them the moment it
// sees the old process is gone.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { EventEmitter } from 'node:events';
import { Logger as WorkerLogger, run, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import type { Logger } from 'pino';
import type pg from 'pg';
import { loadTaskList } from './task-list.ts';

export interface EngineWorkersOptions {
  pool: pg.Pool;
  role: string;
  /** Task identifiers from tasks/, or a ready task list (tests). */
  tasks: readonly string[] | TaskList;
  concurrency?: number;
  pollInterval?: number;
  heartbeatMs?: number;
  /** Another host's process counts as dead after this long without a heartbeat. */
  staleAfterSeconds?: number;
  log?: Logger;
}

export interface EngineWorkers {
  processId: string;
  poolIds: string[];
  stop(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Graphile Worker's own messages as structured pino lines (its default prints plain text). */
function workerLogger(log: Logger | undefined): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    if (!log) return;
    const fields = { worker: scope.workerId, task: scope.taskIdentifier, job_id: scope.jobId, ...(meta ?? {}) };
    // Per-job chatter ("Completed task …") is debug; failures stay visible.
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else log.debug(fields, message);
  });
}

/** Reaps processes that are dead: same host with a vanished pid, or a stale heartbeat. */
export async function reapDeadProcesses(pool: pg.Pool, staleAfterSeconds: number, log?: Logger) {
  const { rows } = await pool.query<{ process_id: string; pid: number }>(
    `select process_id, pid from kapitaal.engine_processes
      where host = $1 and stopped_at is null and reaped_at is null`,
    [os.hostname()],
  );
  const gone = rows.filter((r) => r.pid !== process.pid && !pidAlive(r.pid)).map((r) => r.process_id);
  const reaped = await pool.query<{ process_id: string; worker_ids: string[]; reason: string }>(
    `select * from kapitaal.engine_processes__reap($1, make_interval(secs => $2))`,
    [gone, staleAfterSeconds],
  );
  for (const r of reaped.rows) log?.warn({ process_id: r.process_id, reason: r.reason }, 'released the jobs of a dead engine process');
  return reaped.rows;
}

export async function startEngineWorkers(opts: EngineWorkersOptions): Promise<EngineWorkers> {
  const concurrency = opts.concurrency ?? 2;
  const staleAfter = opts.staleAfterSeconds ?? 30;
  const processId = `${opts.role}-${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const taskList = Array.isArray(opts.tasks) ? await loadTaskList(opts.tasks as string[]) : (opts.tasks as TaskList);

  await reapDeadProcesses(opts.pool, staleAfter, opts.log);
  await opts.pool.query('select kapitaal.engine_process__register($1, $2, $3, $4)', [
    processId,
    opts.role,
    os.hostname(),
    process.pid,
  ]);

  const poolIds: string[] = [];
  const recorded: Promise<unknown>[] = [];
  const events: WorkerEvents = new EventEmitter();
  // Emitted synchronously when the pool is made, before its first job fetch.
  events.on('pool:create', ({ workerPool }) => {
    poolIds.push(workerPool.id);
    recorded.push(opts.pool.query('select kapitaal.engine_process__add_pool($1, $2)', [processId, workerPool.id]));
  });
  const runner = await run({
    logger: workerLogger(opts.log),
    pgPool: opts.pool,
    taskList,
    concurrency,
    events,
    pollInterval: opts.pollInterval ?? 500,
    noHandleSignals: true,
  });
  await Promise.all(recorded);
  const runners: Runner[] = [runner];

  let stopping = false;
  const beat = setInterval(() => {
    void (async () => {
      try {
        const { rows } = await opts.pool.query('select kapitaal.engine_process__heartbeat($1) as alive', [processId]);
        if (!rows[0]?.alive && !stopping) {
          opts.log?.error({ processId }, 'this process was reaped as dead by another; stopping its workers');
          await Promise.all(runners.map((r) => r.stop()));
          return;
        }
        await reapDeadProcesses(opts.pool, staleAfter, opts.log);
      } catch (err) {
        opts.log?.warn({ err: (err as Error).message }, 'engine heartbeat failed; retrying');
      }
    })();
  }, opts.heartbeatMs ?? 5_000);
  beat.unref();

  return {
    processId,
    poolIds,
    async stop() {
      stopping = true;
      clearInterval(beat);
      await Promise.all(runners.map((r) => r.stop()));
      await opts.pool.query('select kapitaal.engine_process__stop($1)', [processId]);
    },
  };
}
