// Fill reconciliation: pull the venue's fills after the persisted cursor, store each page in the
// inbox together with the new cursor (one transaction), then book the inbox fills one per transaction
// with order__record_fill (idempotent per trade id). A crash anywhere loses nothing and books nothing twice.
import { mark } from '../log/logger.ts';
import { type ExecutionContext, executionContext, nowOf } from './context.ts';
import { type Db, oneOf, rowsOf } from './db.ts';

export interface FillsPollResult {
  pages: number;
  fetched: number;
  stored: number;
  recorded: number;
  replays: number;
  unmatched: number;
  errors: number;
}

interface MatchRow {
  inbox_seq: string;
  trade_id: string;
  order_id: string | null;
  fill_id: string | null;
  is_new: boolean;
  order_status: string | null;
  outcome: 'recorded' | 'replay' | 'unmatched' | 'error';
  note: string | null;
}

export async function pollFills(db: Db, ctx: ExecutionContext = executionContext(), opts: { maxPages?: number } = {}): Promise<FillsPollResult> {
  const res: FillsPollResult = { pages: 0, fetched: 0, stored: 0, recorded: 0, replays: 0, unmatched: 0, errors: 0 };
  const maxPages = opts.maxPages ?? 20;
  for (; res.pages < maxPages; ) {
    const cur = await rowsOf<{ cursor: string | null }>(db, 'select cursor from kapitaal.exchange_fill_cursors where venue = $1', [ctx.venue]);
    const cursor = cur[0]?.cursor ?? null;
    const page = await ctx.exchange.fillsSince(cursor);
    res.pages++;
    res.fetched += page.fills.length;
    const ing = await oneOf<{ stored: number; cursor_advanced: boolean }>(
      db,
      'select * from kapitaal.fills__ingest($1, $2, $3::jsonb, $4, $5, $6)',
      [ctx.venue, ctx.ledgerExchange, JSON.stringify(page.fills), cursor, page.cursor, nowOf(ctx)],
    );
    res.stored += ing.stored;
    if (page.fills.length === 0 || page.cursor === cursor || !ing.cursor_advanced) break;
  }
  await matchFills(db, ctx, res);
  return res;
}

/** Books every unmatched inbox fill of this exchange, one transaction each. */
export async function matchFills(db: Db, ctx: ExecutionContext = executionContext(), res?: FillsPollResult): Promise<FillsPollResult> {
  const out = res ?? { pages: 0, fetched: 0, stored: 0, recorded: 0, replays: 0, unmatched: 0, errors: 0 };
  let after = '0';
  for (;;) {
    const rows = await rowsOf<MatchRow>(db, 'select * from kapitaal.fills__match($1, 1, $2, $3)', [ctx.ledgerExchange, after, nowOf(ctx)]);
    const r = rows[0];
    if (!r) break;
    after = r.inbox_seq;
    const f = { trade_id: r.trade_id, order_id: r.order_id, fill_id: r.fill_id, order_status: r.order_status };
    if (r.outcome === 'recorded') {
      out.recorded++;
      mark(ctx.log, 'FILL_RECORDED', f);
      ctx.hooks?.at('after_fill_recorded', f);
    } else if (r.outcome === 'replay') {
      out.replays++;
      mark(ctx.log, 'FILL_REPLAY_IGNORED', f);
    } else {
      if (r.outcome === 'error') out.errors++;
      else out.unmatched++;
      ctx.log.warn({ marker: 'FILL_UNMATCHED', ...f, outcome: r.outcome, note: r.note }, 'FILL_UNMATCHED');
    }
  }
  return out;
}

