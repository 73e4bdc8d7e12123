// A minimal WebSocket v2 test client: records every frame (raw and parsed) and waits for matches.
import WebSocket from 'ws';
import { parseKrakenMessage, type KrakenWsMessage, type ParseResult } from '../../../src/kraken/messages.ts';

export interface Received { raw: string; parsed: ParseResult; at: number }

export class TestClient {
  readonly received: Received[] = [];
  closed = false;
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];
  private reqId = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const raw = data.toString();
      this.received.push({ raw, parsed: parseKrakenMessage(raw), at: Date.now() });
      this.wake();
    });
    ws.on('close', (code) => { this.closed = true; this.closeCode = code; this.wake(); });
  }

  static async connect(url: string): Promise<TestClient> {
    const ws = new WebSocket(url);
    const c = new TestClient(ws);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return c;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(obj: unknown): void { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }

  subscribe(params: Record<string, unknown>): number {
    const id = ++this.reqId;
    this.send({ method: 'subscribe', params, req_id: id });
    return id;
  }

  unsubscribe(params: Record<string, unknown>): number {
    const id = ++this.reqId;
    this.send({ method: 'unsubscribe', params, req_id: id });
    return id;
  }

  messages(): KrakenWsMessage[] {
    return this.received.flatMap((r) => (r.parsed.ok ? [r.parsed.message] : []));
  }

  /** Resolves once `pred` holds over what was received, or rejects after timeoutMs. */
  async until(pred: (c: TestClient) => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.received.length} frames received)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async waitFor<T extends KrakenWsMessage>(pred: (m: KrakenWsMessage) => m is T, timeoutMs?: number, what?: string): Promise<T>;
  async waitFor(pred: (m: KrakenWsMessage) => boolean, timeoutMs?: number, what?: string): Promise<KrakenWsMessage>;
  async waitFor(pred: (m: KrakenWsMessage) => boolean, timeoutMs = 20_000, what = 'message'): Promise<KrakenWsMessage> {
    let found: KrakenWsMessage | undefined;
    await this.until(() => (found = this.messages().find(pred)) !== undefined, timeoutMs, what);
    return found!;
  }

  count(pred: (m: KrakenWsMessage) => boolean): number {
    return this.messages().filter(pred).length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close();
    await done;
  }
}
