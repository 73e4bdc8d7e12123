// Seeded PRNG (sfc32, seeded by a string hash). The simulator never uses Math.random so that the
// same seed gives the same market, message for message.

export class Prng {
  private a: number; private b: number; private c: number; private d: number;

  constructor(seed: string | number) {
    const [a, b, c, d] = hash128(String(seed));
    this.a = a; this.b = b; this.c = c; this.d = d;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  /** An independent stream derived from this seed and a label (e.g. one per pair). */
  static derive(seed: string | number, label: string): Prng {
    return new Prng(`${String(seed)}\u0000${label}`);
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number { return this.nextU32() / 4294967296; }
  /** Integer in [0, n). */
  int(n: number): number { return Math.floor(this.next() * n); }
  chance(p: number): boolean { return this.next() < p; }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Number of failures before the first success: 0, 1, 2 … with mean (1-p)/p. */
  geometric(p: number): number {
    return Math.floor(Math.log(1 - this.next()) / Math.log(1 - p));
  }
  /** Log-normal multiplier with median 1. */
  logNormal(sigma: number): number { return Math.exp(sigma * this.normal()); }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from empty list');
    return items[this.int(items.length)]!;
  }
  /** 64 random bits as a bigint. */
  u64(): bigint { return (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32()); }
}

/** cyrb128: a fast, well-mixed 128-bit string hash used only for seeding. */
function hash128(str: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4; h2 ^= h1; h3 ^= h1; h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
