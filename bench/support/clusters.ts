// Throwaway embedded clusters for a benchmark run (durable settings, like production).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ClusterSpec, clusterDown, clusterUp, clusterUrl, localPassword } from '../../src/db/cluster.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { freePort } from '../../src/db/free-port.ts';

export interface BenchClusters {
  ingestUrl: string;
  decisionUrl: string;
  stop(): Promise<void>;
}


export async function startBenchClusters(): Promise<BenchClusters> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapitaal-bench-'));
  fs.chmodSync(stateDir, 0o755);
  const specs: ClusterSpec[] = [
    { role: 'ingest', dir: path.join(stateDir, 'ingest'), port: await freePort(), logicalWal: true },
    { role: 'decision', dir: path.join(stateDir, 'decision'), port: await freePort(), logicalWal: false },
  ];
  await Promise.all(specs.map((s) => clusterUp(s, stateDir)));
  const pw = localPassword(stateDir);
  const [ingestUrl, decisionUrl] = specs.map((s) => clusterUrl(s.port, pw)) as [string, string];
  await migrateDatabase(ingestUrl, { includeCurrent: true });
  await migrateDatabase(decisionUrl, { includeCurrent: true });
  return {
    ingestUrl,
    decisionUrl,
    async stop() {
      await Promise.all(specs.map((s) => clusterDown(s)));
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
