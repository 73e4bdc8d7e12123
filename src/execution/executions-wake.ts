// The executions feed's effect on the job queue: each execution report asks kapitaal.execution__wake
// which jobs to make due now (fills__poll; order__reconcile for canceled/expired). Reports arriving while
// a wake runs are coalesced by exec_type, so a burst costs a few calls, in order. A failed call is logged
// and dropped: the reconcile cadence still polls.
import type { Logger } from 'pino';
import type { ExecutionReport } from '../exchange/executions-messages.ts';
import { type Db, rowsOf } from './db.ts';

export class ExecutionWaker {
  private readonly pending = new Map<string, ExecutionReport>();
  private running: Promise<void> | null = null;
  wakes = 0;

  /** `p_confirm_after` of execution__wake as an interval text; null: no confirming poll. */
  private readonly confirmAfter: string | null;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    /** Confirming fills__poll after a trade/filled report (ms; default 1000); null turns it off. */
    confirmPollMs: number | null = 1000,
  ) {
    this.confirmAfter = confirmPollMs === null ? null : `${confirmPollMs} milliseconds`;
  }

  readonly onExecution = (r: ExecutionReport): void => {
    this.pending.set(r.exec_type, r);
    this.running ??= this.drain().finally(() => (this.running = null));
  };

  /** Resolves when every report received so far has been handled. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = [...this.pending.values()];
      this.pending.clear();
      for (const r of batch) {
        try {
          const jobs = await rowsOf<{ task: string; job_id: string; run_at: Date }>(this.db, 'select task, job_id, run_at from kapitaal.execution__wake($1, $2::interval)', [r.exec_type, this.confirmAfter]);
          if (jobs.length === 0) continue;
          this.wakes++;
          this.log.debug({ marker: 'EXECUTION_WAKE', exec_type: r.exec_type, order_id: r.order_id, cl_ord_id: r.cl_ord_id, tasks: jobs.map((j) => j.task) }, 'EXECUTION_WAKE');
        } catch (err) {
          this.log.warn({ marker: 'EXECUTION_WAKE', exec_type: r.exec_type, err: (err as Error).message }, 'execution wake failed: the reconcile cadence still polls');
        }
      }
    }
  }
}
