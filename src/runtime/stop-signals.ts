// How a long-running command learns it should stop: the first SIGINT or SIGTERM. Later ones are
// logged and ignored until `dispose()`: Ctrl-C in a terminal signals every process of the group, and
// the demo then also sends SIGTERM to its children, so a child that dropped its handlers after the
// first signal was killed in the middle of its clean shutdown (unflushed rows, a job cut short).
import type { Logger } from 'pino';

export interface StopSignals {
  /** Aborted by the first SIGINT/SIGTERM (reason: the signal's name). */
  signal: AbortSignal;
  /** Resolves with the first signal's name. */
  stopped: Promise<NodeJS.Signals>;
  /** Removes the handlers (call once the clean shutdown is done). */
  dispose(): void;
}

export function stopSignals(log?: Logger): StopSignals {
  const ac = new AbortController();
  let resolveStopped!: (s: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (resolveStopped = r));
  const handler = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      log?.info({ signal: sig }, 'already stopping: finishing the clean shutdown (SIGKILL forces it)');
      return;
    }
    ac.abort(sig);
    resolveStopped(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    stopped,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
