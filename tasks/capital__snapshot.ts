// Graphile Worker task capital__snapshot: records the account's equity (SQL capital__snapshot_from_state:
// open positions at the state mid, cash from the fills ledger), which compounding sizes from, then
// re-queues itself (job key capital__snapshot). Every 10 s by default: well inside
// capital_policy.max_snapshot_age (60 s), so compounding always finds a fresh one.
import { takeCapitalSnapshot } from '../src/execution/capital.ts';
import { cadenceTask } from '../src/execution/cadence-task.ts';

export default cadenceTask('capital__snapshot', (ctx) => ctx.capitalSnapshotEverySeconds ?? 10, takeCapitalSnapshot);
