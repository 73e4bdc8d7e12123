// What the execution tasks need beyond their database client: the Exchange, where its fills are
// tracked (venue key, fills-ledger exchange name), a logger, a clock (tests inject one) and optional
// hooks at the crash-relevant points of submission. Set by the runtime before its workers start.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Exchange, ExchangeKind } from '../exchange/types.ts';
import { createLogger } from '../log/logger.ts';

/** Points in the submit and fill paths where a test may kill the process (crash tests). */
export type CrashPoint = 'before_begin_submit' | 'after_begin_submit' | 'after_add_order' | 'after_fill_recorded';

export interface ExecutionContext {
  exchange: Exchange;
  /** Key of the fills cursor in exchange_fill_cursors (paper: one per process, its venue is in memory). */
  venue: string;
  /** The fills ledger's exchange name for this venue. */
  ledgerExchange: LedgerExchange;
  log: Logger;
  /** Ingest-cluster pool (the paper market view reads it); absent for simulator/live. */
  ingestPool?: pg.Pool;
  /** The clock passed as p_now to every SQL call (default: wall time). */
  now?: () => Date;
  account?: string;
  /** Seconds between cycles of the self-requeueing tasks. */
  reconcileEverySeconds?: number;
  exitsEverySeconds?: number;
  capitalSnapshotEverySeconds?: number;
  feeRatesEverySeconds?: number;
  /** Seconds between balance snapshots (capital__balances, default 60). */
  balancesEverySeconds?: number;
  /** A position's mark (state mid) may be at most this old for a capital snapshot (default 30). */
  snapshotMaxMarkAgeSeconds?: number;
  /** Pause (ms) before the second "no such order" a retry needs before it sends an order again (default 2000). */
  resendConfirmMs?: number;
  /** Delays of the recovery queries after an outcome-unknown answer (ms); then the job retries later. */
  unknownOutcomeBackoffMs?: readonly number[];
  hooks?: { at(point: CrashPoint, info: Record<string, unknown>): void };
}

export type LedgerExchange = 'paper' | 'sim' | 'kraken';

export function ledgerExchangeOf(kind: ExchangeKind): LedgerExchange {
  return kind === 'paper' ? 'paper' : kind === 'simulator' ? 'sim' : 'kraken';
}

let current: ExecutionContext | undefined;

export function setExecutionContext(ctx: ExecutionContext): void {
  current = ctx;
}

export function executionContext(): ExecutionContext {
  if (!current) throw new Error('execution context not set: call setExecutionContext({ exchange, venue, ... }) before starting the execution tasks');
  return current;
}

export function clearExecutionContext(): void {
  current = undefined;
}

export const nowOf = (ctx: Pick<ExecutionContext, 'now'>): Date => (ctx.now ? ctx.now() : new Date());

export const defaultLog = (): Logger => createLogger();
