// evaluation_rankings__record: the whole ranking stored under an evaluation id, idempotent,
// callable by the execution role; the read-only functions write nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { NOW, newRun, putState, rangeDip, trendUp } from './support.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase('decision');
});

const record = `select evaluation_id::int, symbol, strategy, rank, score, net_edge_bps, selected, reason, generation_id::int,
                       recorded_at, inputs
                  from evaluation_rankings__record($1, $2, $3::timestamptz)`;

describe('evaluation_rankings__record', () => {
  it('stores every proposal with rank, score, selection and loss reason, and returns them by rank', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', rangeDip);
      await putState(c, run, 'BBB/USD', trendUp);
      const { rows } = await c.query(record, [9001, run, NOW]);
      expect(rows.map((r) => [r.rank, r.strategy, r.symbol, r.selected])).toEqual([
        [1, 'momentum', 'BBB/USD', true],
        [2, 'liquidity', 'AAA/USD', false],
        // Blocked proposals follow, also by score: liquidity on BBB (net -68 x fill 0.909099) before the
        // -82 bps proposals with no signal at all.
        [3, 'liquidity', 'BBB/USD', false],
        [4, 'momentum', 'AAA/USD', false],
        [5, 'volume', 'AAA/USD', false],
        [6, 'volume', 'BBB/USD', false],
      ]);
      expect(rows[1]).toMatchObject({ score: '74.546118', net_edge_bps: '82.000000', generation_id: 4242,
        reason: 'lower_score_than momentum/BBB/USD: score 74.546118 < 78.000000' });
      expect(rows.every((r) => r.evaluation_id === 9001 && r.recorded_at.toISOString() === NOW)).toBe(true);
      expect(rows[0].inputs.fees.source).toBe('capital_policy:default');

      // A DBA's question: why did this evaluation pick what it picked, and what lost?
      const why = await c.query(
        `select strategy || '/' || symbol as who, reason from evaluation_rankings
          where evaluation_id = 9001 and not selected order by rank`,
      );
      expect(why.rows.map((r) => r.reason.split(':')[0])).toEqual([
        'lower_score_than momentum/BBB/USD', 'regime_ineligible', 'regime_ineligible', 'no_signal', 'no_signal',
      ]);
    });
  });

  it('joins the decision layer\'s evaluations by evaluation_id (no foreign key, same key as its evaluation_candidates)', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'BBB/USD', trendUp);
      const ev = await c.query(
        `insert into evaluations (run_id, generation_id, outcome, reason, evaluated_at)
         values ($1, 4242, 'candidates', 'test', $2::timestamptz) returning evaluation_id`,
        [run, NOW],
      );
      const id = ev.rows[0].evaluation_id;
      await c.query(`select * from evaluation_rankings__record($1, $2, $3::timestamptz)`, [id, run, NOW]);
      const { rows } = await c.query(
        `select e.outcome, r.strategy, r.symbol, r.generation_id = e.generation_id as same_generation
           from evaluation_rankings r join evaluations e on e.evaluation_id = r.evaluation_id
          where r.evaluation_id = $1 and r.selected`,
        [id],
      );
      expect(rows).toEqual([{ outcome: 'candidates', strategy: 'momentum', symbol: 'BBB/USD', same_generation: true }]);
    });
  });

  it('is idempotent per evaluation id: a second call stores nothing and returns the first recording', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'BBB/USD', trendUp);
      const first = await c.query(record, [9002, run, NOW]);
      await c.query(`update run_symbol_state set ret_5m_bps = 150 where run_id = $1`, [run]);
      const second = await c.query(record, [9002, run, '2026-01-01T12:05:01Z']);
      expect(second.rows).toEqual(first.rows);
      const n = await c.query(`select count(*)::int n from evaluation_rankings where evaluation_id = 9002`);
      expect(n.rows[0].n).toBe(3);
    });
  });

  it('an evaluation without a winner stores its losers and no selected row', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', { ...trendUp, regime: 'CHAOS' });
      const { rows } = await c.query(record, [9003, run, NOW]);
      expect(rows).toHaveLength(3);
      expect(rows.some((r) => r.selected)).toBe(false);
      expect(rows.every((r) => r.reason === 'regime_ineligible: CHAOS')).toBe(true);
    });
  });

  it('refuses a second selected row for one evaluation', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'AAA/USD', trendUp);
      await c.query(record, [9004, run, NOW]);
      await expect(
        c.query(`update evaluation_rankings set selected = true, rank = 1 where evaluation_id = 9004 and not selected`),
      ).rejects.toThrow(/duplicate key|violates/);
    });
  });

  it('runs as kapitaal_execution; kapitaal_readonly may rank but not record', async () => {
    await db.rollback(async (c) => {
      const run = newRun();
      await putState(c, run, 'BBB/USD', trendUp);
      await c.query(`set local role kapitaal_execution`);
      const top = await c.query(`select outcome, strategy from strategy__select_top($1, $2::timestamptz)`, [run, NOW]);
      expect(top.rows).toEqual([{ outcome: 'selected', strategy: 'momentum' }]);
      const { rows } = await c.query(record, [9005, run, NOW]);
      expect(rows).toHaveLength(3);
      await c.query(`reset role`);
      await c.query(`set local role kapitaal_readonly`);
      const ranked = await c.query(`select count(*)::int n from strategy__rank($1, $2::timestamptz)`, [run, NOW]);
      expect(ranked.rows[0].n).toBe(3);
      await expect(c.query(record, [9006, run, NOW])).rejects.toThrow(/permission denied/);
    });
  });

  it('the ranking functions are stable and write nothing', async () => {
    const { rows } = await db.pool.query(
      `select proname, provolatile from pg_proc where pronamespace = 'kapitaal'::regnamespace
        and proname in ('strategy__proposals', 'strategy__rank', 'strategy__select_top', 'evaluation_rankings__record')
        order by proname`,
    );
    expect(rows).toEqual([
      { proname: 'evaluation_rankings__record', provolatile: 'v' },
      { proname: 'strategy__proposals', provolatile: 's' },
      { proname: 'strategy__rank', provolatile: 's' },
      { proname: 'strategy__select_top', provolatile: 's' },
    ]);
  });
});
