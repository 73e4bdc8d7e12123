// Kraken book checksum v2: CRC32 over the top 10 asks (lowest first) then the top 10 bids
// (highest first). Callers pass levels already in that order and as the exact text Kraken sent
// (or re-formatted at the pair's precision): the digits are hashed, not the values.
import { crc32 } from 'node:zlib';
import { checksumDigits } from './decimal-text.ts';

export const CHECKSUM_LEVELS = 10;

export interface TextLevel { price: string; qty: string }
export interface TextOrder { limit_price: string; order_qty: string }
/** One L3 price level: its orders in queue order. */
export interface TextOrderLevel { orders: readonly TextOrder[] }

/** The string that gets hashed (exposed so a failing checksum can be debugged). */
export function l2ChecksumInput(asks: readonly TextLevel[], bids: readonly TextLevel[]): string {
  return side(asks) + side(bids);
}

export function l2Checksum(asks: readonly TextLevel[], bids: readonly TextLevel[]): number {
  return crc32(l2ChecksumInput(asks, bids)) >>> 0;
}

export function l3ChecksumInput(asks: readonly TextOrderLevel[], bids: readonly TextOrderLevel[]): string {
  return l3Side(asks) + l3Side(bids);
}

export function l3Checksum(asks: readonly TextOrderLevel[], bids: readonly TextOrderLevel[]): number {
  return crc32(l3ChecksumInput(asks, bids)) >>> 0;
}

function side(levels: readonly TextLevel[]): string {
  let s = '';
  const n = Math.min(CHECKSUM_LEVELS, levels.length);
  for (let i = 0; i < n; i++) {
    const l = levels[i]!;
    s += checksumDigits(l.price) + checksumDigits(l.qty);
  }
  return s;
}

function l3Side(levels: readonly TextOrderLevel[]): string {
  let s = '';
  const n = Math.min(CHECKSUM_LEVELS, levels.length);
  for (let i = 0; i < n; i++) {
    for (const o of levels[i]!.orders) s += checksumDigits(o.limit_price) + checksumDigits(o.order_qty);
  }
  return s;
}
