// A bare WebSocket client for the simulator's private WS tests: every frame parsed and kept; waits for
// a frame matching a predicate (bounded, so a missing frame fails the test instead of hanging).
import WebSocket from 'ws';

export interface TestWs {
  ws: WebSocket;
  frames: Record<string, any>[];
  send(msg: unknown): void;
  next(pred: (m: Record<string, any>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, any>>;
  close(): void;
}

export async function openWs(url: string): Promise<TestWs> {
  const ws = new WebSocket(url);
  const frames: Record<string, any>[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (d) => {
    frames.push(JSON.parse(d.toString()));
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let seen = 0;
  return {
    ws,
    frames,
    send: (msg) => ws.send(JSON.stringify(msg)),
    // Frames are consumed in order: each call looks at frames after the last match.
    next(pred, what, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = seen; i < frames.length; i++) {
            if (pred(frames[i]!)) {
              seen = i + 1;
              waiters.delete(check);
              clearTimeout(timer);
              resolve(frames[i]!);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no frame: ${what}; got ${JSON.stringify(frames.slice(seen)).slice(0, 600)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => ws.terminate(),
  };
}
