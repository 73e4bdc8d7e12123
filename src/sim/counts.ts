// What the simulator sent, so tests and benchmarks can compare it with what a client stored.
// "rows" are the entries a collector would store: trades, book levels, L3 order events,
// ticker records.

export interface ChannelSymbolCounts { messages: number; snapshots: number; updates: number; rows: number }

export interface SentCounts {
  /** Every frame written to a socket. */
  messages: number;
  /** Frames by type: `status`, `heartbeat`, `pong`, `subscribe`, `unsubscribe`, `error`, `malformed`,
   * `instrument:snapshot`, `book:update`, `level3:snapshot`, … */
  byType: Record<string, number>;
  /** Data messages per channel and symbol (instrument uses symbol `*`). */
  channels: Record<string, Record<string, ChannelSymbolCounts>>;
  /** Injected faults: `corrupted`, `malformed`, `repeated`, `reordered`, `dropped`, `suppressed` (stall), `statusChanges`. */
  faults: Record<string, number>;
}

export class Counter {
  private messages = 0;
  private readonly byType = new Map<string, number>();
  private readonly channels = new Map<string, Map<string, ChannelSymbolCounts>>();
  private readonly faults = new Map<string, number>();

  frame(type: string): void {
    this.messages++;
    this.byType.set(type, (this.byType.get(type) ?? 0) + 1);
  }

  data(channel: string, symbol: string, kind: 'snapshot' | 'update', rows: number): void {
    let bySymbol = this.channels.get(channel);
    if (!bySymbol) { bySymbol = new Map(); this.channels.set(channel, bySymbol); }
    let c = bySymbol.get(symbol);
    if (!c) { c = { messages: 0, snapshots: 0, updates: 0, rows: 0 }; bySymbol.set(symbol, c); }
    c.messages++;
    if (kind === 'snapshot') c.snapshots++; else c.updates++;
    c.rows += rows;
  }

  fault(name: string, n = 1): void {
    this.faults.set(name, (this.faults.get(name) ?? 0) + n);
  }

  snapshot(): SentCounts {
    const channels: SentCounts['channels'] = {};
    for (const [ch, m] of this.channels) {
      channels[ch] = {};
      for (const [sym, c] of m) channels[ch][sym] = { ...c };
    }
    return {
      messages: this.messages,
      byType: Object.fromEntries(this.byType),
      channels,
      faults: Object.fromEntries(this.faults),
    };
  }
}
