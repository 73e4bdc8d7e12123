// Which pairs the collector streams: the instrument channel's pairs filtered by quote currency and
// status (online), then, when topN > 0, the topN by 24 h quote volume (ticker volume × vwap).
// Pure functions; the collector applies the result to its subscriptions and run_pairs.
import Decimal from 'decimal.js';
import type { InstrumentPair } from '../kraken/messages.ts';

export interface UniversePolicy {
  /** Quote currencies to keep (e.g. ['USD']); empty keeps every quote. */
  quotes: readonly string[];
  /** Keep the N most liquid candidates; 0 keeps all. */
  topN: number;
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
 * Ranks the candidates by quote volume (unknown volume last, then by symbol) and marks the first
 * topN (all when topN is 0) as in the universe. Returns every quote-filtered pair.
 */
export function selectUniverse(
  pairs: Iterable<InstrumentPair>,
  volumes: ReadonlyMap<string, string>,
  policy: UniversePolicy,
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
  const limit = policy.topN > 0 ? policy.topN : Infinity;
  return all
    .map((p) => {
      const r = rank.get(p.symbol) ?? null;
      return {
        ...p,
        inUniverse: r !== null && r <= limit,
        liquidityRank: r,
        volume24hQuote: volumes.get(p.symbol) ?? null,
      };
    })
    .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
}
