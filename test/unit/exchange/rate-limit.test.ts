import { describe, expect, it } from 'vitest';
import { DecayCounter, cancelCost, restCallCost, type Clock } from '../../../src/exchange/rate-limit.ts';

/** A clock that only moves when someone sleeps: records the sleeps. */
function fakeClock(): Clock & { sleeps: number[]; t: number } {
  const c = {
    t: 1_000_000,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe('DecayCounter', () => {
  it('lets calls through until the maximum, then waits exactly for the decay', async () => {
    const clock = fakeClock();
    const counter = new DecayCounter({ max: 15, decayPerSecond: 0.5, clock });
    for (let i = 0; i < 15; i++) await counter.acquire(1);
    expect(clock.sleeps).toEqual([]);
    expect(counter.current()).toBe(15);
    await counter.acquire(4); // 15 + 4 - 15 = 4 over at 0.5/s → 8 s
    expect(clock.sleeps).toEqual([8000]);
    expect(counter.current()).toBe(15);
  });

  it('decays while idle', async () => {
    const clock = fakeClock();
    const counter = new DecayCounter({ max: 10, decayPerSecond: 1, clock });
    await counter.acquire(10);
    clock.t += 4000;
    expect(counter.current()).toBe(6);
    await counter.acquire(4);
    expect(clock.sleeps).toEqual([]);
  });

  it('saturate() makes the next call wait', async () => {
    const clock = fakeClock();
    const counter = new DecayCounter({ max: 20, decayPerSecond: 1, clock });
    counter.saturate();
    await counter.acquire(1);
    expect(clock.sleeps).toEqual([1000]);
  });
});

describe('costs', () => {
  it('REST counter: +4 for trade/ledger history, +1 otherwise', () => {
    expect(restCallCost('TradesHistory')).toBe(4);
    expect(restCallCost('Ledgers')).toBe(4);
    expect(restCallCost('OpenOrders')).toBe(1);
  });
  it('cancel costs fall with order age', () => {
    expect([undefined, 0, 5_000, 10_000, 15_000, 45_000, 90_000, 300_000].map(cancelCost)).toEqual([8, 8, 6, 5, 4, 2, 1, 0]);
  });
});
