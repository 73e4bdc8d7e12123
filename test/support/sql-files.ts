// The SQL files under sql/ as the committed migrations include them, in order:
// lets a test re-apply an area's SQL (idempotency) and check that no file under
// sql/ is left out of the migrations.
import fs from 'node:fs';
import path from 'node:path';
import { MIGRATIONS_DIR, ROOT_DIR } from '../../src/db/migrate.ts';

/** Paths (relative to sql/) included by the committed migrations under `area/`, first inclusion order. */
export function includedSqlFiles(area: string): string[] {
  const dir = path.join(MIGRATIONS_DIR, 'committed');
  const seen = new Set<string>();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.sql')).sort()) {
    for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/^--! Included (\S+)$/gm)) {
      if (m[1]!.startsWith(`${area}/`)) seen.add(m[1]!);
    }
  }
  return [...seen];
}

/** Every .sql file under sql/<area>/. */
export function sqlFilesOnDisk(area: string): string[] {
  return fs
    .readdirSync(path.join(ROOT_DIR, 'sql', area))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => `${area}/${f}`)
    .sort();
}

/** The current text of an area's SQL, in migration order (to apply it again). */
export function areaSql(area: string): string {
  return includedSqlFiles(area)
    .map((f) => fs.readFileSync(path.join(ROOT_DIR, 'sql', f), 'utf8'))
    .join('\n');
}
