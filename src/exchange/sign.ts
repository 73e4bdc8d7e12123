// Kraken REST request signing (PROTOCOL.md "REST authentication"):
// API-Sign = base64(HMAC-SHA512(key = base64-decoded secret, message = path + SHA256(nonce + body))).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Signs exactly the bytes sent: `body` is the form-encoded body that contains `nonce=…`. */
export function krakenSignature(path: string, nonce: string, body: string, secret: Uint8Array): string {
  const inner = createHash('sha256').update(nonce + body, 'utf8').digest();
  return createHmac('sha512', secret).update(Buffer.concat([Buffer.from(path, 'utf8'), inner])).digest('base64');
}

/** Decodes a base64 API secret; throws (without echoing it) when it is not base64. */
export function decodeSecret(secretB64: string): Buffer {
  const clean = secretB64.trim();
  if (clean.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    throw new Error('KRAKEN_API_SECRET is not valid base64 (value not shown)');
  }
  return Buffer.from(clean, 'base64');
}

/** Constant-time comparison of two base64 signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
