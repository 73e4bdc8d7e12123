// The demo's status line: row rates between published epochs, steady between status ticks.
import { describe, expect, it } from 'vitest';
import type { Overview } from '../../src/status/overview.ts';
import { EpochBase, statusLine } from '../../src/status/status-line.ts';

const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 0, 0, s));
const overview = (epoch: number, publishedS: number, trades: number): Overview => ({
  ingest: {
    runId: '7', heartbeatAgeS: 0.5, epoch: String(epoch), epochAt: at(publishedS),
    rows: { ticker: 2 * trades, trade: trades, l2: 0, l3: 0 }, symbols: 3, symbolsBookValid: 3,
    generationId: null, generationAt: null,
  },
  decision: null,
});
const rates = (line: string) => /rows\/s (t\S+ tr\S+)/.exec(line)![1];

describe('status line', () => {
  it('measures rows/s between epochs, so ticks inside one epoch show the same rate, not 0', () => {
    const base = new EpochBase();
    const ticks = [overview(1, 0, 100), overview(1, 0, 100), overview(2, 2, 160), overview(2, 2, 160), overview(3, 4, 200)];
    const seen = ticks.map((o) => {
      base.observe(o);
      return rates(statusLine(o, base.base));
    });
    expect(seen).toEqual(['t- tr-', 't- tr-', 't60 tr30', 't60 tr30', 't40 tr20']);
  });

  it('starts over for a new run', () => {
    const base = new EpochBase();
    base.observe(overview(5, 0, 100));
    base.observe(overview(6, 2, 200));
    const other = { ...overview(1, 3, 10), ingest: { ...overview(1, 3, 10).ingest!, runId: '8' } };
    base.observe(other);
    expect(rates(statusLine(other, base.base))).toBe('t- tr-');
  });

  it('says plainly when new entries are halted', () => {
    const o: Overview = {
      ingest: null,
      decision: {
        generationId: null, generationAt: null, outcomes: {}, lastOutcome: null, lastReason: null, equity: '210',
        openPositions: 0, realisedPnl: '-10', unrealisedPnl: null, orders: 0, fills: 0,
        entriesHalted: 'ENTRIES_DISABLED: capital_policy.entries_enabled is false for account default (exits go on)',
      },
    };
    expect(statusLine(o, null)).toMatch(/ \| NEW ENTRIES HALTED: ENTRIES_DISABLED: capital_policy\.entries_enabled is false/);
    expect(statusLine({ ...o, decision: { ...o.decision!, entriesHalted: null } }, null)).not.toMatch(/HALTED/);
  });
});
