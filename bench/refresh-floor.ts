// Benchmark: the FLOOR of a refresh on this machine (issue #4), measured in the same run as the real
// refresh_run_symbol_state on the same batches. The floor is a "skeleton refresh": the statement
// sequence below (a measuring instrument kept here, not engine logic) does only what the refresh
// contract makes unavoidable, in the cheapest forms:
//   0. serialise (advisory lock), read the watermarks, take raw_txid_horizon(), a generation id;
//   1. read the new rows of the four raw tables by their txid index range, aggregated per
//      (symbol, 10-s bucket) with typed aggregates only (count, quote volume, min/max price, newest
//      received_at: no [epoch, seq, …] key arrays, no payload of the newest row, no depth);
//   2. one MERGE of the touched buckets into a minimal bucket table (the rolling windows need them);
//   3. one MERGE writing every symbol's state row (a handful of columns: mid, spread, last seen, 1 m /
//      5 m trade counts, 5 m quote volume) with the new generation id; the rolling sums move by deltas
//      (+ new rows, − buckets that left the window: the prune's DELETE … RETURNING and, when the windows
//      moved, the bucket that left the 1-minute window);
//      1–3 and the prune are one statement, as in state__merge: the aggregation is handed on in memory;
//   4. digest over the state rows (as run_symbol_state__digest) + the generation row + watermarks.
// It leaves out what a cheaper design could also leave out (newest-row payloads, L2 depth, window
// aggregates, regimes), so it is a LOWER bound: a real refresh cannot be cheaper on this data.
// `npm run bench -- refresh-floor` (BENCH_FLOOR_ITERATIONS, default 40). BENCH_FLOOR_PROFILE=1 adds one
// iteration, not counted, whose skeleton refresh prints its per-node plan (auto_explain: analyze, timing, buffers).
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startBenchClusters } from './support/clusters.ts';
import { quantile, table, writeSection, type Row } from './support/report.ts';
import { backendCpuMs, CADENCE_S, calibrationNote, insertRows, loadHistory, NEW_ROWS, PER_SYMBOL, rawRows, settle, SYMBOLS, T0 } from './support/refresh-data.ts';

const ITERATIONS = Number(process.env.BENCH_FLOOR_ITERATIONS ?? 40);
const WARMUP_ITERATIONS = 5;
const RAW_ROWS = 1_000_000; // small raw tables: size independence is shown by bench/refresh.ts
const PROFILE = Boolean(process.env.BENCH_FLOOR_PROFILE);
const log = (msg: string) => process.stderr.write(`[bench refresh-floor] ${msg}\n`);

// Step 1: per table, typed aggregates per (symbol, 10-s bucket) over the txid range; one row per
// touched bucket. $lo_* / $hi are plpgsql variables of the functions below.
const RAW_CTES = `
  t as (
    select r.symbol, date_bin('10 seconds', r.received_at, timestamptz '2000-01-01 00:00:00+00') as b,
           count(*)::integer as n, min(r.last) as lo, max(r.last) as hi, max(r.received_at) as at
      from kapitaal.ticker_samples r
     where r.run_id = p_run and r.txid >= v_lo[1] and r.txid < v_hi
     group by 1, 2
  ), d as (
    select r.symbol, date_bin('10 seconds', r.received_at, timestamptz '2000-01-01 00:00:00+00') as b,
           count(*)::integer as n, sum(r.price * r.qty) as qv, min(r.price) as lo, max(r.price) as hi, max(r.received_at) as at
      from kapitaal.trade_samples r
     where r.run_id = p_run and r.txid >= v_lo[2] and r.txid < v_hi
     group by 1, 2
  ), b2 as (
    select r.symbol, date_bin('10 seconds', r.received_at, timestamptz '2000-01-01 00:00:00+00') as b,
           count(*)::integer as n, min(r.bid_px[1]) as lo, max(r.ask_px[1]) as hi, max(r.received_at) as at
      from kapitaal.l2_snap_metrics r
     where r.run_id = p_run and r.txid >= v_lo[3] and r.txid < v_hi
     group by 1, 2
  ), b3 as (
    select r.symbol, date_bin('10 seconds', r.received_at, timestamptz '2000-01-01 00:00:00+00') as b,
           count(*)::integer as n, max(r.received_at) as at
      from kapitaal.l3_queue_metrics r
     where r.run_id = p_run and r.txid >= v_lo[4] and r.txid < v_hi
     group by 1, 2
  ), raw as materialized (
    select symbol, b as bucket_start, coalesce(t.n, 0) as ticker_n, coalesce(d.n, 0) as trade_n,
           coalesce(b2.n, 0) as l2_n, coalesce(b3.n, 0) as l3_n, coalesce(d.qv, 0) as qv,
           least(t.lo, d.lo, b2.lo) as lo, greatest(t.hi, d.hi, b2.hi) as hi, greatest(t.at, d.at, b2.at, b3.at) as at
      from t full join d using (symbol, b) full join b2 using (symbol, b) full join b3 using (symbol, b)
  )`;

// Step 2: the touched buckets into the bucket table (target side bounded to the touched range, as
// state__merge does).
const BUCKET_MERGE = `
    merge into bench_floor.buckets x
    using (select * from raw where raw.bucket_start >= v_from_5m) raw on x.run_id = p_run and x.symbol = raw.symbol and x.bucket_start = raw.bucket_start
             and x.bucket_start >= (select min(m.bucket_start) from raw m)
    when matched then update set
      ticker_n = x.ticker_n + raw.ticker_n, trade_n = x.trade_n + raw.trade_n, l2_n = x.l2_n + raw.l2_n,
      l3_n = x.l3_n + raw.l3_n, quote_volume = x.quote_volume + raw.qv, min_price = least(x.min_price, raw.lo),
      max_price = greatest(x.max_price, raw.hi), last_at = greatest(x.last_at, raw.at)
    when not matched then insert values
      (p_run, raw.symbol, raw.bucket_start, raw.ticker_n, raw.trade_n, raw.l2_n, raw.l3_n, raw.qv, raw.lo, raw.hi, raw.at)`;

const SETUP = `
create schema bench_floor;
create table bench_floor.watermarks (
  run_id bigint not null, table_no integer not null, watermark xid8 not null, refreshed_at timestamptz,
  primary key (run_id, table_no));
create table bench_floor.buckets (
  run_id bigint not null, symbol text not null, bucket_start timestamptz not null,
  ticker_n integer not null, trade_n integer not null, l2_n integer not null, l3_n integer not null,
  quote_volume numeric not null, min_price numeric, max_price numeric, last_at timestamptz,
  primary key (run_id, symbol, bucket_start)) with (fillfactor = 70);
-- as state_buckets_time_idx: the prune's range
create index on bench_floor.buckets (run_id, bucket_start);
create table bench_floor.state (
  run_id bigint not null, symbol text not null, generation_id bigint not null, refreshed_at timestamptz not null,
  mid numeric, spread_bps numeric, last_seen timestamptz,
  trades_1m integer not null, trades_5m integer not null, quote_volume_5m numeric not null,
  primary key (run_id, symbol)) with (fillfactor = 50);
create table bench_floor.generations (
  generation_id bigint primary key, run_id bigint not null, refreshed_at timestamptz not null,
  symbols integer not null, rows_read integer not null, digest text not null);
create sequence bench_floor.generation_seq;

-- The skeleton refresh. Returns the ms of each step (clock_timestamp between statements).
create function bench_floor.refresh(p_run bigint, p_now timestamptz)
returns table (lo xid8[], hi xid8, rows_read integer, symbols integer,
               preamble_ms float8, read_merge_ms float8, digest_ms float8, total_ms float8)
language plpgsql
set work_mem = '64MB' set enable_nestloop = off set plan_cache_mode = force_generic_plan
as $fn$
declare
  v_t0 timestamptz := clock_timestamp();
  v_t timestamptz;
  v_lo xid8[];
  v_hi xid8;
  v_gen bigint;
  v_prev timestamptz;
  v_from_1m timestamptz;
  v_from_5m timestamptz;
  v_prev_from_1m timestamptz;
begin
  perform pg_advisory_xact_lock(hashtextextended('bench_floor.refresh', p_run));
  select array_agg(w.watermark order by w.table_no), max(w.refreshed_at) into v_lo, v_prev
    from bench_floor.watermarks w where w.run_id = p_run;
  select w.from_1m, w.from_5m into v_from_1m, v_from_5m from kapitaal.state__windows(p_now) w;
  -- buckets in [v_prev_from_1m, v_from_1m) left the 1-minute window since the previous refresh
  v_prev_from_1m := coalesce((select w.from_1m from kapitaal.state__windows(v_prev) w), v_from_1m);
  v_hi := greatest(kapitaal.raw_txid_horizon(), v_lo[1], v_lo[2], v_lo[3], v_lo[4]);
  v_gen := nextval('bench_floor.generation_seq');
  lo := v_lo; hi := v_hi;
  v_t := clock_timestamp(); preamble_ms := extract(epoch from v_t - v_t0) * 1000;

  with ${RAW_CTES},
  mb as (${BUCKET_MERGE}
  ), gone as (
    -- prune: buckets that left the 5-minute window; their counts leave the 5-minute sums
    delete from bench_floor.buckets b where b.run_id = p_run and b.bucket_start < v_from_5m
    returning b.symbol, b.trade_n, b.quote_volume
  ), g5 as (
    select gone.symbol, sum(gone.trade_n)::integer as trades, sum(gone.quote_volume) as qv from gone group by gone.symbol
  ), g1 as (
    -- the buckets that left the 1-minute window (none while the windows do not move)
    select b.symbol, sum(b.trade_n)::integer as trades
      from bench_floor.buckets b
     where b.run_id = p_run and b.bucket_start >= v_prev_from_1m and b.bucket_start < v_from_1m
     group by b.symbol
  ), n as (
    select raw.symbol, (sum(raw.trade_n) filter (where raw.bucket_start >= v_from_1m))::integer as trades_1m,
           (sum(raw.trade_n) filter (where raw.bucket_start >= v_from_5m))::integer as trades_5m,
           sum(raw.qv) filter (where raw.bucket_start >= v_from_5m) as qv_5m,
           min(raw.lo) as lo, max(raw.hi) as hi, max(raw.at) as at
      from raw group by raw.symbol
  ), ms as (
    -- every symbol of the run gets a row with the new generation, changed or not (the contract);
    -- the rolling sums move by deltas: + new rows in the window, − buckets that left it
    merge into bench_floor.state s
    using (select coalesce(p.symbol, n.symbol) as symbol,
                  coalesce((n.lo + n.hi) * 0.5, p.mid) as mid,
                  coalesce((n.hi - n.lo) / nullif(n.lo + n.hi, 0) * 20000, p.spread_bps) as spread_bps,
                  greatest(p.last_seen, n.at) as last_seen,
                  coalesce(p.trades_1m, 0) + coalesce(n.trades_1m, 0) - coalesce(g1.trades, 0) as trades_1m,
                  coalesce(p.trades_5m, 0) + coalesce(n.trades_5m, 0) - coalesce(g5.trades, 0) as trades_5m,
                  coalesce(p.quote_volume_5m, 0) + coalesce(n.qv_5m, 0) - coalesce(g5.qv, 0) as quote_volume_5m
             from (select * from bench_floor.state where run_id = p_run) p
             full join n on n.symbol = p.symbol
             left join g5 on g5.symbol = coalesce(p.symbol, n.symbol)
             left join g1 on g1.symbol = coalesce(p.symbol, n.symbol)) c
       on s.run_id = p_run and s.symbol = c.symbol
    when matched then update set generation_id = v_gen, refreshed_at = p_now, mid = c.mid, spread_bps = c.spread_bps,
      last_seen = c.last_seen, trades_1m = c.trades_1m, trades_5m = c.trades_5m, quote_volume_5m = c.quote_volume_5m
    when not matched then insert values (p_run, c.symbol, v_gen, p_now, c.mid, c.spread_bps, c.last_seen, c.trades_1m,
      c.trades_5m, c.quote_volume_5m)
    returning 1
  )
  select (select coalesce(sum(raw.ticker_n + raw.trade_n + raw.l2_n + raw.l3_n), 0) from raw)::integer,
         (select count(*) from ms)::integer
    into rows_read, symbols;
  read_merge_ms := extract(epoch from clock_timestamp() - v_t) * 1000; v_t := clock_timestamp();

  -- digest as run_symbol_state__digest: md5 over one hash_record_extended per row (numeric scales
  -- included) in symbol order
  insert into bench_floor.generations
  select v_gen, p_run, p_now, symbols, rows_read,
         md5(coalesce(string_agg(hash_record_extended(row(s.run_id, s.symbol, s.mid, s.spread_bps, s.last_seen,
               s.trades_1m, s.trades_5m, s.quote_volume_5m, scale(s.mid), scale(s.spread_bps), scale(s.quote_volume_5m)), 0)::text,
               ',' order by s.symbol), ''))
    from bench_floor.state s where s.run_id = p_run;
  update bench_floor.watermarks w set watermark = greatest(w.watermark, v_hi), refreshed_at = p_now where w.run_id = p_run;
  digest_ms := extract(epoch from clock_timestamp() - v_t) * 1000;
  total_ms := extract(epoch from clock_timestamp() - v_t0) * 1000;
  return next;
end
$fn$;

-- Parts of the fused statement, for the split: 1 = read + aggregate only (every column computed:
-- the whole row is tested), 2 = read + bucket MERGE; 3 = for comparison, the real refresh's raw pass
-- (state__raw_pass: key arrays and newest-row payloads). Run on a given range inside begin … rollback.
create function bench_floor.part(p_run bigint, v_lo xid8[], v_hi xid8, p_now timestamptz, p_upto integer)
returns float8
language plpgsql
set work_mem = '64MB' set enable_nestloop = off set plan_cache_mode = force_generic_plan
as $fn$
declare
  v_t timestamptz := clock_timestamp();
  v_n bigint;
  v_from_5m timestamptz := (select w.from_5m from kapitaal.state__windows(p_now) w);
begin
  if p_upto = 1 then
    with ${RAW_CTES}
    select count(*) into v_n from raw where raw is not null or raw.symbol is not null;
  elsif p_upto = 3 then
    select count(*) into v_n from kapitaal.state__raw_pass(p_run, v_lo[1], v_lo[2], v_lo[3], v_lo[4], v_hi) p
     where p is not null or p.symbol is not null;
  else
    with ${RAW_CTES}
    ${BUCKET_MERGE};
  end if;
  return extract(epoch from clock_timestamp() - v_t) * 1000;
end
$fn$;
`;

interface Timed { ms: number; cpuMs: number }
interface FloorSample extends Timed { first: boolean; moved?: boolean; preamble: number; readMerge: number; digest: number; rowsRead: number; symbols: number; lo: string; hi: string }
interface RealSample extends Timed { first: boolean; recomputed: number; rowsRead: number }

async function pidOf(c: pg.Client): Promise<number> {
  return (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
}

async function floorRefresh(c: pg.Client, pid: number, run: number, now: Date, first: boolean): Promise<FloorSample> {
  const cpu0 = backendCpuMs(pid);
  const { rows } = await c.query(`select lo::text as lo, hi::text as hi, rows_read, symbols, preamble_ms, read_merge_ms, digest_ms, total_ms from bench_floor.refresh($1, $2)`, [run, now]);
  const r = rows[0];
  return {
    first, ms: r.total_ms, cpuMs: backendCpuMs(pid) - cpu0, preamble: r.preamble_ms, readMerge: r.read_merge_ms,
    digest: r.digest_ms, rowsRead: r.rows_read, symbols: r.symbols, lo: r.lo, hi: r.hi,
  };
}

async function realRefresh(c: pg.Client, pid: number, run: number, now: Date, first: boolean): Promise<RealSample> {
  const cpu0 = backendCpuMs(pid);
  const { rows } = await c.query(`select rows_read, symbols_recomputed, duration_ms from refresh_run_symbol_state($1, $2)`, [run, now]);
  return { first, ms: Number(rows[0].duration_ms), cpuMs: backendCpuMs(pid) - cpu0, recomputed: rows[0].symbols_recomputed, rowsRead: rows[0].rows_read };
}

/** The parts of the fused statement on the range the floor just read, rolled back (buckets exist: updates). */
async function parts(c: pg.Client, run: number, s: FloorSample, now: Date): Promise<[number, number, number]> {
  await c.query('begin');
  try {
    const part = async (upto: number) =>
      (await c.query(`select bench_floor.part($1, $2::xid8[], $3::xid8, $4, $5) as ms`, [run, s.lo, s.hi, now, upto])).rows[0].ms as number;
    return [await part(1), await part(2), await part(3)];
  } finally {
    await c.query('rollback');
  }
}

const med = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);
const p99 = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.99);
const f1 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(1));

const clusters = await startBenchClusters();
const pool = new pg.Pool({ connectionString: clusters.ingestUrl, max: 4 });
const floorC = new pg.Client({ connectionString: clusters.ingestUrl });
const realC = new pg.Client({ connectionString: clusters.ingestUrl });
try {
  await pool.query(SETUP);
  await floorC.connect();
  await realC.connect();
  const [floorPid, realPid] = [await pidOf(floorC), await pidOf(realC)];
  floorC.on('notice', (m) => process.stderr.write(`[profile] ${m.message ?? ''}\n`));
  const { rows } = await pool.query(`select run_id from ingest_run__start('{"bench":"refresh-floor"}', 'bench', 'bench')`);
  const run = Number(rows[0].run_id);
  await pool.query(`select * from refresh_run_symbol_state($1, $2)`, [run, new Date(T0)]);
  const loopRows = (WARMUP_ITERATIONS + ITERATIONS) * NEW_ROWS;
  const history = Math.max(0, RAW_ROWS - loopRows - 150 * SYMBOLS); // 150 rows per symbol fill the window
  log(`loading ${history.toLocaleString('en')} history rows`);
  await loadHistory(pool, run, history, -10 * 86_400, 900, log);
  // the floor starts where the real refresh does (history marked as already refreshed)
  await pool.query(
    `insert into bench_floor.watermarks (run_id, table_no, watermark)
     select $1, array_position(kapitaal.raw_tables(), w.table_name), w.watermark from state_refresh_watermarks w where w.run_id = $1`,
    [run],
  );
  const clock = { s: 0, tradeId: 1 };
  // Fill the 5-minute window (every bucket of every symbol), fold it in with both, analyse both.
  await insertRows(pool, run, clock.s - 300, 300, { ticker: 30, trades: 60, l2: 45, l3: 15 }, 500_000_000);
  await settle(pool);
  await realRefresh(realC, realPid, run, new Date(T0), true);
  await floorRefresh(floorC, floorPid, run, new Date(T0), false);
  await pool.query(`analyze kapitaal.state_buckets, kapitaal.state_symbol_latest, kapitaal.run_symbol_state,
                            bench_floor.buckets, bench_floor.state, bench_floor.watermarks`);

  const floor: FloorSample[] = [];
  const real: RealSample[] = [];
  const part1: number[] = [];
  const part12: number[] = [];
  const realRawPass: number[] = [];
  for (let i = 0; i < WARMUP_ITERATIONS + ITERATIONS + (PROFILE ? 1 : 0); i++) {
    await insertRows(pool, run, clock.s, CADENCE_S, PER_SYMBOL, clock.tradeId);
    clock.tradeId += PER_SYMBOL.trades;
    clock.s += CADENCE_S;
    await settle(pool);
    const now = new Date(T0 + clock.s * 1000);
    // Both on the same committed batch, both committed (each keeps its own watermarks and working
    // set moving like production); the order alternates, since the first reader of fresh rows
    // also sets their hint bits.
    const floorFirst = i % 2 === 0;
    const profile = PROFILE && i === WARMUP_ITERATIONS + ITERATIONS;
    if (profile) await floorC.query(`load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
      set auto_explain.log_analyze = on; set auto_explain.log_buffers = on; set auto_explain.log_timing = on; set auto_explain.log_level = notice`);
    let f: FloorSample, r: RealSample;
    if (floorFirst) {
      f = await floorRefresh(floorC, floorPid, run, now, true);
      r = await realRefresh(realC, realPid, run, now, false);
    } else {
      r = await realRefresh(realC, realPid, run, now, true);
      f = await floorRefresh(floorC, floorPid, run, now, false);
    }
    if (profile) await floorC.query(`set auto_explain.log_min_duration = -1`);
    if (f.rowsRead !== r.rowsRead || f.symbols !== SYMBOLS) throw new Error(`floor read ${f.rowsRead} rows / ${f.symbols} symbols, real ${r.rowsRead}`);
    f.moved = r.recomputed > 0; // the windows moved (every 5th refresh): the floor prunes then
    const [p1, p12, pr] = await parts(floorC, run, f, now);
    if (i < WARMUP_ITERATIONS || profile) continue;
    floor.push(f);
    real.push(r);
    part1.push(p1);
    part12.push(p12);
    realRawPass.push(pr);
  }
  const rawTotal = await rawRows(pool, run);
  // The skeleton's rolling sums (kept by deltas) must equal a recount from its buckets.
  const bad = await pool.query(
    `select count(*)::int as n from bench_floor.state s
       left join (select b.symbol, sum(b.trade_n) filter (where b.bucket_start >= w.from_1m) as t1, sum(b.trade_n) as t5,
                         sum(b.quote_volume) as q5
                    from bench_floor.buckets b, kapitaal.state__windows($2) w
                   where b.run_id = $1 and b.bucket_start >= w.from_5m group by b.symbol) b using (symbol)
      where s.run_id = $1 and (s.trades_1m is distinct from coalesce(b.t1, 0) or s.trades_5m is distinct from coalesce(b.t5, 0)
                               or s.quote_volume_5m is distinct from coalesce(b.q5, 0))`,
    [run, new Date(T0 + clock.s * 1000)],
  );
  if (bad.rows[0].n !== 0) throw new Error(`skeleton state: ${bad.rows[0].n} symbols' window sums differ from their buckets`);

  const delta = real.filter((s) => s.recomputed === 0);
  const moved = real.filter((s) => s.recomputed > 0);
  const summary: Row[] = [
    {
      refresh: 'skeleton (floor)', refreshes: floor.length, 'median ms in db': f1(med(floor.map((s) => s.ms))),
      'p99 ms in db': f1(p99(floor.map((s) => s.ms))), 'median backend CPU ms': f1(med(floor.map((s) => s.cpuMs))),
      'p99 backend CPU ms': f1(p99(floor.map((s) => s.cpuMs))),
      'median in db, run first / second': `${f1(med(floor.filter((s) => s.first).map((s) => s.ms)))} / ${f1(med(floor.filter((s) => !s.first).map((s) => s.ms)))}`,
    },
    ...[false, true].map((moved) => {
      const xs = floor.filter((s) => s.moved === moved);
      return {
        refresh: moved ? '… windows moved only' : '… windows unchanged only', refreshes: xs.length, 'median ms in db': f1(med(xs.map((s) => s.ms))),
        'p99 ms in db': f1(p99(xs.map((s) => s.ms))), 'median backend CPU ms': f1(med(xs.map((s) => s.cpuMs))),
        'p99 backend CPU ms': f1(p99(xs.map((s) => s.cpuMs))), 'median in db, run first / second': '',
      };
    }),
    {
      refresh: 'refresh_run_symbol_state', refreshes: real.length, 'median ms in db': f1(med(real.map((s) => s.ms))),
      'p99 ms in db': f1(p99(real.map((s) => s.ms))), 'median backend CPU ms': f1(med(real.map((s) => s.cpuMs))),
      'p99 backend CPU ms': f1(p99(real.map((s) => s.cpuMs))),
      'median in db, run first / second': `${f1(med(real.filter((s) => s.first).map((s) => s.ms)))} / ${f1(med(real.filter((s) => !s.first).map((s) => s.ms)))}`,
    },
    {
      refresh: '… delta path only (windows unchanged)', refreshes: delta.length, 'median ms in db': f1(med(delta.map((s) => s.ms))),
      'p99 ms in db': f1(p99(delta.map((s) => s.ms))), 'median backend CPU ms': f1(med(delta.map((s) => s.cpuMs))),
      'p99 backend CPU ms': f1(p99(delta.map((s) => s.cpuMs))), 'median in db, run first / second': '',
    },
    {
      refresh: '… windows moved only', refreshes: moved.length, 'median ms in db': f1(med(moved.map((s) => s.ms))),
      'p99 ms in db': f1(p99(moved.map((s) => s.ms))), 'median backend CPU ms': f1(med(moved.map((s) => s.cpuMs))),
      'p99 backend CPU ms': f1(p99(moved.map((s) => s.cpuMs))), 'median in db, run first / second': '',
    },
  ];
  const readMerge = med(floor.map((s) => s.readMerge));
  const steps: Row[] = [
    { 'skeleton step': '0 lock, watermarks, horizon, generation id', 'median ms': med(floor.map((s) => s.preamble)).toFixed(2) },
    { 'skeleton step': '1–3 one statement: read + aggregate, bucket MERGE, prune, window deltas, state MERGE (500 rows)', 'median ms': readMerge.toFixed(2) },
    { 'skeleton step': '… 1 read + aggregate alone (rolled back, same rows, afterwards)', 'median ms': med(part1).toFixed(2) },
    { 'skeleton step': '… 1 + 2 read + bucket MERGE (rolled back, same rows, afterwards: updates only)', 'median ms': med(part12).toFixed(2) },
    { 'skeleton step': '… prune + window deltas + 3 state MERGE (by difference: 1–3 minus 1 + 2)', 'median ms': (readMerge - med(part12)).toFixed(2) },
    { 'skeleton step': '4 digest + generation row + watermarks', 'median ms': med(floor.map((s) => s.digest)).toFixed(2) },
    { 'skeleton step': 'for comparison: the real raw pass, state__raw_pass (key arrays, newest-row payloads; rolled back, same rows, afterwards)', 'median ms': med(realRawPass).toFixed(2) },
  ];
  const calNote = await calibrationNote(pool);
  const body = [
    `${SYMBOLS} symbols, ${NEW_ROWS.toLocaleString('en')} new rows per refresh (per symbol 4 ticker, 8 trades, 6 L2, 2 L3, as bench refresh), ` +
      `5-minute window full, raw tables ≈ ${(rawTotal / 1e6).toFixed(2)} M rows, virtual clock +${CADENCE_S} s per refresh. ` +
      `Per iteration one fresh 10 000-row batch is committed, then the skeleton refresh (bench_floor.refresh, defined in ` +
      `bench/refresh-floor.ts: typed aggregates per (symbol, 10-s bucket) over the txid range, one bucket MERGE, prune, one 500-row ` +
      `state MERGE with the new generation and 1 m / 5 m sums by deltas, digest) and refresh_run_symbol_state both fold it in and commit, ` +
      `in alternating order, each on its own connection and working set. ${WARMUP_ITERATIONS} warm-up iterations not counted. ` +
      `In-db ms = clock inside the function; backend CPU = /proc/<pid>/schedstat of that connection.`,
    '',
    table(summary),
    '',
    table(steps),
    '',
    `Floor / real median (in db): **${(med(floor.map((s) => s.ms)) / med(real.map((s) => s.ms))).toFixed(2)}**; target median < 50 ms.`,
    '',
    calNote,
  ].join('\n');
  writeSection('refresh-floor', 'Refresh floor (skeleton refresh vs refresh_run_symbol_state)', 'npm run bench -- refresh-floor', body);
} finally {
  await floorC.end().catch(() => {});
  await realC.end().catch(() => {});
  await pool.end();
  await clusters.stop();
}
