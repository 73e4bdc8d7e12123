// `kapitaal validate` and `kapitaal status`.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.ts';
import { createPool } from '../../db/pool.ts';
import { resolveTopology } from '../../db/topology.ts';
import { readOverview } from '../../status/overview.ts';
import { statusLine } from '../../status/status-line.ts';
import { collectProofs } from '../../validate/validate.ts';

async function withPools<T>(fn: (ingest: ReturnType<typeof createPool>, decision: ReturnType<typeof createPool>) => Promise<T>) {
  const topo = resolveTopology(loadConfig());
  const ingest = createPool(topo.ingestUrl, { max: 1, applicationName: 'kapitaal-validate' });
  const decision = createPool(topo.decisionUrl, { max: 1, applicationName: 'kapitaal-validate' });
  try {
    return await fn(ingest, decision);
  } finally {
    await Promise.all([ingest.end(), decision.end()]);
  }
}

export function registerValidateCommands(program: Command): void {
  program
    .command('validate')
    .description(
      'prove bootstrap, attach, evaluation and lifecycle from database facts and logged markers; exits non-zero ' +
        'when a required proof fails',
    )
    .option('--log <file...>', 'pino log files to read markers from (default: <state dir>/logs/*.log)')
    .option('--require <proofs>', 'comma-separated proofs that must pass', 'bootstrap.run,bootstrap.epoch,bootstrap.state,attach,evaluation')
    .option('--json', 'machine-readable output')
    .action(async (opts: { log?: string[]; require: string; json?: boolean }) => {
      const cfg = loadConfig();
      const logDir = path.join(cfg.stateDir, 'logs');
      const logs =
        opts.log ?? (fs.existsSync(logDir) ? fs.readdirSync(logDir).filter((f) => f.endsWith('.log')).map((f) => path.join(logDir, f)) : []);
      const rows = await withPools((i, d) => collectProofs(i, d, logs));
      const required = opts.require.split(',').map((s) => s.trim()).filter(Boolean);
      const failed = required.filter((p) => !rows.find((r) => r.proof === p)?.ok);
      if (opts.json) process.stdout.write(`${JSON.stringify({ rows, required, failed })}\n`);
      else {
        for (const r of rows) process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'}  ${r.proof.padEnd(16)} ${r.detail}\n`);
        process.stdout.write(failed.length ? `not proven: ${failed.join(', ')}\n` : `proven: ${required.join(', ')}\n`);
      }
      if (failed.length) process.exitCode = 1;
    });

  program
    .command('status')
    .description('one status line from both clusters (run, rows, epoch, generation lag, evaluations, money)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const now = await withPools((i, d) => readOverview(i, d));
      process.stdout.write(opts.json ? `${JSON.stringify(now)}\n` : `${statusLine(now, null)}\n`);
    });
}
