// The REST client against a fake fetch: envelope handling, retries, and that credentials never
// appear in errors or logs.
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  ExchangeError,
  InvalidNonceError,
  OutcomeUnknownError,
  ServiceUnavailableError,
} from '../../../src/exchange/errors.ts';
import { KrakenRestClient } from '../../../src/exchange/kraken-rest.ts';
import { LocalNonceSource } from '../../../src/exchange/nonce.ts';
import { KrakenRateLimiter, TIERS, type Clock } from '../../../src/exchange/rate-limit.ts';

const API_KEY = 'TESTKEY-aVeryRecognisableApiKeyValue0123456789abcdefghij';
const API_SECRET = Buffer.from('a very recognisable secret that must never be shown 0123456789').toString('base64');

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: 'trace' }, stream), text: () => lines.join('') };
}

const noSleep: Clock = { now: () => Date.now(), sleep: async () => {} };

type Reply = { status?: number; body: string } | Error;

function client(replies: Reply[], log?: pino.Logger) {
  const seen: { url: string; init: RequestInit }[] = [];
  const fakeFetch = (async (url: string, init: RequestInit) => {
    seen.push({ url, init });
    const r = replies.shift();
    if (!r) throw new Error('no more replies');
    if (r instanceof Error) throw r;
    return new Response(r.body, { status: r.status ?? 200 });
  }) as unknown as typeof fetch;
  const c = new KrakenRestClient({
    baseUrl: 'https://kraken.invalid',
    credentials: { apiKey: API_KEY, apiSecret: API_SECRET },
    nonces: new LocalNonceSource(),
    limiter: new KrakenRateLimiter(TIERS.pro, noSleep),
    clock: noSleep,
    log,
    fetch: fakeFetch,
  });
  return { c, seen };
}

const ok = (result: unknown): Reply => ({ body: JSON.stringify({ error: [], result }) });
const fail = (...error: string[]): Reply => ({ body: JSON.stringify({ error }) });
const netError = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });

function assertClean(text: string) {
  expect(text).not.toContain(API_KEY);
  expect(text).not.toContain(API_SECRET);
  expect(text).not.toContain(Buffer.from(API_SECRET, 'base64').toString('utf8'));
}

describe('KrakenRestClient', () => {
  it('signs a form-encoded body with the nonce first and returns result', async () => {
    const { c, seen } = client([ok({ ZUSD: '10.5' })]);
    expect(await c.balance()).toEqual({ ZUSD: '10.5' });
    const req = seen[0]!;
    expect(req.url).toBe('https://kraken.invalid/0/private/Balance');
    expect(String(req.init.body)).toMatch(/^nonce=\d+$/);
    const h = req.init.headers as Record<string, string>;
    expect(h['API-Key']).toBe(API_KEY);
    expect(h['API-Sign']).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('maps error arrays to typed errors; AddOrder is never retried on unavailability', async () => {
    const { c, seen } = client([fail('EService:Unavailable')]);
    await expect(c.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', volume: '1', price: '1' })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(seen).toHaveLength(1);
  });

  it('retries read-only calls on unavailability', async () => {
    const { c, seen } = client([fail('EService:Unavailable'), netError(), ok({ open: {} })]);
    expect(await c.openOrders()).toEqual({ open: {} });
    expect(seen).toHaveLength(3);
  });

  it('retries once after EAPI:Invalid nonce, with a larger nonce, even for AddOrder', async () => {
    const { c, seen } = client([fail('EAPI:Invalid nonce'), ok({ txid: ['OABC'], descr: { order: 'x' } })]);
    expect((await c.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '1' })).txid).toEqual(['OABC']);
    const nonces = seen.map((s) => BigInt(new URLSearchParams(String(s.init.body)).get('nonce')!));
    expect(nonces[1]! > nonces[0]!).toBe(true);
    const again = client([fail('EAPI:Invalid nonce'), fail('EAPI:Invalid nonce')]);
    await expect(again.c.balance()).rejects.toBeInstanceOf(InvalidNonceError);
  });

  it('a dropped connection on AddOrder is OutcomeUnknownError (reconcile, do not resend)', async () => {
    const { c } = client([netError()]);
    const err = await c.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '1' }).catch((e) => e);
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('UND_ERR_SOCKET');
  });

  it('a body that is not JSON is an unknown outcome', async () => {
    const { c } = client([{ status: 502, body: '<html>bad gateway</html>' }]);
    await expect(c.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '1' })).rejects.toBeInstanceOf(OutcomeUnknownError);
  });

  it('never shows the key or the secret: errors, logs, inspect, JSON', async () => {
    const { log, text } = capture();
    const { c } = client(
      [
        fail('EAPI:Invalid key'),
        fail('EAPI:Invalid signature'),
        netError(),
        { status: 500, body: 'oops' },
        // A proxy that echoes what it got must not make us repeat it.
        fail(`EGeneral:Invalid arguments:API-Key ${API_KEY} secret ${API_SECRET}`),
      ],
      log,
    );
    const errors: ExchangeError[] = [];
    for (let i = 0; i < 5; i++) {
      const e = await c.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '1' }).catch((x) => x);
      expect(e).toBeInstanceOf(ExchangeError);
      errors.push(e);
      log.error({ err: e }, 'order failed'); // what a caller would do
    }
    expect(errors[0]).toBeInstanceOf(AuthenticationError);
    expect(errors[1]).toBeInstanceOf(AuthenticationError);
    expect(errors[4]!.message).toContain('[redacted]');
    for (const e of errors) {
      assertClean(e.message);
      assertClean(String(e.stack));
      assertClean(JSON.stringify(e));
      assertClean(inspect(e, { depth: 5 }));
    }
    expect(text()).toContain('order failed');
    assertClean(text());
    assertClean(inspect(c, { depth: 5, showHidden: true }));
    assertClean(JSON.stringify(c));
  });

  it('refuses a secret that is not base64 without showing it', () => {
    const bad = 'this is not base64 at all!';
    const e = (() => {
      try {
        new KrakenRestClient({ baseUrl: 'https://x.invalid', credentials: { apiKey: API_KEY, apiSecret: bad }, nonces: new LocalNonceSource() });
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    expect(e).not.toBeNull();
    expect(e!.message).not.toContain(bad);
    assertClean(e!.message);
  });
});
