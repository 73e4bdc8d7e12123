// Graphile Worker task order__reconcile: fills, order statuses and the maker fallback
// (src/execution/reconcile.ts), then re-queues itself (job key order__reconcile, run_at = now + cadence,
// default 5 s). A failed cycle is logged (EXECUTION_TASK_FAILED) and the next one is queued all the same.
import { cadenceTask } from '../src/execution/cadence-task.ts';
import { reconcileOrders } from '../src/execution/reconcile.ts';

export default cadenceTask('order__reconcile', (ctx) => ctx.reconcileEverySeconds ?? 5, reconcileOrders);
