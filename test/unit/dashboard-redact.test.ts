// The dashboard's error texts lose database passwords, URL credentials and secret variables.
import { describe, expect, it } from 'vitest';
import { redact, secretsOf } from '../../src/dashboard/redact.ts';

describe('dashboard redact', () => {
  it('masks URL credentials, the passwords of the configured URLs (raw and decoded) and secret variables', () => {
    const secrets = secretsOf(
      ['postgres://kapitaal:p%40ss%2Fw0rd@db:5432/x', 'postgres://other@db2/y', 'not a url'],
      { KRAKEN_API_KEY: 'KEY-123456', KRAKEN_API_SECRET: 'SECRET-abcdef', KRAKEN_L3_TOKEN: '', PATH: '/bin' },
    );
    expect(secrets.sort()).toEqual(['KEY-123456', 'SECRET-abcdef', 'p%40ss%2Fw0rd', 'p@ss/w0rd'].sort());
    const msg = 'could not connect to postgresql://kapitaal:p%40ss%2Fw0rd@db:5432/x; password p@ss/w0rd; key KEY-123456 SECRET-abcdef';
    const out = redact(msg, secrets);
    expect(out).toBe('could not connect to postgresql://***@db:5432/x; password ***; key *** ***');
    for (const s of secrets) expect(out).not.toContain(s);
  });

  it('leaves ordinary text alone', () => {
    expect(redact('connect ECONNREFUSED 127.0.0.1:5432', ['hunter2'])).toBe('connect ECONNREFUSED 127.0.0.1:5432');
  });
});
