import { describe, expect, it } from 'vitest';
import { ExchangeRefused, createExchange, resolveExchangeKind } from '../../../src/exchange/factory.ts';
import { StaticMarketView } from '../../../src/exchange/market-view.ts';

const KEY = 'factory-test-key-value';
const SECRET = Buffer.from('factory test secret').toString('base64');
const live = { TRADING_MODE: 'live' as const, KRAKEN_REST_URL: 'https://api.kraken.com', KRAKEN_API_KEY: KEY, KRAKEN_API_SECRET: SECRET };
const paper = { TRADING_MODE: 'paper' as const, KRAKEN_REST_URL: 'https://api.kraken.com', KRAKEN_API_KEY: undefined, KRAKEN_API_SECRET: undefined };
const fakePool = { query: async () => ({ rows: [{ nonce: '1' }] }) } as never;

describe('exchange factory', () => {
  it('refuses live without the confirmation, with one line naming the variable', () => {
    const r = resolveExchangeKind(live, {});
    expect(r).toEqual({ refused: expect.stringContaining('KAPITAAL_LIVE_CONFIRM=I_UNDERSTAND') });
    expect(() => createExchange({ config: live, env: {}, decisionPool: fakePool })).toThrow(ExchangeRefused);
    expect(() => createExchange({ config: live, env: { KAPITAAL_LIVE_CONFIRM: 'yes' }, decisionPool: fakePool })).toThrow(/KAPITAAL_LIVE_CONFIRM/);
    for (const env of [{}, { KAPITAAL_LIVE_CONFIRM: 'yes' }]) {
      const reason = (resolveExchangeKind(live, env) as { refused: string }).refused;
      expect(reason.split('\n')).toHaveLength(1);
      expect(reason).not.toContain(KEY);
      expect(reason).not.toContain(SECRET);
    }
  });

  it('refuses live without credentials or over plain http', () => {
    const env = { KAPITAAL_LIVE_CONFIRM: 'I_UNDERSTAND' };
    expect(resolveExchangeKind({ ...live, KRAKEN_API_SECRET: undefined }, env)).toEqual({ refused: expect.stringContaining('KRAKEN_API_SECRET') });
    expect(resolveExchangeKind({ ...live, KRAKEN_REST_URL: 'http://api.kraken.com' }, env)).toEqual({ refused: expect.stringContaining('https') });
  });

  it('builds live only with TRADING_MODE=live and the confirmation', () => {
    const ex = createExchange({ config: live, env: { KAPITAAL_LIVE_CONFIRM: 'I_UNDERSTAND' }, decisionPool: fakePool });
    expect(ex.kind).toBe('live');
  });

  it('paper by default; the simulator only on a loopback URL', () => {
    expect(createExchange({ config: paper, env: {}, market: new StaticMarketView() }).kind).toBe('paper');
    const sim = { ...paper, KRAKEN_API_KEY: KEY, KRAKEN_API_SECRET: SECRET };
    expect(resolveExchangeKind(sim, { KAPITAAL_EXCHANGE: 'simulator' })).toEqual({ refused: expect.stringContaining('loopback') });
    const local = { ...sim, KRAKEN_REST_URL: 'http://127.0.0.1:8791' };
    expect(createExchange({ config: local, env: { KAPITAAL_EXCHANGE: 'simulator' } }).kind).toBe('simulator');
    expect(resolveExchangeKind(local, { KAPITAAL_EXCHANGE: 'bogus' })).toEqual({ refused: expect.stringContaining('KAPITAAL_EXCHANGE') });
  });
});
