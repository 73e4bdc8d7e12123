// Kraken streams level3 for at most 200 symbols per connection (PROTOCOL.md), so a universe of
// hundreds of pairs needs several level3 connections. This decides which connection carries which
// symbol: a symbol stays on its connection while it is wanted (moving it would cost an unsubscribe,
// a subscribe and a fresh snapshot), new symbols go to the least loaded connection with room, and a
// new connection is opened only when all are full. Pure: the collector applies the result.

export const L3_MAX_SYMBOLS_PER_CONNECTION = 200;

export class L3Shards {
  private readonly shardOfSymbol = new Map<string, number>();
  private readonly members: Set<string>[] = [];

  constructor(readonly perConnection = L3_MAX_SYMBOLS_PER_CONNECTION) {
    if (!Number.isInteger(perConnection) || perConnection < 1) throw new RangeError('perConnection must be a positive whole number');
  }

  /** Number of connections needed so far (never shrinks: idle connections are kept for later). */
  get count(): number {
    return this.members.length;
  }

  shardOf(symbol: string): number | undefined {
    return this.shardOfSymbol.get(symbol);
  }

  /** Symbols carried by connection i, sorted. */
  symbolsOf(i: number): string[] {
    return [...(this.members[i] ?? [])].sort();
  }

  /** Assigns the wanted symbols; returns the connections whose symbol set changed. */
  assign(wanted: Iterable<string>): number[] {
    const want = new Set(wanted);
    const changed = new Set<number>();
    for (const [s, i] of this.shardOfSymbol) {
      if (want.has(s)) continue;
      this.shardOfSymbol.delete(s);
      this.members[i]!.delete(s);
      changed.add(i);
    }
    for (const s of [...want].sort()) {
      if (this.shardOfSymbol.has(s)) continue;
      let best = -1;
      for (let i = 0; i < this.members.length; i++) {
        const n = this.members[i]!.size;
        if (n < this.perConnection && (best < 0 || n < this.members[best]!.size)) best = i;
      }
      if (best < 0) {
        this.members.push(new Set());
        best = this.members.length - 1;
      }
      this.members[best]!.add(s);
      this.shardOfSymbol.set(s, best);
      changed.add(best);
    }
    return [...changed].sort((a, b) => a - b);
  }
}
