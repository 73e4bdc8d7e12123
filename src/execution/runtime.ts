// One call for the `kapitaal execute` runtime: build the configured exchange, set the execution
// context the tasks read, and start the reconcile/exit cadences. Call it before the decision
// runner's workers start (the order__*, fills__*, exits__* tasks need the context).
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { createPool } from '../db/pool.ts';
import { ExecutionsFeed, type ExecutionsFeedOptions } from '../exchange/executions-feed.ts';
import { executionsFeedUrl } from '../exchange/executions-url.ts';
import { KrakenExchange } from '../exchange/kraken-exchange.ts';
import { type ExecutionContext, setExecutionContext } from './context.ts';
import { createExecutionExchange } from './exchange.ts';
import { ExecutionWaker } from './executions-wake.ts';
import { ensureExecutionJobs } from './jobs.ts';

export interface ExecutionSetup {
  context: ExecutionContext;
  /** The executions feed (simulator and live; none for paper) and what it queued. */
  feed?: ExecutionsFeed;
  waker?: ExecutionWaker;
  stop(): Promise<void>;
}

export async function initExecution(opts: {
  cfg: Pick<Config, 'TRADING_MODE' | 'KRAKEN_REST_URL' | 'KRAKEN_API_KEY' | 'KRAKEN_API_SECRET' | 'KRAKEN_WS_AUTH_URL'>;
  decisionPool: pg.Pool;
  /** Ingest cluster URL: the paper exchange reads its raw book and trades (not needed for simulator/live). */
  ingestUrl?: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  reconcileEverySeconds?: number;
  exitsEverySeconds?: number;
  capitalSnapshotEverySeconds?: number;
  balancesEverySeconds?: number;
  /** Executions feed timings (tests), or false for none. */
  executionsFeed?:
    | false
    | (Partial<Pick<ExecutionsFeedOptions, 'reconnectMinMs' | 'reconnectMaxMs' | 'pingMs' | 'idleMs'>> & {
        /** The confirming fills__poll after a fill report (ms, default 1000; null: none). */
        confirmPollMs?: number | null;
      });
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
    balancesEverySeconds: opts.balancesEverySeconds,
  };
  setExecutionContext(context);
  await ensureExecutionJobs(opts.decisionPool);
  // Simulator and live: execution reports make the fill poll (and, for closed orders, the reconcile) due
  // at once; REST stays the source of fills. Paper fills in this process and needs no feed.
  let feed: ExecutionsFeed | undefined;
  let waker: ExecutionWaker | undefined;
  if (exchange instanceof KrakenExchange && exchange.kind !== 'paper' && opts.executionsFeed !== false) {
    const url = executionsFeedUrl(exchange.kind, opts.cfg);
    const { confirmPollMs, ...feedOpts } = opts.executionsFeed || {};
    waker = new ExecutionWaker(opts.decisionPool, opts.log, confirmPollMs);
    feed = new ExecutionsFeed({ url, getToken: () => exchange.webSocketsToken(), onExecution: waker.onExecution, log: opts.log, ...feedOpts });
    feed.start();
  }
  opts.log.info({ exchange: exchange.kind, venue, executions_feed: feed !== undefined }, 'execution exchange ready');
  return {
    context,
    feed,
    waker,
    async stop() {
      await feed?.stop();
      await waker?.idle();
      await exchange.close();
      await ingestPool?.end();
    },
  };
}
