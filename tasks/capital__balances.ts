// Graphile Worker task capital__balances: one balance snapshot of the account from the exchange (Kraken
// Balance) and the drift check against the fills ledger (balance__drift); re-queues itself (job key
// capital__balances), every 60 s by default: a drift halts entries only after balance_drift_snapshots
// snapshots, so the cadence sets how soon. A failed call is logged and the last snapshot stays. Paper: nothing.
import { cadenceTask } from '../src/execution/cadence-task.ts';
import { recordBalances } from '../src/execution/balances.ts';

export default cadenceTask('capital__balances', (ctx) => ctx.balancesEverySeconds ?? 60, recordBalances);
