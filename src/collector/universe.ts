// Which pairs the collector streams: the instrument channel's pairs filtered by quote currency and
// status (online), then, when topN > 0, the topN by 24 h quote volume (ticker volume × vwap), with
// hysteresis so that pairs near rank N do not flap in and out (each flap costs two resubscriptions,
// a book snapshot and a gap in the pair's state). Pure functions; the collector applies the result to
// its subscriptions and run_pairs.
import Decimal from 'decimal.js';
import type { InstrumentPair } from '../kraken/messages.ts';

export interface UniversePolicy {
  /** Quote currencies to keep (e.g. ['USD']); empty keeps every quote. */
  quotes: readonly string[];
  /** Keep the N most liquid candidates; 0 keeps all. */
  topN: number;
  /**
   * Hysteresis in ranks (0 = none): a pair outside the universe replaces the worst-ranked member only
   * when it ranks at least this many places better. Members therefore stay while they rank within
   * topN + keepMargin, and a pair ranked 1 … topN − keepMargin always gets in.
   */
  keepMargin?: number;
}

export interface UniversePair extends InstrumentPair {
  inUniverse: boolean;
  liquidityRank: number | null;
  volume24hQuote: string | null;
}

/** Pairs that pass the quote filter (any status): the ones recorded in run_pairs. */
export function quoteFiltered(pairs: Iterable<InstrumentPair>, policy: UniversePolicy): InstrumentPair[] {
  const quotes = new Set(policy.quotes.map((q) => q.toUpperCase()));
  return [...pairs].filter((p) => quotes.size === 0 || quotes.has(p.quote.toUpperCase()));
}

/** Candidates for streaming: quote filter and status online. */
export function candidates(pairs: Iterable<InstrumentPair>, policy: UniversePolicy): InstrumentPair[] {
  return quoteFiltered(pairs, policy).filter((p) => p.status === 'online');
}

/** 24 h volume in quote currency from ticker text (volume is in base currency). */
export function quoteVolume(volume: string, vwap: string): string {
  return new Decimal(volume).times(vwap).toFixed();
}

/**
 * Ranks the candidates by quote volume (unknown volume last, then by symbol) and marks topN of them
 * (all when topN is 0) as in the universe: on the first ranking (no `current` members) the first topN;
 * afterwards the current members that are still candidates, with free places filled best rank first,
 * and a member swapped out only for a pair ranked at least `keepMargin` places better.
 * Returns every quote-filtered pair.
 */
export function selectUniverse(
  pairs: Iterable<InstrumentPair>,
  volumes: ReadonlyMap<string, string>,
  policy: UniversePolicy,
  current: ReadonlySet<string> = new Set(),
): UniversePair[] {
  const all = quoteFiltered(pairs, policy);
  const cands = all.filter((p) => p.status === 'online');
  const ranked = [...cands].sort((a, b) => {
    const va = volumes.get(a.symbol);
    const vb = volumes.get(b.symbol);
    if (va !== undefined && vb !== undefined) {
      const c = new Decimal(vb).comparedTo(va);
      if (c !== 0) return c;
    } else if (va !== undefined) return -1;
    else if (vb !== undefined) return 1;
    return a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0;
  });
  const rank = new Map(ranked.map((p, i) => [p.symbol, i + 1]));
  const chosen = chooseMembers(ranked.map((p) => p.symbol), policy, current);
  return all
    .map((p) => ({
      ...p,
      inUniverse: chosen.has(p.symbol),
      liquidityRank: rank.get(p.symbol) ?? null,
      volume24hQuote: volumes.get(p.symbol) ?? null,
    }))
    .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
}

/** The members among `ranked` (best first): see selectUniverse. */
function chooseMembers(ranked: readonly string[], policy: UniversePolicy, current: ReadonlySet<string>): Set<string> {
  const limit = policy.topN > 0 ? policy.topN : Infinity;
  if (ranked.length <= limit) return new Set(ranked);
  const margin = policy.keepMargin ?? 0;
  const rankOf = new Map(ranked.map((s, i) => [s, i + 1]));
  // Members that are still candidates, worst rank last; more than limit only if topN shrank.
  const kept = ranked.filter((s) => current.has(s)).slice(0, limit);
  const keptSet = new Set(kept);
  const outside = ranked.filter((s) => !keptSet.has(s));
  // Free places go to the best-ranked outsiders.
  let next = 0;
  while (kept.length < limit) kept.push(outside[next++]!);
  kept.sort((a, b) => rankOf.get(a)! - rankOf.get(b)!);
  // Swaps: the best remaining outsider against the worst member, while it is margin places better.
  while (next < outside.length && rankOf.get(outside[next]!)! + margin <= rankOf.get(kept[kept.length - 1]!)!) {
    kept.pop();
    const s = outside[next++]!;
    const at = kept.findIndex((k) => rankOf.get(k)! > rankOf.get(s)!);
    kept.splice(at < 0 ? kept.length : at, 0, s);
  }
  return new Set(kept);
}
