// Client-side copies of Kraken's rate-limit counters (PROTOCOL.md "Rate limits"). Each counter
// rises by a call's cost and decays linearly; acquire() waits until the cost fits under the maximum
// instead of letting Kraken answer "Rate limit exceeded". Clock and sleep are injectable for tests.

export interface Clock {
  now(): number; // milliseconds
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface DecayCounterOptions {
  /** Counter maximum (Kraken: 15 Starter, 20 Intermediate/Pro for the REST counter). */
  max: number;
  /** Decay per second (Kraken REST: 0.33 Starter, 0.5 Intermediate, 1 Pro). */
  decayPerSecond: number;
  clock?: Clock;
}

/** One decaying counter. Waiters are served in order (a chain of promises). */
export class DecayCounter {
  private level = 0;
  private at: number;
  private chain: Promise<void> = Promise.resolve();
  private readonly clock: Clock;

  constructor(private readonly opts: DecayCounterOptions) {
    if (!(opts.max > 0) || !(opts.decayPerSecond > 0)) throw new RangeError('rate limit max and decay must be positive');
    this.clock = opts.clock ?? realClock;
    this.at = this.clock.now();
  }

  /** The counter now, after decay. */
  current(): number {
    const now = this.clock.now();
    const decayed = Math.max(0, this.level - ((now - this.at) / 1000) * this.opts.decayPerSecond);
    this.level = decayed;
    this.at = now;
    return decayed;
  }

  /** Milliseconds until `cost` fits. */
  waitFor(cost: number): number {
    const c = Math.min(cost, this.opts.max);
    const over = this.current() + c - this.opts.max;
    return over <= 0 ? 0 : Math.ceil((over / this.opts.decayPerSecond) * 1000);
  }

  /** Waits until the cost fits, then adds it. */
  acquire(cost: number): Promise<void> {
    const run = this.chain.then(async () => {
      for (;;) {
        const wait = this.waitFor(cost);
        if (wait === 0) break;
        await this.clock.sleep(wait);
      }
      this.level = this.current() + Math.min(cost, this.opts.max);
    });
    this.chain = run.catch(() => {});
    return run;
  }

  /** Kraken told us we are over: assume the counter is full. */
  saturate(): void {
    this.current();
    this.level = this.opts.max;
  }
}

/** Cost of a private REST call on the REST counter: +4 for ledger/trade history (PROTOCOL.md), else +1. */
export function restCallCost(method: string): number {
  return method === 'TradesHistory' || method === 'QueryTrades' || method === 'Ledgers' || method === 'QueryLedgers' ? 4 : 1;
}

/** Trading-counter cost of cancelling an order of this age (PROTOCOL.md): younger costs more. */
export function cancelCost(ageMs: number | undefined): number {
  if (ageMs === undefined) return 8; // unknown age: assume the worst
  const s = ageMs / 1000;
  if (s < 5) return 8;
  if (s < 10) return 6;
  if (s < 15) return 5;
  if (s < 45) return 4;
  if (s < 90) return 2;
  if (s < 300) return 1;
  return 0;
}

export interface RateLimitTier {
  restMax: number;
  restDecay: number;
  tradingMax: number;
  tradingDecay: number;
}

/** Verification tiers; Starter is the default because it is the most conservative. */
export const TIERS: Record<'starter' | 'intermediate' | 'pro', RateLimitTier> = {
  starter: { restMax: 15, restDecay: 0.33, tradingMax: 60, tradingDecay: 1 },
  intermediate: { restMax: 20, restDecay: 0.5, tradingMax: 125, tradingDecay: 2.34 },
  pro: { restMax: 20, restDecay: 1, tradingMax: 180, tradingDecay: 3.75 },
};

/** The REST counter per key plus one trading counter per pair. */
export class KrakenRateLimiter {
  private readonly rest: DecayCounter;
  private readonly trading = new Map<string, DecayCounter>();
  constructor(private readonly tier: RateLimitTier = TIERS.starter, private readonly clock: Clock = realClock) {
    this.rest = new DecayCounter({ max: tier.restMax, decayPerSecond: tier.restDecay, clock });
  }
  restCounter(): DecayCounter {
    return this.rest;
  }
  tradingCounter(pair: string): DecayCounter {
    let c = this.trading.get(pair);
    if (!c) {
      c = new DecayCounter({ max: this.tier.tradingMax, decayPerSecond: this.tier.tradingDecay, clock: this.clock });
      this.trading.set(pair, c);
    }
    return c;
  }
}
