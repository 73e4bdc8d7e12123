// A token bucket: `ratePerSec` tokens refill continuously up to `burst`. Paces subscription
// requests so hundreds of symbols never trip Kraken's request limits.
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new RangeError('token bucket needs rate > 0 and burst >= 1');
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.ratePerSec) / 1000);
    this.last = t;
  }

  /** Takes a token if one is there; otherwise returns how many ms until one will be. */
  tryTake(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec);
  }
}
