// Level3 symbols spread over connections of at most N symbols each, without moving a symbol that stays wanted.
import { describe, expect, it } from 'vitest';
import { L3Shards } from '../../../src/collector/l3-shards.ts';

const syms = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `S${String(from + i).padStart(3, '0')}/USD`);

describe('L3Shards', () => {
  it('opens a connection only when the others are full, and fills the least loaded first', () => {
    const sh = new L3Shards(3);
    expect(sh.assign(syms(0, 3))).toEqual([0]);
    expect(sh.count).toBe(1);
    expect(sh.assign(syms(0, 7))).toEqual([1, 2]);
    expect([sh.symbolsOf(0).length, sh.symbolsOf(1).length, sh.symbolsOf(2).length]).toEqual([3, 3, 1]);
    // Two leave connection 0; the next two new symbols go there (least loaded with room), none move.
    const before = new Map(syms(0, 7).map((s) => [s, sh.shardOf(s)]));
    expect(sh.assign([...syms(2, 7), ...syms(7, 9)])).toEqual([0, 2]);
    for (const s of syms(2, 7)) expect(sh.shardOf(s)).toBe(before.get(s));
    expect(sh.shardOf('S000/USD')).toBeUndefined();
    expect(sh.count).toBe(3);
  });

  it('on random universes: never more than N per connection, every wanted symbol exactly once, no needless moves', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const all = syms(0, 700);
    const sh = new L3Shards(200);
    let prev = new Map<string, number>();
    for (let step = 0; step < 60; step++) {
      const wanted = all.filter(() => rnd() < 0.3 + 0.5 * rnd());
      sh.assign(wanted);
      const seen = new Set<string>();
      for (let i = 0; i < sh.count; i++) {
        const on = sh.symbolsOf(i);
        expect(on.length).toBeLessThanOrEqual(200);
        for (const s of on) {
          expect(seen.has(s)).toBe(false);
          seen.add(s);
          expect(sh.shardOf(s)).toBe(i);
        }
      }
      expect([...seen].sort()).toEqual([...wanted].sort());
      for (const s of wanted) if (prev.has(s)) expect(sh.shardOf(s)).toBe(prev.get(s));
      expect(sh.count).toBeLessThanOrEqual(Math.ceil(700 / 200));
      prev = new Map(wanted.map((s) => [s, sh.shardOf(s)!]));
    }
  });

  it('refuses a nonsensical limit', () => {
    expect(() => new L3Shards(0)).toThrow(RangeError);
  });
});
