// What an operator wants to see at a glance, read from both clusters: the live
// ingest run and its epochs, the state generation on each side, evaluation
// outcomes, and money. Each side is read independently, so one cluster being
// down still shows the other.
import type pg from 'pg';

export interface IngestOverview {
  runId: string;
  heartbeatAgeS: number;
  epoch: string | null;
  epochAt: Date | null;
  rows: { ticker: number; trade: number; l2: number; l3: number };
  symbols: number;
  symbolsBookValid: number;
  generationId: string | null;
  generationAt: Date | null;
}

export interface DecisionOverview {
  generationId: string | null;
  generationAt: Date | null;
  outcomes: Record<string, number>;
  lastOutcome: string | null;
  lastReason: string | null;
  equity: string | null;
  openPositions: number;
  realisedPnl: string;
  unrealisedPnl: string | null;
  orders: number;
  fills: number;
  /** Why new entries are stopped (capital__entry_halt: kill switch, daily loss limit), or null when allowed. */
  entriesHalted: string | null;
}

export interface Overview {
  ingest: IngestOverview | null;
  ingestError?: string;
  decision: DecisionOverview | null;
  decisionError?: string;
}

export async function readIngestOverview(pool: pg.Pool): Promise<IngestOverview | null> {
  const { rows } = await pool.query(`
    select r.run_id::text, extract(epoch from now() - r.heartbeat_at)::float8 as hb_age,
           e.epoch::text, e.published_at, e.ticker_rows, e.trade_rows, e.l2_rows, e.l3_rows,
           e.symbols, e.symbols_book_valid, g.generation_id::text, g.refreshed_at
      from kapitaal.ingest_runs r
      left join lateral (select * from kapitaal.ingest_epochs x where x.run_id = r.run_id
                          order by x.epoch desc limit 1) e on true
      left join lateral (select * from kapitaal.state_generations x where x.run_id = r.run_id
                          order by x.generation_id desc limit 1) g on true
     where r.status = 'running'
     order by r.run_id desc limit 1`);
  const r = rows[0];
  if (!r) return null;
  return {
    runId: r.run_id,
    heartbeatAgeS: r.hb_age,
    epoch: r.epoch,
    epochAt: r.published_at,
    rows: { ticker: Number(r.ticker_rows ?? 0), trade: Number(r.trade_rows ?? 0), l2: Number(r.l2_rows ?? 0), l3: Number(r.l3_rows ?? 0) },
    symbols: Number(r.symbols ?? 0),
    symbolsBookValid: Number(r.symbols_book_valid ?? 0),
    generationId: r.generation_id,
    generationAt: r.refreshed_at,
  };
}

export async function readDecisionOverview(pool: Pick<pg.Pool, 'query'>, runId: string | null): Promise<DecisionOverview> {
  const gen = await pool.query(
    // Order by the column, not by its text (an output alias would win in ORDER BY).
    `select g.generation_id::text as generation_id, g.refreshed_at from kapitaal.state_generations g
      where g.run_id = coalesce($1::bigint, (select max(run_id) from kapitaal.state_generations))
      order by g.generation_id desc limit 1`,
    [runId],
  );
  const outcomes = await pool.query(
    `select outcome, count(*)::int as n from kapitaal.evaluations
      where evaluated_at > now() - interval '60 seconds' group by outcome`,
  );
  const last = await pool.query(`select outcome, reason from kapitaal.evaluations order by evaluation_id desc limit 1`);
  const money = await pool.query(`
    select (select equity::text from kapitaal.capital_snapshots order by snapshot_id desc limit 1) as equity,
           (select count(*)::int from kapitaal.positions where closed_at is null) as open_positions,
           (select coalesce(sum(realised_pnl), 0)::text from kapitaal.positions) as realised,
           (select sum(p.qty * s.mid - p.cost_basis - p.entry_fees_open)::text
              from kapitaal.positions p
              join lateral (select mid from kapitaal.run_symbol_state x where x.symbol = p.symbol
                             order by x.run_id desc limit 1) s on true
             where p.closed_at is null) as unrealised,
           (select count(*)::int from kapitaal.orders) as orders,
           (select count(*)::int from kapitaal.fills) as fills`);
  const halt = await pool.query(`select reason from kapitaal.capital__entry_halt() where halted`);
  const m = money.rows[0];
  if (m.equity === null) {
    // No capital snapshot yet (the runtime takes one every 10 s): starting equity plus realised and unrealised P&L
    // (fixed mode starts from fixed_equity, compounding from the cash it began with).
    const eq = await pool.query(
      `select (coalesce((select case mode when 'fixed' then fixed_equity else initial_cash end
                           from kapitaal.capital_policy where account = 'default'), 220)
               + $1::numeric + coalesce($2::numeric, 0))::text as equity`,
      [m.realised, m.unrealised],
    );
    m.equity = eq.rows[0].equity;
  }
  return {
    generationId: gen.rows[0]?.generation_id ?? null,
    generationAt: gen.rows[0]?.refreshed_at ?? null,
    outcomes: Object.fromEntries(outcomes.rows.map((r) => [r.outcome, r.n])),
    lastOutcome: last.rows[0]?.outcome ?? null,
    lastReason: last.rows[0]?.reason ?? null,
    equity: m.equity,
    openPositions: m.open_positions,
    realisedPnl: m.realised,
    unrealisedPnl: m.unrealised,
    orders: m.orders,
    fills: m.fills,
    entriesHalted: halt.rows[0]?.reason ?? null,
  };
}

export async function readOverview(ingest: pg.Pool, decision: pg.Pool): Promise<Overview> {
  const out: Overview = { ingest: null, decision: null };
  try {
    out.ingest = await readIngestOverview(ingest);
  } catch (err) {
    out.ingestError = (err as Error).message;
  }
  try {
    out.decision = await readDecisionOverview(decision, out.ingest?.runId ?? null);
  } catch (err) {
    out.decisionError = (err as Error).message;
  }
  return out;
}
