// The body of /api/overview: both clusters read in parallel and independently, and the sync
// lag between them (ingest's newest generation against the one the decision cluster shows).
import type pg from 'pg';
import { DECISION_PANELS, INGEST_PANELS } from './panels.ts';
import { type ClusterView, readCluster } from './read-cluster.ts';

export interface SyncRow {
  run_id: string;
  ingest_generation_id: string | null;
  ingest_refreshed_at: Date | null;
  decision_generation_id: string | null;
  decision_refreshed_at: Date | null;
  decision_generation_complete: boolean | null;
  /** Same generation on both sides. */
  in_sync: boolean;
  /** How much older the decision cluster's state is than ingest's newest (0 when in sync; null when not known). */
  behind_s: number | null;
  last_visibility_lag_s: number | null;
  max_visibility_lag_5m_s: number | null;
}

export interface ApiOverview {
  generated_at: Date;
  /** Both roles read the same database (no DECISION_DATABASE_URL). */
  shared: boolean;
  ingest: ClusterView;
  decision: ClusterView;
  /** Per running ingest run; null when either side could not be read. */
  sync: SyncRow[] | null;
}

type Row = Record<string, any>;
const panelRows = (v: ClusterView, name: string): Row[] | null => {
  const p = v.panels[name];
  return p?.ok ? (p.data as Row[]) : null;
};

export function syncRows(ingest: ClusterView, decision: ClusterView): SyncRow[] | null {
  const ing = panelRows(ingest, 'runs');
  const dec = panelRows(decision, 'runs');
  if (!ing || !dec) return null;
  return ing
    .filter((r) => r.status === 'running')
    .map((r) => {
      const d = dec.find((x) => x.run_id === r.run_id);
      const ig: Date | null = r.last_refreshed_at ?? null;
      const dg: Date | null = d?.current_refreshed_at ?? null;
      const inSync = r.last_generation_id !== null && d?.current_generation_id === r.last_generation_id;
      return {
        run_id: r.run_id,
        ingest_generation_id: r.last_generation_id ?? null,
        ingest_refreshed_at: ig,
        decision_generation_id: d?.current_generation_id ?? null,
        decision_refreshed_at: dg,
        decision_generation_complete: d?.generation_complete ?? null,
        in_sync: inSync,
        behind_s: inSync ? 0 : ig && dg ? Math.max(0, (ig.getTime() - dg.getTime()) / 1000) : null,
        last_visibility_lag_s: d?.last_visibility_lag_s ?? null,
        max_visibility_lag_5m_s: d?.max_visibility_lag_5m_s ?? null,
      };
    });
}

export interface OverviewSources {
  ingest: pg.Pool;
  decision: pg.Pool;
  shared: boolean;
  secrets: string[];
}

export async function readApiOverview(src: OverviewSources): Promise<ApiOverview> {
  const [ingest, decision] = await Promise.all([
    readCluster(src.ingest, INGEST_PANELS, src.secrets),
    readCluster(src.decision, DECISION_PANELS, src.secrets),
  ]);
  return { generated_at: new Date(), shared: src.shared, ingest, decision, sync: syncRows(ingest, decision) };
}
