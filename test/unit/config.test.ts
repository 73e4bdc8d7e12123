// A bad configuration value stops start-up with one line naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { loadIngestConfig, topNMargin } from '../../src/ingest/config.ts';
import { cleanEnv, runCli } from '../support/cli.ts';

describe('configuration', () => {
  it('accepts the defaults', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({ INGEST_PG_PORT: 55432, DECISION_PG_PORT: 55433, TRADING_MODE: 'paper', EXECUTION_ONLY: false });
  });

  it.each([
    ['INGEST_PG_PORT', 'abc', /INGEST_PG_PORT: expected a port/],
    ['DECISION_PG_PORT', '80', /DECISION_PG_PORT: expected a port from 1024 to 65535/],
    ['TRADING_MODE', 'yolo', /TRADING_MODE: Invalid enum value/],
    ['EXECUTION_ONLY', 'maybe', /EXECUTION_ONLY: expected true or false/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a postgres/],
    ['KRAKEN_WS_URL', 'http://x', /KRAKEN_WS_URL: expected a ws/],
    ['DASHBOARD_PORT', 'abc', /^configuration error: DASHBOARD_PORT: expected a port from 1024 to 65535, 0 \(any free port\) or off \(got "abc"\)$/],
    ['DASHBOARD_PORT', '80', /DASHBOARD_PORT: expected a port from 1024 to 65535, 0 \(any free port\) or off/],
    ['DASHBOARD_HOST', 'http://0.0.0.0', /DASHBOARD_HOST: expected an IP address or host name like 127.0.0.1/],
  ])('names %s when it is %s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('binds the dashboard to 127.0.0.1:8780 by default; port 0 is any free port, off switches it off', () => {
    expect(loadConfig({})).toMatchObject({ DASHBOARD_HOST: '127.0.0.1', DASHBOARD_PORT: 8780 });
    expect(loadConfig({ DASHBOARD_PORT: '0', DASHBOARD_HOST: '::1' })).toMatchObject({ DASHBOARD_HOST: '::1', DASHBOARD_PORT: 0 });
    expect(loadConfig({ DASHBOARD_PORT: 'off' }).DASHBOARD_PORT).toBeNull();
  });

  it('never echoes a secret value', () => {
    expect(() => loadConfig({ KRAKEN_API_SECRET: '' , KRAKEN_API_KEY: 'x'.repeat(3), INGEST_PG_PORT: '1' })).toThrow(/INGEST_PG_PORT/);
    try {
      loadConfig({ DECISION_DATABASE_URL: 'postgres://u:hunter2@h/db' });
    } catch (err) {
      expect((err as Error).message).toBe('configuration error: DATABASE_URL: must be set when DECISION_DATABASE_URL is set');
    }
  });

  it('makes the CLI exit non-zero with exactly one line on stderr', async () => {
    const res = await runCli(['db', 'url', 'ingest'], cleanEnv({ INGEST_PG_PORT: 'abc' }));
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr.trimEnd().split('\n')).toEqual([
      'kapitaal: configuration error: INGEST_PG_PORT: expected a port number (got "abc")',
    ]);
  });
});

describe('ingest configuration', () => {
  it('derives the universe margin from INGEST_TOP_N unless it is set, and refuses one that could lock newcomers out', () => {
    expect(topNMargin(loadIngestConfig({}))).toBe(5);
    expect(topNMargin(loadIngestConfig({ INGEST_TOP_N: '7' }))).toBe(0);
    expect(topNMargin(loadIngestConfig({ INGEST_TOP_N: '50', INGEST_TOP_N_MARGIN: '0' }))).toBe(0);
    expect(topNMargin(loadIngestConfig({ INGEST_TOP_N: '0', INGEST_TOP_N_MARGIN: '3' }))).toBe(3);
    expect(() => loadIngestConfig({ INGEST_TOP_N: '10', INGEST_TOP_N_MARGIN: '10' }))
      .toThrow('INGEST_TOP_N_MARGIN: must be below INGEST_TOP_N (10), got 10');
    expect(() => loadIngestConfig({ INGEST_TOP_N_MARGIN: '-1' })).toThrow(/INGEST_TOP_N_MARGIN: expected a whole number/);
  });
});
