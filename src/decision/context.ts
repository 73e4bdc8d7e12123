// What the decision tasks need beyond the runner's own pool: the decision-cluster pool for
// state__sync (it runs on the ingest runner), the logger and the cadences. Set by the
// runtimes (startDecisionFeed, startExecutionRuntime) before their workers start.
import type { Logger } from 'pino';
import type pg from 'pg';
import { createLogger } from '../log/logger.ts';

export interface DecisionContext {
  /** Decision-cluster pool; absent on a shared database (no sync needed). */
  decisionPool?: pg.Pool;
  log: Logger;
  evaluationCadenceSeconds?: number;
  syncCadenceSeconds?: number;
  /** Called after each stored evaluation (the runtime tracks the attach binding with it). */
  onEvaluation?: (evaluation: EvaluationRow) => void;
}

export interface EvaluationRow {
  evaluation_id: number;
  run_id: number | null;
  epoch: number | null;
  generation_id: number | null;
  outcome: 'candidates' | 'economically_empty' | 'data_blocked' | 'attach_blocked' | 'generation_blocked';
  reason: string;
  marker: string | null;
  symbols: number;
  candidates: number;
  evaluated_at: Date;
  duration_ms: number;
}

let current: DecisionContext | undefined;

export function setDecisionContext(ctx: DecisionContext): void {
  current = ctx;
}

export function decisionContext(): DecisionContext {
  current ??= { log: createLogger() };
  return current;
}
