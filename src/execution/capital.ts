// The capital snapshot cadence: capital__snapshot_from_state in SQL, markers here.
import { MARKERS } from '../log/markers.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, oneOf } from './db.ts';

export interface CapitalSnapshotResult {
  taken: boolean;
  snapshot_id: string | null;
  equity: string | null;
  open_positions: number | null;
  reason: string;
}

export async function takeCapitalSnapshot(db: Db, ctx: ExecutionContext = executionContext()): Promise<CapitalSnapshotResult> {
  const r = await oneOf<CapitalSnapshotResult>(
    db,
    `select taken, snapshot_id::text, equity::text, open_positions, reason
       from kapitaal.capital__snapshot_from_state($1, $2, make_interval(secs => $3::double precision))`,
    [nowOf(ctx), ctx.account ?? 'default', ctx.snapshotMaxMarkAgeSeconds ?? 30],
  );
  const fields = { snapshot_id: r.snapshot_id, equity: r.equity, open_positions: r.open_positions, reason: r.reason };
  // Every few seconds: debug when taken; a skip means compounding cannot size, so it warns.
  if (r.taken) ctx.log.debug({ marker: MARKERS.CAPITAL_SNAPSHOT, ...fields }, MARKERS.CAPITAL_SNAPSHOT);
  else ctx.log.warn({ marker: MARKERS.CAPITAL_SNAPSHOT_SKIPPED, ...fields }, MARKERS.CAPITAL_SNAPSHOT_SKIPPED);
  return r;
}
