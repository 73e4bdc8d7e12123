// One batch of COPY lines → one transaction on the writer's own connection: a COPY per raw table,
// the batch claim (ingest_write_batch__record: a retry after a lost commit acknowledgement is rolled
// back instead of duplicated), the gaps waiting to be recorded, commit. In careful mode each table's
// lines are bisected under savepoints so one row PostgreSQL rejects as data costs one row.
// Runs in the CopyWriter's I/O thread (batch-thread.ts) or, when asked, on the caller's thread.
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyStatement, type RawTable } from './raw-tables.ts';

export interface GapRecord {
  table: RawTable;
  firstMs: number;
  lastMs: number;
  rows: number;
  reason: string;
}

export interface BatchRequest {
  no: number;
  attempts: number;
  careful: boolean;
  /**
   * Per table: its lines (each ends in '\n') as UTF-8 bytes (text in tests) and how many there are.
   * Across a worker boundary a Buffer arrives as a plain Uint8Array.
   */
  tables: { table: RawTable; text: string | Uint8Array; rows: number }[];
  gaps: GapRecord[];
}

export interface BatchResult {
  /** False: an earlier attempt had committed this batch; this copy was rolled back. */
  claimed: boolean;
  written: [RawTable, number][];
  rejected: GapRecord[];
  /** begin → commit acknowledged. */
  latencyMs: number;
}

/** What BatchSql and its thread proxy share. */
export interface BatchWriterLike {
  write(req: BatchRequest): Promise<BatchResult>;
  close(): Promise<void>;
}

export class BatchSql implements BatchWriterLike {
  private client: pg.Client | null = null;

  constructor(private readonly o: { connectionString: string; runId: string; connectTimeoutMs: number }) {}

  async write(req: BatchRequest): Promise<BatchResult> {
    const c = await this.connect();
    const started = performance.now();
    const rejected: GapRecord[] = [];
    const written = new Map<RawTable, number>();
    try {
      await c.query('begin');
      for (const { table, text, rows } of req.tables) {
        if (rows === 0) continue;
        written.set(table, req.careful ? await copyCareful(c, table, splitLines(asText(text)), rejected) : await copyText(c, table, asPayload(text), rows));
      }
      const claimed = await c.query<{ ok: boolean | null }>(
        'select kapitaal.ingest_write_batch__record($1, $2, $3, $4, $5, $6, $7) as ok',
        [
          this.o.runId, req.no, written.get('ticker_samples') ?? 0, written.get('trade_samples') ?? 0,
          written.get('l2_snap_metrics') ?? 0, written.get('l3_queue_metrics') ?? 0, req.attempts,
        ],
      );
      if (!claimed.rows[0]?.ok) {
        await c.query('rollback');
        return { claimed: false, written: [...written], rejected, latencyMs: performance.now() - started };
      }
      for (const g of [...req.gaps, ...rejected]) {
        await c.query('select kapitaal.ingest_gap__record($1, $2, $3, $4, $5, $6)', [
          this.o.runId, g.table, new Date(g.firstMs), new Date(g.lastMs), g.rows, g.reason,
        ]);
      }
      await c.query('commit');
    } catch (err) {
      await c.query('rollback').catch(() => {});
      if (!isDataError(err)) this.dropClient();
      throw err;
    }
    return { claimed: true, written: [...written], rejected, latencyMs: performance.now() - started };
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const c = new pg.Client({
      connectionString: this.o.connectionString,
      connectionTimeoutMillis: this.o.connectTimeoutMs,
      application_name: 'kapitaal-ingest-writer',
    });
    // A dead connection surfaces as a failed query; this only keeps the process alive.
    c.on('error', () => {
      if (this.client === c) this.client = null;
    });
    try {
      await c.connect();
    } catch (err) {
      await c.end().catch(() => {});
      throw err;
    }
    this.client = c;
    return c;
  }

  private dropClient(): void {
    const c = this.client;
    this.client = null;
    c?.end().catch(() => {});
  }
}

function asPayload(text: string | Uint8Array): string | Buffer {
  return typeof text === 'string' || Buffer.isBuffer(text) ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
}

function asText(text: string | Uint8Array): string {
  const p = asPayload(text);
  return typeof p === 'string' ? p : p.toString('utf8');
}

async function copyText(c: pg.Client, table: RawTable, text: string | Buffer, rows: number): Promise<number> {
  const stream = c.query(copyFrom(copyStatement(table)));
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(text);
  });
  return rows;
}

/** COPY text escapes newlines inside values, so every '\n' ends a line. */
function splitLines(text: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', from)) {
    out.push(text.slice(from, i + 1));
    from = i + 1;
  }
  return out;
}

/** Bisects under savepoints until each rejected row is isolated; returns rows stored. */
async function copyCareful(c: pg.Client, table: RawTable, lines: string[], rejected: GapRecord[]): Promise<number> {
  await c.query('savepoint kapitaal_copy');
  try {
    const n = await copyText(c, table, lines.join(''), lines.length);
    await c.query('release savepoint kapitaal_copy');
    return n;
  } catch (err) {
    if (!isDataError(err)) throw err;
    await c.query('rollback to savepoint kapitaal_copy');
    await c.query('release savepoint kapitaal_copy');
    if (lines.length === 1) {
      const at = receivedMsOf(lines[0]!);
      rejected.push({ table, firstMs: at, lastMs: at, rows: 1, reason: `row rejected by PostgreSQL: ${errText(err)}` });
      return 0;
    }
    const mid = lines.length >> 1;
    return (
      (await copyCareful(c, table, lines.slice(0, mid), rejected)) +
      (await copyCareful(c, table, lines.slice(mid), rejected))
    );
  }
}

/** The received_at column is the last one of every raw table. */
function receivedMsOf(line: string): number {
  const end = line.endsWith('\n') ? line.length - 1 : line.length;
  return Date.parse(line.slice(line.lastIndexOf('\t', end - 1) + 1, end));
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the rows are at fault, not the link. */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}
