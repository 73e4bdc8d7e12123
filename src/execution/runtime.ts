// One call for the `kapitaal execute` runtime: build the configured exchange, set the execution
// context the tasks read, and start the reconcile/exit cadences. Call it before the decision
// runner's workers start (the order__*, fills__*, exits__* tasks need the context).
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { createPool } from '../db/pool.ts';
import { type ExecutionContext, setExecutionContext } from './context.ts';
import { createExecutionExchange } from './exchange.ts';
import { ensureExecutionJobs } from './jobs.ts';

export interface ExecutionSetup {
  context: ExecutionContext;
  stop(): Promise<void>;
}

export async function initExecution(opts: {
  cfg: Pick<Config, 'TRADING_MODE' | 'KRAKEN_REST_URL' | 'KRAKEN_API_KEY' | 'KRAKEN_API_SECRET'>;
  decisionPool: pg.Pool;
  /** Ingest cluster URL: the paper exchange reads its raw book and trades (not needed for simulator/live). */
  ingestUrl?: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  reconcileEverySeconds?: number;
  exitsEverySeconds?: number;
  capitalSnapshotEverySeconds?: number;
}): Promise<ExecutionSetup> {
  const ingestPool = opts.ingestUrl ? createPool(opts.ingestUrl, { max: 4, log: opts.log, applicationName: 'kapitaal-paper-market' }) : undefined;
  const { exchange, venue, ledgerExchange } = createExecutionExchange({
    config: opts.cfg,
    env: opts.env,
    ingestPool,
    decisionPool: opts.decisionPool,
    log: opts.log,
  });
  const context: ExecutionContext = {
    exchange,
    venue,
    ledgerExchange,
    log: opts.log,
    ingestPool,
    reconcileEverySeconds: opts.reconcileEverySeconds,
    exitsEverySeconds: opts.exitsEverySeconds,
    capitalSnapshotEverySeconds: opts.capitalSnapshotEverySeconds,
  };
  setExecutionContext(context);
  await ensureExecutionJobs(opts.decisionPool);
  opts.log.info({ exchange: exchange.kind, venue }, 'execution exchange ready');
  return {
    context,
    async stop() {
      await exchange.close();
      await ingestPool?.end();
    },
  };
}
