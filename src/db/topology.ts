// Where the two database roles live: user-supplied servers (DATABASE_URL,
// DECISION_DATABASE_URL) or the two embedded clusters under the state folder.
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { type ClusterSpec, clusterUrl, localPassword } from './cluster.ts';

export interface Topology {
  /** True when the engine boots its own clusters. */
  embedded: boolean;
  ingestUrl: string;
  decisionUrl: string;
  /** False when both roles share one database (no DECISION_DATABASE_URL): no sync needed. */
  separated: boolean;
  clusters: ClusterSpec[];
}

export function embeddedSpecs(cfg: Config): ClusterSpec[] {
  return [
    { role: 'ingest', dir: path.join(cfg.stateDir, 'ingest'), port: cfg.INGEST_PG_PORT, logicalWal: true },
    { role: 'decision', dir: path.join(cfg.stateDir, 'decision'), port: cfg.DECISION_PG_PORT, logicalWal: false },
  ];
}

export function resolveTopology(cfg: Config): Topology {
  if (cfg.DATABASE_URL) {
    return {
      embedded: false,
      ingestUrl: cfg.DATABASE_URL,
      decisionUrl: cfg.DECISION_DATABASE_URL ?? cfg.DATABASE_URL,
      separated: Boolean(cfg.DECISION_DATABASE_URL) && cfg.DECISION_DATABASE_URL !== cfg.DATABASE_URL,
      clusters: [],
    };
  }
  const password = localPassword(cfg.stateDir);
  return {
    embedded: true,
    ingestUrl: clusterUrl(cfg.INGEST_PG_PORT, password),
    decisionUrl: clusterUrl(cfg.DECISION_PG_PORT, password),
    separated: true,
    clusters: embeddedSpecs(cfg),
  };
}
