// `kapitaal demo`: what `npm start` runs.
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.ts';
import { runDemo, type SizingMode } from '../../demo/demo.ts';
import { createLogger } from '../../log/logger.ts';
import { UserError } from '../user-error.ts';

const whole = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
};

const sizing = (v: string): SizingMode => {
  if (v !== 'compounding' && v !== 'fixed') throw new UserError(`--sizing must be compounding or fixed, got "${v}"`);
  return v;
};

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'everything on one machine: embedded clusters, the Kraken simulator, an ingest process and an attached ' +
        'execution process trading on paper, with a live status line (Ctrl-C stops)',
    )
    .option('--pairs <n>', 'number of simulated pairs', whole('--pairs', 1, 200), 8)
    .option('--duration <seconds>', 'stop by itself after this long (0 = until Ctrl-C)', whole('--duration', 0, 86_400), 0)
    .option('--status-every <ms>', 'status line interval', whole('--status-every', 200, 60_000), 1000)
    .option(
      '--sizing <mode>',
      'capital_policy.mode of the demo account: compounding (sizes from the equity the runtime snapshots) or fixed (from fixed_equity)',
      sizing,
      'compounding',
    )
    .action(async (opts: { pairs: number; duration: number; statusEvery: number; sizing: SizingMode }) => {
      const cfg = loadConfig();
      await runDemo(cfg, { pairs: opts.pairs, durationS: opts.duration, statusEveryMs: opts.statusEvery, sizing: opts.sizing }, createLogger('warn', 'kapitaal-demo'));
    });
}
