// Graphile Worker task exits__scan: the exit loop (SQL exits__scan: every open position against a
// fresh mark; triggered exits become order intents on the DB-first path), then re-queues itself
// (job key exits__scan, run_at = now + cadence, default 5 s).
import { cadenceTask } from '../src/execution/cadence-task.ts';
import { scanExits } from '../src/execution/exits.ts';

export default cadenceTask('exits__scan', (ctx) => ctx.exitsEverySeconds ?? 5, scanExits);
