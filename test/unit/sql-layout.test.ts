// Every SQL file under sql/ reaches the database through a committed migration,
// and nothing is left in migrations/current/ at release.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../src/db/migrate.ts';
import { includedSqlFiles, sqlFilesOnDisk } from '../support/sql-files.ts';

const areas = fs.readdirSync(path.join(ROOT_DIR, 'sql')).filter((d) => fs.statSync(path.join(ROOT_DIR, 'sql', d)).isDirectory());

describe('sql/ layout', () => {
  it.each(areas)('sql/%s: every file is included by a committed migration', (area) => {
    expect(includedSqlFiles(area).sort()).toEqual(sqlFilesOnDisk(area));
  });
});
