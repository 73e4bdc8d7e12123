// Small typed wrappers around the execution SQL API, shared by the execution test files.
import type pg from 'pg';
import { expect } from 'vitest';

export type Q = { query: pg.Pool['query'] };

export const T0 = '2026-03-01T12:00:00Z';

/** A timestamp `seconds` after T0. */
export const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

let seq = 0;
/** A client order id unique within this process (≤ 18 chars of [A-Za-z0-9_-]). */
export const cid = (prefix = 't') => `${prefix}${process.pid % 10000}-${++seq}`.slice(0, 18);

export interface IntentRow {
  order_id: string;
  client_order_id: string;
  status: string;
  created: boolean;
  job_id: string | null;
}

export interface IntentOpts {
  clientOrderId?: string;
  runId?: number;
  symbol?: string;
  side?: 'buy' | 'sell';
  orderType?: 'limit' | 'market';
  qty?: string;
  price?: string | null;
  strategy?: string;
  purpose?: 'entry' | 'exit';
  reason?: string;
  evaluationId?: number | null;
  generationId?: number | null;
  postOnly?: boolean;
  referencePrice?: string | null;
  exitTrigger?: string | null;
  positionId?: string | null;
  regime?: string | null;
  account?: string;
  now?: string;
}

export async function intent(q: Q, o: IntentOpts = {}): Promise<IntentRow> {
  const exit = o.purpose === 'exit';
  const { rows } = await q.query<IntentRow>(
    `select * from order__create_intent(
       p_client_order_id => $1, p_run_id => $2, p_symbol => $3, p_side => $4, p_order_type => $5,
       p_qty => $6::numeric, p_price => $7::numeric, p_strategy => $8, p_purpose => $9, p_reason => $10,
       p_evaluation_id => $11, p_generation_id => $12, p_post_only => $13, p_reference_price => $14::numeric,
       p_exit_trigger => $15, p_position_id => $16::bigint, p_regime => $17, p_account => $18, p_now => $19)`,
    [
      o.clientOrderId ?? cid(),
      o.runId ?? 1,
      o.symbol ?? 'BTC/USD',
      o.side ?? (exit ? 'sell' : 'buy'),
      o.orderType ?? 'limit',
      o.qty ?? '1',
      o.price === undefined ? '100' : o.price,
      o.strategy ?? 'momentum',
      o.purpose ?? 'entry',
      o.reason ?? 'test intent',
      o.evaluationId ?? null,
      o.generationId ?? null,
      o.postOnly ?? false,
      o.referencePrice ?? null,
      o.exitTrigger ?? (exit ? 'stop_loss' : null),
      o.positionId ?? null,
      o.regime ?? null,
      o.account ?? 'default',
      o.now ?? T0,
    ],
  );
  return rows[0]!;
}

export interface TransitionRow {
  order_id: string;
  from_status: string;
  to_status: string;
  changed: boolean;
}

export const transition = async (
  q: Q,
  orderId: string,
  to: string,
  txid: string | null = null,
  now = T0,
  data: object | null = null,
): Promise<TransitionRow> =>
  (
    await q.query<TransitionRow>(`select * from order__transition($1, $2, $3, $4::jsonb, $5)`, [
      orderId,
      to,
      txid,
      data === null ? null : JSON.stringify(data),
      now,
    ])
  ).rows[0]!;

export interface FillRow {
  fill_id: string;
  is_new: boolean;
  order_status: string;
  position_id: string | null;
}

export interface FillOpts {
  exchange?: string;
  liquidity?: 'maker' | 'taker';
  filledAt?: string;
  now?: string;
}

export const fill = async (
  q: Q,
  orderId: string,
  tradeId: string,
  price: string,
  qty: string,
  fee: string,
  o: FillOpts = {},
): Promise<FillRow> =>
  (
    await q.query<FillRow>(
      `select * from order__record_fill($1, $2, $3, $4::numeric, $5::numeric, $6::numeric, $7, $8, null, $9)`,
      [orderId, o.exchange ?? 'sim', tradeId, price, qty, fee, o.liquidity ?? 'taker', o.filledAt ?? T0, o.now ?? o.filledAt ?? T0],
    )
  ).rows[0]!;

/** Creates an entry order and brings it to `open`, ready for fills. */
export async function openEntry(q: Q, o: IntentOpts = {}): Promise<string> {
  const i = await intent(q, o);
  await q.query(`select * from order__begin_submit($1, $2)`, [i.order_id, o.now ?? T0]);
  await transition(q, i.order_id, 'open', `TX-${i.order_id}`, o.now ?? T0);
  return i.order_id;
}

/** Creates an exit order of a position and brings it to `open`. */
export async function openExit(q: Q, positionId: string, o: IntentOpts = {}): Promise<string> {
  return openEntry(q, { ...o, purpose: 'exit', positionId });
}

export async function orderRow(q: Q, orderId: string) {
  const { rows } = await q.query(`select * from orders where order_id = $1`, [orderId]);
  return rows[0]!;
}

export async function positionRow(q: Q, positionId: string) {
  const { rows } = await q.query(`select * from positions where position_id = $1`, [positionId]);
  return rows[0]!;
}

/** Runs a statement in a savepoint so an expected error does not abort the surrounding test transaction. */
export async function failing(q: Q, sql: string, params: unknown[] = []): Promise<Error> {
  await q.query('savepoint expect_error');
  try {
    await q.query(sql, params);
  } catch (e) {
    await q.query('rollback to savepoint expect_error');
    return e as Error;
  }
  await q.query('release savepoint expect_error');
  throw new Error(`expected an error from: ${sql}`);
}

const NUM = /^-?[0-9]+(\.[0-9]+)?$/;
const trimZeros = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

/**
 * Expects `row` to hold `expected`, comparing decimal strings by value (PostgreSQL numeric keeps the scale of
 * its inputs: '55.0' equals '55') and everything else exactly.
 */
export function expectRow(row: object, expected: Record<string, unknown>) {
  const got: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(expected)) {
    const g = (row as Record<string, unknown>)[k];
    got[k] = typeof v === 'string' && typeof g === 'string' && NUM.test(v) && NUM.test(g) && trimZeros(v) === trimZeros(g) ? v : g;
  }
  expect(got).toEqual(expected);
}
