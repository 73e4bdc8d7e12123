// The CopyWriter's database I/O in its own thread. The collector's thread is busy parsing frames;
// each of a batch's round trips (begin, a COPY per table, claim, commit) used to wait for a turn of
// that event loop while PostgreSQL sat idle. Here a worker owns the connection (BatchSql) and the
// main thread only hands over each table's joined COPY text and gets the outcome back.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';
import { BatchSql, type BatchRequest, type BatchResult, type BatchWriterLike } from './batch-sql.ts';

interface Options { connectionString: string; runId: string; connectTimeoutMs: number }
type Reply = { id: number; ok: true; result: BatchResult } | { id: number; ok: false; error: { message: string; name: string; code?: string } };

// The worker is plain JS that registers tsx and imports this module (a fresh `npm install` has no build step).
const BOOT = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  (await import(workerData.tsxApi)).register();
  (await import(workerData.self)).serveBatchSql(parentPort, workerData.options);
})().catch((err) => { throw err; });
`;

export class ThreadBatchSql implements BatchWriterLike {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (r: BatchResult) => void; reject: (e: Error) => void }>();

  constructor(private readonly o: Options) {}

  write(req: BatchRequest): Promise<BatchResult> {
    const w = this.worker ?? this.start();
    const id = ++this.nextId;
    return new Promise<BatchResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, req });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    await new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.postMessage({ close: true });
    });
  }

  private start(): Worker {
    const w = new Worker(BOOT, {
      eval: true,
      workerData: {
        tsxApi: tsxEsmApi(),
        self: import.meta.url,
        options: this.o,
      },
    });
    w.on('message', (m: Reply) => {
      const p = this.waiting.get(m.id);
      if (!p) return;
      this.waiting.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name, code: m.error.code }));
    });
    // A dead thread fails what it held (a retryable, non-data error); the next write starts a new one.
    const fail = (err: Error) => {
      if (this.worker === w) this.worker = null;
      for (const p of this.waiting.values()) p.reject(err);
      this.waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the writer's I/O thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }
}

/** The ESM entry of tsx/esm/api (require.resolve would give the CJS one, which cannot register from ESM). */
function tsxEsmApi(): string {
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve('tsx/package.json');
  const pkg = req(pkgPath) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
}

/** Worker side: one BatchSql, one batch at a time in arrival order. */
export function serveBatchSql(port: MessagePort, o: Options): void {
  const sql = new BatchSql(o);
  let chain = Promise.resolve();
  port.on('message', (m: { id: number; req: BatchRequest } | { close: true }) => {
    chain = chain.then(async () => {
      if ('close' in m) {
        await sql.close();
        port.close();
        process.exit(0);
      }
      try {
        port.postMessage({ id: m.id, ok: true, result: await sql.write(m.req) } satisfies Reply);
      } catch (err) {
        const e = err as { message?: unknown; name?: unknown; code?: unknown };
        port.postMessage({
          id: m.id, ok: false,
          error: { message: String(e?.message ?? err), name: String(e?.name ?? 'Error'), code: typeof e?.code === 'string' ? e.code : undefined },
        } satisfies Reply);
      }
    });
  });
}
