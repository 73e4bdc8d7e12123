// Boots the two embedded clusters once per test run on free ports (never 5432),
// migrates a template database on each, and hands their URLs to the test files,
// which clone their own databases from the templates (see test/support/db.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { type ClusterSpec, clusterDown, clusterUp, clusterUrl, localPassword } from '../../src/db/cluster.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { freePort } from '../../src/db/free-port.ts';

export const TEMPLATE_DB = 'kapitaal_template';

declare module 'vitest' {
  export interface ProvidedContext {
    ingestAdminUrl: string;
    decisionAdminUrl: string;
    templateDb: string;
    stateDir: string;
  }
}


async function buildTemplate(adminUrl: string, stateDir: string) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${TEMPLATE_DB}`);
    await admin.query(`create database ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const url = adminUrl.replace(/\/[^/]*$/, `/${TEMPLATE_DB}`);
  await migrateDatabase(url, { includeCurrent: true });
  void stateDir;
}

export default async function setup(project: TestProject) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapitaal-test-'));
  // mkdtemp makes 0700; as root the clusters run as another user who must enter it.
  fs.chmodSync(stateDir, 0o755);
  const [ingestPort, decisionPort] = [await freePort(), await freePort()];
  const specs: ClusterSpec[] = [
    { role: 'ingest', dir: path.join(stateDir, 'ingest'), port: ingestPort, logicalWal: true, unsafeFast: true },
    { role: 'decision', dir: path.join(stateDir, 'decision'), port: decisionPort, logicalWal: false, unsafeFast: true },
  ];
  await Promise.all(specs.map((s) => clusterUp(s, stateDir)));
  const password = localPassword(stateDir);
  const ingestAdminUrl = clusterUrl(ingestPort, password, 'postgres');
  const decisionAdminUrl = clusterUrl(decisionPort, password, 'postgres');
  await Promise.all([buildTemplate(ingestAdminUrl, stateDir), buildTemplate(decisionAdminUrl, stateDir)]);

  project.provide('ingestAdminUrl', ingestAdminUrl);
  project.provide('decisionAdminUrl', decisionAdminUrl);
  project.provide('templateDb', TEMPLATE_DB);
  project.provide('stateDir', stateDir);

  return async () => {
    await Promise.all(specs.map((s) => clusterDown(s).catch(() => false)));
    fs.rmSync(stateDir, { recursive: true, force: true });
  };
}
