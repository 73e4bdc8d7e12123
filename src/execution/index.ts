// The execution runtime piece the `kapitaal execute` worker includes: task names, the exchange
// factory, the context the tasks read, and the SQL wrappers.
export { EXECUTION_TASKS, ensureExecutionJobs, requeue, type ExecutionTask } from './jobs.ts';
export {
  setExecutionContext,
  executionContext,
  clearExecutionContext,
  ledgerExchangeOf,
  type ExecutionContext,
  type CrashPoint,
  type LedgerExchange,
} from './context.ts';
export { createExecutionExchange, type ExecutionExchange, type ExecutionExchangeOptions } from './exchange.ts';
export { submitOrder, applyExchangeState, requestFillsPoll, SubmitOutcomeUnknown, type SubmitResult } from './submit.ts';
export { pollFills, matchFills, type FillsPollResult } from './fills.ts';
export { reconcileOrders, type ReconcileResult } from './reconcile.ts';
export { scanExits, type ExitScanRow } from './exits.ts';
export { logPlacement, type Placement } from './placement.ts';
export { initExecution, type ExecutionSetup } from './runtime.ts';
