// The SQL examples in docs/sql-api/*.md name real objects: every statement of a ```sql block
// (select/with/insert/update/delete; signature blocks are skipped) is run in a rolled-back
// transaction on a migrated decision database. Missing data (an example's order 17 or run 42)
// is fine; a syntax error or an unknown table, column or function signature fails the test.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../../src/db/migrate.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';

const DOCS_DIR = path.join(ROOT_DIR, 'docs', 'sql-api');
// 42601 syntax, 42P01 table, 42703 column, 42883 function, 42725 ambiguous function, 42804 type mismatch.
const WRONG_DOC = new Set(['42601', '42P01', '42703', '42883', '42725', '42804']);

function examples(): { file: string; sql: string }[] {
  const out: { file: string; sql: string }[] = [];
  for (const file of fs.readdirSync(DOCS_DIR).filter((f) => f.endsWith('.md')).sort()) {
    const text = fs.readFileSync(path.join(DOCS_DIR, file), 'utf8');
    for (const block of text.matchAll(/```sql\n([\s\S]*?)```/g)) {
      const code = block[1]!.replace(/--[^\n]*/g, '');
      for (const stmt of code.split(/;\s*\n|;\s*$/).map((s) => s.trim())) {
        if (/^(select|with|insert|update|delete)\b/i.test(stmt)) out.push({ file, sql: stmt });
      }
    }
  }
  return out;
}

describe('docs/sql-api examples', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await testDatabase('decision');
  });

  it('finds examples in every page with functions', () => {
    const files = new Set(examples().map((e) => e.file));
    for (const f of ['state.md', 'orders.md', 'execution.md', 'worker.md', 'exchange.md', 'validation.md']) expect(files).toContain(f);
  });

  it('every example statement parses and names existing objects', async () => {
    const wrong: string[] = [];
    for (const { file, sql } of examples()) {
      const err = await db.rollback(async (c) => {
        try {
          await c.query(sql);
          return null;
        } catch (e) {
          return e as { code?: string; message: string };
        }
      });
      if (err && WRONG_DOC.has(err.code ?? '')) wrong.push(`${file}: ${err.code} ${err.message} in: ${sql.slice(0, 120)}`);
    }
    expect(wrong).toEqual([]);
  });
});
