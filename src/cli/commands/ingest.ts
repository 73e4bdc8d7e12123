// `kapitaal ingest`: one persistent ingest run until SIGTERM/SIGINT (see src/ingest/run.ts and docs/INGEST.md).
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.ts';
import { resolveTopology } from '../../db/topology.ts';
import { loadIngestConfig } from '../../ingest/config.ts';
import { runIngest } from '../../ingest/run.ts';
import { createLogger } from '../../log/logger.ts';
import { startIngestJobs, type IngestJobs } from '../../runtime/ingest-jobs.ts';
import { stopSignals } from '../../runtime/stop-signals.ts';
import { UserError } from '../user-error.ts';

export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description(
      'run a persistent ingest run: Kraken WS v2 (KRAKEN_WS_URL) → raw tables of a new run_id, epochs every ' +
        'INGEST_EPOCH_MS; SIGTERM flushes and ends the run (settings: docs/INGEST.md)',
    )
    .option('--no-jobs', 'only collect: run no state refresh or decision sync jobs in this process')
    .action(async (opts: { jobs: boolean }) => {
      const cfg = loadConfig();
      const ingest = loadIngestConfig();
      const topo = resolveTopology(cfg);
      const log = createLogger(cfg.LOG_LEVEL, 'kapitaal-ingest');
      let result;
      let jobs: IngestJobs | undefined;
      // Held until the jobs have stopped too: a second signal (Ctrl-C reaches the whole process group, the
      // demo then sends SIGTERM) must not kill the process after the run ended but before its jobs did.
      const signals = stopSignals(log);
      try {
        if (opts.jobs) jobs = await startIngestJobs(cfg, log);
        result = await runIngest({ databaseUrl: topo.ingestUrl, wsUrl: cfg.KRAKEN_WS_URL, config: ingest, log, signal: signals.signal });
      } catch (err) {
        await jobs?.stop().catch(() => {});
        signals.dispose();
        throw new UserError(`ingest could not start: ${(err as Error).message}${topo.embedded ? ' (is `kapitaal db up` running?)' : ''}`);
      }
      // The run has ended and flushed; its last refresh and sync jobs may still be queued for
      // the next process, which is harmless (the refresh job stops itself for ended runs).
      await jobs?.stop();
      signals.dispose();
      if (result.status !== 'ended') process.exitCode = 1;
    });
}
