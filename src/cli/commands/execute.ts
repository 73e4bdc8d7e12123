// `kapitaal execute`: the execution runtime on the decision cluster until SIGINT/SIGTERM. With
// EXECUTION_ONLY=true it never ingests: it attaches to the newest epoch of a live ingest run as
// the decision cluster shows it, reports attach-blocked while there is none, and binds as soon
// as one appears (docs/DECISION_CLUSTER.md).
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.ts';
import { loadDecisionConfig } from '../../decision/config.ts';
import { startExecutionRuntime } from '../../decision/runtime.ts';
import { resolveTopology } from '../../db/topology.ts';
import { createLogger } from '../../log/logger.ts';
import { stopSignals } from '../../runtime/stop-signals.ts';
import { UserError } from '../user-error.ts';

export function registerExecuteCommand(program: Command): void {
  program
    .command('execute')
    .description(
      'run the execution runtime on the decision cluster: evaluation jobs (and execution jobs) on decision-cluster ' +
        'state only; with EXECUTION_ONLY=true it attaches to a live ingest run and never ingests',
    )
    .action(async () => {
      const cfg = loadConfig();
      const decisionCfg = loadDecisionConfig();
      const topo = resolveTopology(cfg);
      const log = createLogger(cfg.LOG_LEVEL, 'kapitaal-execute');
      if (!cfg.EXECUTION_ONLY) {
        log.warn('EXECUTION_ONLY is not set: `kapitaal execute` still never ingests; run `kapitaal ingest` (or the demo) for data');
      }
      let runtime;
      try {
        runtime = await startExecutionRuntime({ cfg, log, decisionCfg });
      } catch (err) {
        throw new UserError(
          `execute could not start: ${(err as Error).message}${topo.embedded ? ' (is `kapitaal db up` running?)' : ''}`,
        );
      }
      const signals = stopSignals(log);
      await signals.stopped;
      await runtime.stop();
      signals.dispose();
      log.info('execution runtime stopped');
    });
}
