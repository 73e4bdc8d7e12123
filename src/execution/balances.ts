// The balance check: the exchange's balances (Exchange.balances, Kraken Balance) into balance_snapshots,
// then balance__drift against the fills ledger; a persistent drift is logged (BALANCE_DRIFT) and
// capital__entry_halt stops new entries on it. A failed call throws (the cadence task logs it) and leaves
// the last snapshot in place.
import { MARKERS } from '../log/markers.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, rowsOf } from './db.ts';

export interface DriftRow {
  asset: string;
  expected: string;
  actual: string;
  drift: string;
  tolerance: string;
  exceeded: boolean;
  exceeded_snapshots: number;
  persistent: boolean;
}

/** Null when the venue reports no balances (paper: its ledger is the venue). */
export async function recordBalances(db: Db, ctx: ExecutionContext = executionContext()): Promise<{ snapshotId: string; drift: DriftRow[] } | null> {
  if (!ctx.exchange.balances) return null;
  const account = ctx.account ?? 'default';
  const balances = await ctx.exchange.balances();
  const now = nowOf(ctx);
  const [snap] = await rowsOf<{ snapshot_id: string; assets: number }>(db,
    `select snapshot_id::text, assets from kapitaal.balance__record($1, $2::jsonb, $3, $4)`,
    [account, JSON.stringify(balances), `${ctx.ledgerExchange}:Balance`, now]);
  const drift = await rowsOf<DriftRow>(db,
    `select asset, expected::text, actual::text, drift::text, tolerance::text, exceeded, exceeded_snapshots, persistent
       from kapitaal.balance__drift($1, $2)`, [account, now]);
  const exceeded = drift.filter((d) => d.exceeded);
  ctx.log.debug({ marker: MARKERS.BALANCE_SNAPSHOT, snapshot_id: snap!.snapshot_id, assets: snap!.assets, exceeded: exceeded.length }, MARKERS.BALANCE_SNAPSHOT);
  for (const d of drift.filter((r) => r.persistent)) {
    // Sizing and exits read the ledger; capital__entry_halt now stops new entries (if balance_drift_halt).
    ctx.log.warn({
      marker: MARKERS.BALANCE_DRIFT, account, asset: d.asset, expected: d.expected, actual: d.actual, drift: d.drift,
      tolerance: d.tolerance, snapshots: d.exceeded_snapshots,
    }, 'the exchange balance disagrees with the fills ledger: find the cause, then balance__rebaseline');
  }
  return { snapshotId: snap!.snapshot_id, drift };
}
