// Fault injection for crash tests of the private REST side.

export type PrivateFaultKind =
  /** Process the request (e.g. accept the order), then drop the connection without an answer. */
  | 'drop_response'
  /** Answer EService:Unavailable without processing. */
  | 'unavailable'
  /** Process, then answer after `ms`. */
  | 'delay';

export interface PrivateFault {
  kind: PrivateFaultKind;
  /** Only for this private method (e.g. AddOrder); default any. */
  method?: string;
  /** How many requests it hits (default 1). */
  count?: number;
  /** For `delay`. */
  ms?: number;
}

/** One-shot (count-limited) faults, matched in the order they were injected. */
export class FaultPlan {
  private readonly list: { kind: PrivateFaultKind; method?: string; left: number; ms: number }[] = [];
  /** Every response is delayed by this much (after processing). */
  delayAllMs = 0;
  /**
   * Per symbol: TradesHistory lists a trade only this many ms after it happened. Kraken's history can
   * trail its matching engines, and not by the same amount for every pair, so a later trade of one
   * pair can be listed before an earlier trade of another.
   */
  readonly historyLagMs = new Map<string, number>();

  inject(f: PrivateFault): void {
    this.list.push({ kind: f.kind, method: f.method, left: f.count ?? 1, ms: f.ms ?? 0 });
  }

  clear(): void {
    this.list.length = 0;
    this.delayAllMs = 0;
    this.historyLagMs.clear();
  }

  /** Takes the first matching fault for this method, if any. */
  take(method: string): { kind: PrivateFaultKind; ms: number } | undefined {
    const i = this.list.findIndex((f) => f.left > 0 && (f.method === undefined || f.method === method));
    if (i < 0) return undefined;
    const f = this.list[i]!;
    f.left--;
    if (f.left === 0) this.list.splice(i, 1);
    return { kind: f.kind, ms: f.ms };
  }

  pending(): number {
    return this.list.reduce((n, f) => n + f.left, 0);
  }
}
