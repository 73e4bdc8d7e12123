// Child engine processes of the demo (`kapitaal ingest`, `kapitaal execute`),
// each logging pino JSON to its own file so the terminal keeps one status line.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../db/migrate.ts';

export interface Child {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Child {
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const proc = spawn(process.execPath, [path.join(ROOT_DIR, 'bin', 'kapitaal.mjs'), ...args], {
    env,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { name, proc, logFile, exited };
}

/** SIGTERM, then SIGKILL if the child has not finished its clean shutdown in time. */
export async function stopChild(child: Child, graceMs = 30_000): Promise<number | null> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return child.proc.exitCode;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}
