// Benchmark reporting: a printed table, and a section of docs/BENCHMARKS.md
// (between `<!-- bench:NAME -->` markers) rewritten with the reproducing command.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from '../../src/db/migrate.ts';

export type Row = Record<string, string | number>;

export function table(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => String(v ?? '');
  const head = `| ${cols.join(' | ')} |`;
  const sep = `|${cols.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Prints the result and replaces (or appends) the named section of docs/BENCHMARKS.md. */
export function writeSection(name: string, title: string, command: string, body: string): void {
  const file = path.join(ROOT_DIR, 'docs', 'BENCHMARKS.md');
  const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const section = [
    `<!-- bench:${name} -->`,
    `## ${title}`,
    '',
    `Reproduce: \`${command}\` — measured ${new Date().toISOString().slice(0, 16)}Z on ${machine}.`,
    '',
    body.trim(),
    `<!-- /bench:${name} -->`,
  ].join('\n');
  process.stdout.write(`\n${body.trim()}\n`);
  let doc = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8')
    : '# Benchmarks\n\nEvery figure here was written by `npm run bench`; each section names its command.\n';
  const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, doc);
}
