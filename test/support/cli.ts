// Runs the real `kapitaal` binary as a child process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT_DIR } from '../../src/db/migrate.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const KAPITAAL_BIN = path.join(ROOT_DIR, 'bin', 'kapitaal.mjs');

/** Environment without anything that would point the engine at another database. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('KAPITAAL_') || k.startsWith('DASHBOARD_') || k.endsWith('DATABASE_URL') || k.endsWith('_PG_PORT')) delete env[k];
  return { ...env, LOG_LEVEL: 'warn', ...extra };
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
  as?: { uid: number; gid: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KAPITAAL_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], uid: as?.uid, gid: as?.gid });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
