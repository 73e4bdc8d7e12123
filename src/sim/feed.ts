// Turns one market step into what a subscriber at a given depth must receive, such that a client
// that applies the message in order and truncates to its depth ends up with exactly the top
// `depth` levels of the simulator's book:
// - touches of levels inside the new window (in event order, so a level can appear twice);
// - deletions of levels that were inside the old window;
// - levels (L2) or all orders of levels (L3) that moved into the window from below;
// - nothing for levels pushed out of the window by better ones (clients truncate).
import type { SimBook, SimEvent, SimSide, Side } from './book.ts';
import { formatScaled } from '../kraken/decimal-text.ts';
import type { StepResult } from './market.ts';

export interface L2Touch { price: string; qty: string }
export interface L3Out { event: 'add' | 'modify' | 'delete'; order_id: string; limit_price: string; order_qty: string; ts: bigint }

/** Rank of `price` in a best-first array, or -1. */
function rankIn(side: Side, arr: readonly bigint[], price: bigint): number {
  let lo = 0;
  let hi = arr.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = arr[mid]!;
    if (v === price) return mid;
    if (side === 'bid' ? v > price : v < price) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

/** Membership of a price in the top `depth` levels before and after the step. */
class Window {
  constructor(private readonly s: SimSide, private readonly before: readonly bigint[], private readonly depth: number) {}
  inBefore(p: bigint): boolean { const r = rankIn(this.s.side, this.before, p); return r >= 0 && r < this.depth; }
  inAfter(p: bigint): boolean { const r = this.s.indexOf(p); return r >= 0 && r < this.depth; }
  exists(p: bigint): boolean { return this.s.levels.has(p); }
}

export function l2Touches(book: SimBook, step: StepResult, side: Side, depth: number): L2Touch[] {
  const s = book.side(side);
  const w = new Window(s, step.before[side], depth);
  const out: L2Touch[] = [];
  const sent = new Set<bigint>();
  let windowLevelGone = false;
  for (const e of step.events) {
    if (e.side !== side) continue;
    if (w.inAfter(e.price)) {
      out.push({ price: e.priceText, qty: formatScaled(e.levelTotal, book.qtyPrecision) });
      sent.add(e.price);
    } else if (w.inBefore(e.price) && !w.exists(e.price)) {
      // Only the final "qty 0" matters for a level that left the book.
      if (e.levelTotal === 0n) { out.push({ price: e.priceText, qty: formatScaled(0n, book.qtyPrecision) }); windowLevelGone = true; }
    }
  }
  if (windowLevelGone) {
    const n = Math.min(depth, s.prices.length);
    for (let i = 0; i < n; i++) {
      const p = s.prices[i]!;
      if (!sent.has(p) && !w.inBefore(p)) out.push(book.levelText(s.levels.get(p)!));
    }
  }
  return out;
}

export function l3Events(book: SimBook, step: StepResult, side: Side, depth: number): L3Out[] {
  const s = book.side(side);
  const w = new Window(s, step.before[side], depth);
  const out: L3Out[] = [];
  const entering = new Set<bigint>();
  let windowLevelGone = false;
  for (const e of step.events) {
    if (e.side !== side) continue;
    const before = w.inBefore(e.price);
    if (w.inAfter(e.price)) {
      if (before) out.push(toOut(e)); else entering.add(e.price);
    } else if (before && !w.exists(e.price)) {
      out.push(toOut(e));
      windowLevelGone = true;
    }
  }
  if (windowLevelGone) {
    const n = Math.min(depth, s.prices.length);
    for (let i = 0; i < n; i++) { const p = s.prices[i]!; if (!w.inBefore(p)) entering.add(p); }
  }
  // Levels new to the window are published whole, in queue order, as adds.
  if (entering.size === 0) return out;
  for (const p of [...entering].sort((a, b) => (side === 'bid' ? (a > b ? -1 : 1) : (a < b ? -1 : 1)))) {
    const level = s.levels.get(p);
    if (!level) continue;
    for (const o of level.orders) out.push({ event: 'add', order_id: o.id, limit_price: o.priceText, order_qty: o.qtyText, ts: o.ts });
  }
  return out;
}

function toOut(e: SimEvent): L3Out {
  return { event: e.kind, order_id: e.id, limit_price: e.priceText, order_qty: e.qtyText, ts: e.ts };
}
