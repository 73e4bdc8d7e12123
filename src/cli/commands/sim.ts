// `kapitaal sim`: runs the local Kraken WebSocket v2 simulator until SIGINT/SIGTERM.
import type { Command } from 'commander';
import { parseFaultSpec, startSimulator, type FaultConfig, type PairStatus, type SimRate } from '../../sim/index.ts';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../config/config.ts';
import { generateSimCredentials, startPrivateRestServer, type PrivateRestServer } from '../../sim/private/index.ts';
import { UserError } from '../user-error.ts';

interface SimCliOptions { port: string; restPort: string; seed: string; pairs: string; rate: string; fault: string[]; clock: string; idleTimeout: string }

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('run a local Kraken public WebSocket v2 simulator on 127.0.0.1 (deterministic from a seed, with fault injection)')
    .option('--port <port>', 'TCP port on 127.0.0.1 (0 = any free port)', '8790')
    .option('--rest-port <port>', 'also serve the private REST API (signature and nonce checked) on this port; off = no', '8791')
    .option('--seed <seed>', 'seed of the synthetic market', '1')
    .option('--pairs <n>', 'number of pairs (the first 10 are BTC/USD, ETH/USD, …; more are synthetic SIMnnn/USD)', '10')
    .option('--rate <rate>', 'market steps per second: realistic, max, or a number', 'realistic')
    .option('--clock <clock>', 'timestamps from the wall clock or a simulated clock (sim: byte-identical runs)', 'wall')
    .option('--idle-timeout <ms>', 'close connections after this long without client traffic', '60000')
    .option('--fault <spec>', 'inject a fault (repeatable): stall, corrupt-checksum[:SYM], malformed[:N], repeat[:N], reorder[:N], unknown-fields, drop-after:N, drop-every:MS, cancel-only:SYM',
      (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action(async (o: SimCliOptions) => {
      const port = intOption('--port', o.port, 0);
      const pairs = intOption('--pairs', o.pairs, 1);
      const idleTimeoutMs = intOption('--idle-timeout', o.idleTimeout, 1);
      let rate: SimRate;
      if (o.rate === 'realistic' || o.rate === 'max') rate = o.rate;
      else rate = intOption('--rate', o.rate, 1);
      if (o.clock !== 'wall' && o.clock !== 'sim') throw new UserError(`--clock must be wall or sim, got ${o.clock}`);
      const faults: Partial<FaultConfig> = {};
      const pairStatus: Record<string, PairStatus> = {};
      for (const spec of o.fault) {
        let parsed;
        try { parsed = parseFaultSpec(spec); } catch (err) { throw new UserError((err as Error).message); }
        if (parsed.faults.corruptChecksum && faults.corruptChecksum) parsed.faults.corruptChecksum = [...faults.corruptChecksum, ...parsed.faults.corruptChecksum];
        Object.assign(faults, parsed.faults);
        if (parsed.pairStatus) pairStatus[parsed.pairStatus.symbol] = parsed.pairStatus.status;
      }
      let sim;
      try {
        sim = await startSimulator({ port, seed: o.seed, pairs, rate, clock: o.clock, idleTimeoutMs, faults, pairStatus });
      } catch (err) {
        throw new UserError(`sim: ${(err as Error).message}`);
      }
      process.stdout.write(`kapitaal sim listening on ${sim.url} (seed ${o.seed}, ${pairs} pairs, rate ${String(rate)})\n`);
      let rest: PrivateRestServer | undefined;
      if (o.restPort !== 'off') {
        const account = generateSimCredentials();
        rest = await startPrivateRestServer({ port: intOption('--rest-port', o.restPort, 0), accounts: [{ ...account, balances: { USD: '10000' } }] });
        // Throwaway credentials of this simulator account: kept in a 0600 file, not printed.
        const cfg = loadConfig();
        fs.mkdirSync(cfg.stateDir, { recursive: true });
        const file = path.join(cfg.stateDir, 'sim-credentials.env');
        fs.writeFileSync(file, `KRAKEN_REST_URL=${rest.url}\nKRAKEN_API_KEY=${account.apiKey}\nKRAKEN_API_SECRET=${account.apiSecret}\n`, { mode: 0o600 });
        process.stdout.write(`private REST on ${rest.url} (executions WebSocket ${rest.wsUrl}); credentials for KAPITAAL_EXCHANGE=simulator in ${file}\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      const counts = sim.sentCounts();
      await sim.close();
      await rest?.close();
      process.stdout.write(`kapitaal sim stopped after ${sim.market.steps} steps, ${counts.messages} messages sent\n`);
    });
}

function intOption(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${name} must be an integer >= ${min}, got ${v}`);
  return n;
}
