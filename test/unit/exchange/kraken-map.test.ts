import { describe, expect, it } from 'vitest';
import { PairMap, averagePrice, legacyAssetCode, mapKrakenStatus, restWsname, wsV2Asset, wsV2Symbol } from '../../../src/exchange/kraken-map.ts';
import { isValidClientOrderId } from '../../../src/exchange/kraken-exchange.ts';

describe('mapKrakenStatus', () => {
  it.each([
    ['pending', '1', '0', null, 'new'],
    ['open', '1', '0', null, 'open'],
    ['open', '1', '0.4', null, 'partially_filled'],
    ['closed', '1', '1', null, 'filled'],
    ['closed', '1.00000000', '1.0', null, 'filled'],
    ['closed', '1', '0.3', 'Immediate or cancel', 'cancelled'],
    ['canceled', '1', '0', 'User requested', 'cancelled'],
    ['canceled', '1', '0.2', 'User requested', 'cancelled'],
    ['canceled', '1', '0', 'Post only order', 'rejected'],
    ['expired', '1', '0', null, 'expired'],
  ] as const)('%s vol=%s exec=%s reason=%s → %s', (status, vol, exec, reason, expected) => {
    expect(mapKrakenStatus(status, vol, exec, reason)).toBe(expected);
  });
  it('refuses a status it does not know', () => {
    expect(() => mapKrakenStatus('weird', '1', '0', null)).toThrow();
  });
});

describe('names', () => {
  it('maps symbols and asset codes', () => {
    expect(wsV2Symbol('XBT/USD')).toBe('BTC/USD');
    expect(restWsname('DOGE/EUR')).toBe('XDG/EUR');
    expect(legacyAssetCode('BTC')).toBe('XXBT');
    expect(legacyAssetCode('USD')).toBe('ZUSD');
    expect(legacyAssetCode('SOL')).toBe('SOL');
    // Balance codes back to WS v2 names; suffixed balances (earn, staked, held) stay separate assets.
    for (const [code, asset] of [['XXBT', 'BTC'], ['XBT', 'BTC'], ['ZUSD', 'USD'], ['XXDG', 'DOGE'], ['XDG', 'DOGE'], ['SOL', 'SOL'],
                                 ['XBT.F', 'BTC.F'], ['DOT.S', 'DOT.S'], ['USD.HOLD', 'USD.HOLD'], ['ZEUR', 'EUR']]) expect(wsV2Asset(code!)).toBe(asset);
    for (const a of ['BTC', 'USD', 'ETH', 'DOGE', 'SOL']) expect(wsV2Asset(legacyAssetCode(a))).toBe(a);
    const m = new PairMap({ XXBTZUSD: { altname: 'XBTUSD', wsname: 'XBT/USD', base: 'XXBT', quote: 'ZUSD', pair_decimals: 1, lot_decimals: 8 } });
    expect(m.restPair('BTC/USD')).toBe('XBTUSD');
    expect(m.symbolOf('XXBTZUSD')).toBe('BTC/USD');
    expect(m.symbolOf('XBTUSD')).toBe('BTC/USD');
  });
  it('average price is exact to 12 decimals', () => {
    expect(averagePrice('100', '3')).toBe('33.333333333333');
    expect(averagePrice('0', '0')).toBeNull();
  });
  it('validates client order ids like Kraken', () => {
    expect(isValidClientOrderId('6d1b345e-2821-40e2-ad83-4ecb18a06876')).toBe(true);
    expect(isValidClientOrderId('6d1b345e282140e2ad834ecb18a06876')).toBe(true);
    expect(isValidClientOrderId('kb-000000000000001')).toBe(true);
    expect(isValidClientOrderId('kb-0000000000000001x')).toBe(false); // 19 chars
    expect(isValidClientOrderId('')).toBe(false);
    expect(isValidClientOrderId('has space')).toBe(false);
  });
});
