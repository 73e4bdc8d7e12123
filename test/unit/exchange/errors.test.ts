import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  DuplicateClientOrderIdError,
  InvalidArgumentsError,
  InvalidNonceError,
  MarketStateError,
  OrderRejectedError,
  RateLimitError,
  ServiceUnavailableError,
  UnknownExchangeError,
  krakenError,
} from '../../../src/exchange/errors.ts';

// Every name from PROTOCOL.md "Errors worth handling by name".
const CASES: [string, Function, boolean][] = [
  ['EOrder:Insufficient funds', OrderRejectedError, false],
  ['EOrder:Order minimum not met', OrderRejectedError, false],
  ['EOrder:Cost minimum not met', OrderRejectedError, false],
  ['EOrder:Tick size check failed', OrderRejectedError, false],
  ['EOrder:Rate limit exceeded', RateLimitError, true],
  ['EOrder:Orders limit exceeded', OrderRejectedError, false],
  ['EOrder:Domain rate limit exceeded', RateLimitError, true],
  ['EAPI:Invalid nonce', InvalidNonceError, true],
  ['EAPI:Invalid key', AuthenticationError, false],
  ['EAPI:Invalid signature', AuthenticationError, false],
  ['EAPI:Rate limit exceeded', RateLimitError, true],
  ['EGeneral:Invalid arguments', InvalidArgumentsError, false],
  ['EGeneral:Invalid arguments:volume', InvalidArgumentsError, false],
  ['EGeneral:Temporary lockout', RateLimitError, true],
  ['EService:Unavailable', ServiceUnavailableError, true],
  ['EService:Market in cancel_only mode', MarketStateError, false],
  ['EService:Market in post_only mode', MarketStateError, false],
  ['EService:Deadline elapsed', MarketStateError, false],
  ['EOrder:Duplicate order', DuplicateClientOrderIdError, false],
];

describe('krakenError', () => {
  it.each(CASES)('%s → its class and retryability', (text, ctor, retryable) => {
    const err = krakenError('AddOrder', [text]);
    expect(err).toBeInstanceOf(ctor);
    expect(err.retryable).toBe(retryable);
    expect(err.krakenErrors).toEqual([text]);
    expect(err.message).toBe(`AddOrder: ${text}`);
    expect(err.name).toBe(ctor.name);
  });

  it('unknown strings are final and keep the text', () => {
    const err = krakenError('Balance', ['EFoo:Something new']);
    expect(err).toBeInstanceOf(UnknownExchangeError);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('EFoo:Something new');
  });

  it('the first known error wins and all are kept', () => {
    const err = krakenError('AddOrder', ['EFoo:x', 'EAPI:Invalid nonce']);
    expect(err).toBeInstanceOf(InvalidNonceError);
    expect(err.krakenErrors).toEqual(['EFoo:x', 'EAPI:Invalid nonce']);
  });
});
