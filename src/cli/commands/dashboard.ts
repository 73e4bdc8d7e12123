// `kapitaal dashboard`: the read-only dashboard page alone, against the configured clusters.
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.ts';
import { DashboardRefused, startDashboard } from '../../dashboard/server.ts';
import { resolveTopology } from '../../db/topology.ts';
import { stopSignals } from '../../runtime/stop-signals.ts';
import { UserError } from '../user-error.ts';

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description(
      'serve the read-only dashboard (runs, sync lag, route freshness, regimes, orders, fills, positions, equity, ' +
        'worker queue) on DASHBOARD_HOST:DASHBOARD_PORT (default 127.0.0.1:8780); Ctrl-C stops',
    )
    .action(async () => {
      const cfg = loadConfig();
      if (cfg.DASHBOARD_PORT === null) throw new UserError('the dashboard is switched off (DASHBOARD_PORT=off)');
      const topo = resolveTopology(cfg);
      let dash;
      try {
        dash = await startDashboard({
          host: cfg.DASHBOARD_HOST, port: cfg.DASHBOARD_PORT, ingestUrl: topo.ingestUrl, decisionUrl: topo.decisionUrl, token: cfg.DASHBOARD_TOKEN,
        });
      } catch (err) {
        if (err instanceof DashboardRefused) throw new UserError(err.message);
        const e = err as NodeJS.ErrnoException;
        throw new UserError(`dashboard cannot listen on ${cfg.DASHBOARD_HOST}:${cfg.DASHBOARD_PORT}: ${e.code ?? e.message} (set DASHBOARD_PORT)`);
      }
      process.stdout.write(`kapitaal dashboard on ${dash.url}${cfg.DASHBOARD_TOKEN ? ' (open ?token=<DASHBOARD_TOKEN> once)' : ''}\n`);
      const signals = stopSignals();
      await signals.stopped;
      await dash.close();
      signals.dispose();
    });
}
