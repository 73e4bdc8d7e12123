import { describe, expect, it } from 'vitest';
import { decodeSecret, krakenSignature, signaturesEqual } from '../../../src/exchange/sign.ts';

// Public vector from PROTOCOL.md ("REST authentication").
const SECRET = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';
const NONCE = '1616492376594';
const BODY = 'nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25';
const PATH = '/0/private/AddOrder';
const EXPECTED = '4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==';

describe('krakenSignature', () => {
  it('reproduces the public test vector', () => {
    expect(krakenSignature(PATH, NONCE, BODY, decodeSecret(SECRET))).toBe(EXPECTED);
  });

  it('changes with any byte of path, nonce or body', () => {
    const s = decodeSecret(SECRET);
    expect(krakenSignature('/0/private/CancelOrder', NONCE, BODY, s)).not.toBe(EXPECTED);
    expect(krakenSignature(PATH, '1616492376595', BODY, s)).not.toBe(EXPECTED);
    expect(krakenSignature(PATH, NONCE, BODY.replace('1.25', '1.26'), s)).not.toBe(EXPECTED);
  });

  it('rejects a secret that is not base64 without echoing it', () => {
    const bad = 'not base64 secret value!!';
    expect(() => decodeSecret(bad)).toThrow(/not valid base64/);
    try {
      decodeSecret(bad);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(bad);
    }
  });

  it('compares signatures', () => {
    expect(signaturesEqual(EXPECTED, EXPECTED)).toBe(true);
    expect(signaturesEqual(EXPECTED, EXPECTED.slice(1))).toBe(false);
  });
});
