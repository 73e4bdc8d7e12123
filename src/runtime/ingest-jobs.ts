// The job side of an ingest process: a Graphile Worker runner on the ingest
// cluster for the state refresh and the decision feed (sync). The chain
// watchdog started by the feed seeds the refresh of every running run, so a run
// started by this process is picked up within one watchdog period.
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { createPool } from '../db/pool.ts';
import { resolveTopology } from '../db/topology.ts';
import { startDecisionFeed } from '../decision/runtime.ts';
import { startEngineWorkers } from '../worker/engine-workers.ts';

export interface IngestJobs {
  stop(): Promise<void>;
}

export async function startIngestJobs(cfg: Config, log: Logger): Promise<IngestJobs> {
  const topo = resolveTopology(cfg);
  const pool = createPool(topo.ingestUrl, { log, applicationName: 'kapitaal-ingest-jobs', max: 6 });
  const feed = await startDecisionFeed({ cfg, log, ingestPool: pool });
  const workers = await startEngineWorkers({
    pool,
    role: 'ingest',
    tasks: ['run_symbol_state__refresh', ...feed.tasks],
    concurrency: 2,
    log,
  });
  log.info({ feed: feed.feed, process_id: workers.processId }, 'ingest jobs started (refresh, decision feed)');
  return {
    async stop() {
      await workers.stop();
      await feed.stop();
      await pool.end();
    },
  };
}
