// Every SQL function created under sql/ has a real entry in docs/sql-api/*.md
// (issue #4 item 8: signature, parameters, example, as pgmq documents its API).
// A real entry is either
//   (A) a heading that names the function (`## name`, `### \`name(...)\``, `## a / b`) whose
//       section (up to the next heading) holds its signature `name(` — in the heading, or
//       starting a line (a ```sql block or a backticked line; `kapitaal.` allowed), or
//   (B) a table row whose first cell starts with the backticked signature (the compact
//       form docs/sql-api/state.md uses for the refresh's internal functions).
// A name merely mentioned in prose does not count. Conversely, every signature in the
// docs must name a function that sql/ creates, so a renamed or dropped function leaves
// no stale entry behind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/db/migrate.ts';

const SQL_DIR = path.join(ROOT_DIR, 'sql');
const DOCS_DIR = path.join(ROOT_DIR, 'docs', 'sql-api');

const walk = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.sql') ? [path.join(dir, e.name)] : [],
  );

/** Function and procedure names created in sql/ (schema kapitaal), with the file that creates each. */
function createdFunctions(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of walk(SQL_DIR)) {
    const text = fs.readFileSync(f, 'utf8');
    for (const m of text.matchAll(/create\s+(?:or\s+replace\s+)?(?:function|procedure)\s+(?:kapitaal\.)?"?([a-z_][a-z0-9_]*)"?\s*\(/gi)) {
      out.set(m[1]!.toLowerCase(), path.relative(ROOT_DIR, f));
    }
  }
  return out;
}

interface Section {
  file: string;
  heading: string;
  lines: string[];
}

/** The sections of docs/sql-api/*.md: each heading with the lines up to the next heading. */
function docSections(): Section[] {
  const out: Section[] = [];
  for (const file of fs.readdirSync(DOCS_DIR).filter((f) => f.endsWith('.md'))) {
    let cur: Section = { file, heading: '', lines: [] };
    out.push(cur);
    for (const line of fs.readFileSync(path.join(DOCS_DIR, file), 'utf8').split('\n')) {
      const h = /^#{1,6}\s+(.*)$/.exec(line);
      if (h) out.push((cur = { file, heading: h[1]!, lines: [] }));
      else cur.lines.push(line);
    }
  }
  return out;
}

const NAME = '[a-z_][a-z0-9_]*';
// A signature starting a line (optionally in backticks, optionally schema-qualified).
const LINE_SIGNATURE = new RegExp(`^\\s*\`?(?:kapitaal\\.)?(${NAME})\\(`);
// A signature as the first cell of a table row.
const ROW_SIGNATURE = new RegExp(`^\\|\\s*\`(?:kapitaal\\.)?(${NAME})\\(`);
// A backticked signature anywhere in a heading.
const HEADING_SIGNATURE = new RegExp(`\`(?:kapitaal\\.)?(${NAME})\\(`, 'g');
const words = (text: string) => new Set(text.match(/[A-Za-z0-9_]+/g) ?? []);

/** Names with a real entry (rules A and B above). */
function documentedFunctions(sections: Section[]): Set<string> {
  const names = new Set<string>();
  for (const s of sections) {
    const signatures = new Set<string>([...s.heading.matchAll(HEADING_SIGNATURE)].map((m) => m[1]!));
    for (const line of s.lines) {
      const m = LINE_SIGNATURE.exec(line);
      if (m) signatures.add(m[1]!);
      const r = ROW_SIGNATURE.exec(line);
      if (r) names.add(r[1]!);
    }
    const named = words(s.heading);
    for (const n of signatures) if (named.has(n)) names.add(n);
  }
  return names;
}

/** Every name written as a signature anywhere in the docs (heading, line start, first table cell). */
function signaturesInDocs(sections: Section[]): Set<string> {
  const names = new Set<string>();
  for (const s of sections) {
    for (const m of s.heading.matchAll(HEADING_SIGNATURE)) names.add(m[1]!);
    for (const line of s.lines) {
      const m = LINE_SIGNATURE.exec(line) ?? ROW_SIGNATURE.exec(line);
      if (m) names.add(m[1]!);
    }
  }
  return names;
}

describe('docs/sql-api', () => {
  const created = createdFunctions();
  const sections = docSections();
  const documented = documentedFunctions(sections);

  it('finds the functions (the scan is not vacuous)', () => {
    expect(created.size).toBeGreaterThan(90);
    expect(created.get('refresh_run_symbol_state')).toBe('sql/state/refresh_run_symbol_state.sql');
  });

  it('has a signature entry for every function created in sql/', () => {
    const missing = [...created].filter(([name]) => !documented.has(name)).map(([name, file]) => `${name} (${file})`);
    expect(missing).toEqual([]);
  });

  it('documents no function that sql/ does not create', () => {
    expect([...signaturesInDocs(sections)].filter((name) => !created.has(name)).sort()).toEqual([]);
  });
});
