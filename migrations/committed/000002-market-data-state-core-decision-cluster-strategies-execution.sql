--! Previous: sha1:3faf58c8291cc35cd40c9b7d3c17013b483f51f7
--! Hash: sha1:e42bfa1a6172b48da55a70e2c918d4d795bd5cf3
--! Message: market data, state core, decision cluster, strategies, execution ledger, orders, exchange nonces, validation

--! split: 1-current.sql
-- Enter migration here

--! split: 110-engine-processes.sql
--! Included worker/engine_processes.sql
create table if not exists kapitaal.engine_processes (
  process_id text primary key,
  role text not null,
  host text not null,
  pid integer not null,
  pool_ids text[] not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  stopped_at timestamptz,
  reaped_at timestamptz,
  reap_reason text
);
create index if not exists engine_processes_live_idx on kapitaal.engine_processes (heartbeat_at)
  where stopped_at is null and reaped_at is null;

comment on table kapitaal.engine_processes is
  'Every engine process that runs Graphile Worker jobs, with its pool ids and heartbeat. A dead process''s '
  'locked jobs are released at once by its successor (engine_processes__reap) instead of after Graphile Worker''s 4 h.';
comment on column kapitaal.engine_processes.role is 'What the process runs: ingest, execution, demo, test.';
comment on column kapitaal.engine_processes.pool_ids is
  'Graphile Worker pool ids of this process: the locked_by value of the jobs it holds. Recorded right after the '
  'pool starts; jobs locked by a pool no process knows are orphans, released once older than the stale interval.';
comment on column kapitaal.engine_processes.reaped_at is 'When a successor found this process dead and unlocked its jobs.';
comment on column kapitaal.engine_processes.reap_reason is 'Why it was judged dead: its pid is gone on this host, or its heartbeat is stale.';
--! EndIncluded worker/engine_processes.sql
--! Included worker/engine_process__register.sql
create or replace function kapitaal.engine_process__register(
  p_process_id text,
  p_role text,
  p_host text,
  p_pid integer,
  p_now timestamptz default now()
)
returns void
language sql
volatile
as $$
  insert into kapitaal.engine_processes (process_id, role, host, pid, pool_ids, started_at, heartbeat_at)
  values (p_process_id, p_role, p_host, p_pid, '{}', p_now, p_now)
$$;
comment on function kapitaal.engine_process__register(text, text, text, integer, timestamptz) is
  'Records a starting engine process, before its Graphile Worker pool exists.';

create or replace function kapitaal.engine_process__add_pool(p_process_id text, p_pool_id text)
returns void
language sql
volatile
as $$
  update kapitaal.engine_processes set pool_ids = array_append(pool_ids, p_pool_id)
   where process_id = p_process_id and not p_pool_id = any(pool_ids)
$$;
comment on function kapitaal.engine_process__add_pool(text, text) is
  'Records the Graphile Worker pool id (locked_by of its jobs) of an engine process.';

create or replace function kapitaal.engine_process__heartbeat(p_process_id text, p_now timestamptz default now())
returns boolean
language sql
volatile
as $$
  update kapitaal.engine_processes set heartbeat_at = greatest(heartbeat_at, p_now)
   where process_id = p_process_id and stopped_at is null and reaped_at is null
  returning true
$$;
comment on function kapitaal.engine_process__heartbeat(text, timestamptz) is
  'Marks a process alive. Returns null if it was reaped as dead meanwhile: the process must stop taking jobs.';

create or replace function kapitaal.engine_process__stop(p_process_id text, p_now timestamptz default now())
returns void
language sql
volatile
as $$
  update kapitaal.engine_processes set stopped_at = p_now where process_id = p_process_id and stopped_at is null
$$;
comment on function kapitaal.engine_process__stop(text, timestamptz) is 'Records a clean stop of an engine process.';
--! EndIncluded worker/engine_process__register.sql
--! Included worker/engine_processes__reap.sql
create or replace function kapitaal.engine_processes__reap(
  p_dead_process_ids text[],
  p_stale_after interval default interval '30 seconds',
  p_now timestamptz default now()
)
returns table (process_id text, pool_ids text[], reason text)
language plpgsql
volatile
as $$
begin
  return query
  with dead as (
    update kapitaal.engine_processes p
       set reaped_at = p_now,
           reap_reason = case when p.process_id = any(coalesce(p_dead_process_ids, '{}'))
                              then 'process gone' else 'heartbeat stale since ' || p.heartbeat_at end
     where p.stopped_at is null and p.reaped_at is null
       and (p.process_id = any(coalesce(p_dead_process_ids, '{}')) or p.heartbeat_at < p_now - p_stale_after)
    returning p.process_id, p.pool_ids, p.reap_reason
  )
  select d.process_id, d.pool_ids, d.reap_reason from dead d;
  -- Jobs locked by a dead pool would otherwise stay locked for 4 hours. Orphans
  -- (a pool that died before it was recorded) are released once clearly old.
  perform graphile_worker.force_unlock_workers(array(
    select unnest(p.pool_ids) from kapitaal.engine_processes p where p.reaped_at = p_now
    union
    select j.locked_by from graphile_worker.jobs j
     where j.locked_by is not null and j.locked_at < p_now - p_stale_after
       and not exists (select 1 from kapitaal.engine_processes p
                        where j.locked_by = any(p.pool_ids) and p.stopped_at is null and p.reaped_at is null)));
end
$$;
comment on function kapitaal.engine_processes__reap(text[], interval, timestamptz) is
  'Declares dead the given processes (their pid is gone on this host) and every process whose heartbeat is older '
  'than p_stale_after, and unlocks their Graphile Worker jobs and queues at once; also unlocks jobs older than '
  'p_stale_after held by a pool no live process owns. Returns the processes it reaped.';
--! EndIncluded worker/engine_processes__reap.sql
--! Included worker/job_queue_status.sql
create or replace view kapitaal.job_queue_status as
select j.task_identifier,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at <= now()) as waiting,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at > now()) as scheduled,
       count(*) filter (where j.locked_at is not null) as running,
       count(*) filter (where j.attempts >= j.max_attempts) as failed,
       count(*) filter (where j.last_error is not null and j.attempts < j.max_attempts) as retrying,
       max(j.last_error) filter (where j.attempts >= j.max_attempts) as last_failure
  from graphile_worker.jobs j
 group by j.task_identifier;
comment on view kapitaal.job_queue_status is
  'Graphile Worker queue per task: waiting, scheduled (run_at in the future), running (locked), failed '
  '(attempts exhausted: the chain stopped here, look at last_failure) and retrying.';
--! EndIncluded worker/job_queue_status.sql
--! Included worker/grants.sql
grant select on kapitaal.engine_processes, kapitaal.job_queue_status to kapitaal_readonly;
--! EndIncluded worker/grants.sql

--! split: 120-raw-txid-horizon.sql
--! Included ingest/raw_txid_horizon.sql
create or replace function kapitaal.raw_txid_horizon()
returns xid8
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  -- t0: latest completed transaction id + 1. Ids at or above it are running or not yet handed
  -- out; every id below it is finished unless a backend still holds it (checked below).
  v_next numeric := pg_snapshot_xmax(pg_current_snapshot())::text::numeric;
  v_epoch_base numeric;
  v_horizon numeric;
  v_xid numeric;
  v_full numeric;
begin
  v_horizon := v_next;
  if not (pg_has_role(current_user, 'pg_read_all_stats', 'member')
          or exists (select 1 from pg_roles where rolname = current_user and rolsuper)) then
    -- Without the right to see other sessions' xids, fall back to the cluster-wide
    -- horizon: slower to advance when other databases write, never wrong.
    return pg_snapshot_xmin(pg_current_snapshot());
  end if;
  v_epoch_base := v_next - mod(v_next, 4294967296);
  -- t1 (after t0): writers of this database that are still running. A transaction that
  -- held an id at t0 is either listed here or has finished by now, and one that gets its
  -- id after t0 gets one at or above v_next.
  for v_xid in
    select a.backend_xid::text::numeric
      from pg_stat_activity a
     where a.datname = current_database() and a.backend_xid is not null and a.pid <> pg_backend_pid()
    union all
    select p.transaction::text::numeric from pg_prepared_xacts p where p.database = current_database()
  loop
    -- Widen the 32-bit xid to the full id nearest v_next: running ids lie within 2^31 of it,
    -- on either side (snapshot xmax is latest completed + 1, so running ids may exceed it).
    v_full := v_epoch_base + v_xid;
    if v_full > v_next + 2147483648 then
      v_full := v_full - 4294967296;
    elsif v_full < v_next - 2147483648 then
      v_full := v_full + 4294967296;
    end if;
    v_horizon := least(v_horizon, v_full);
  end loop;
  return v_horizon::text::xid8;
end
$$;
comment on function kapitaal.raw_txid_horizon() is
  'The txid below which every transaction that could write this database''s raw tables has finished: rows with a '
  'smaller txid are final and visible to every later statement. Like pg_snapshot_xmin(pg_current_snapshot()) but '
  'ignores transactions of other databases on the cluster, so a long transaction elsewhere does not hold back the '
  'refresh and epoch watermarks. Call it in its own statement, before the statement that reads the rows.';
revoke all on function kapitaal.raw_txid_horizon() from public;
grant execute on function kapitaal.raw_txid_horizon() to kapitaal_ingest_writer, kapitaal_execution, kapitaal_readonly;
--! EndIncluded ingest/raw_txid_horizon.sql

--! split: 200-market.sql
--! Included market/run_pairs.sql
-- The tradable universe of one ingest run: every pair the instrument channel announced that passed the
-- quote filter, with the exchange limits orders must obey. No foreign keys: this table is also written
-- to the decision cluster, where ingest_runs may not exist.
create table if not exists kapitaal.run_pairs (
  run_id bigint not null,
  symbol text not null,
  base text not null,
  quote text not null,
  status text not null,
  price_precision smallint not null check (price_precision >= 0),
  qty_precision smallint not null check (qty_precision >= 0),
  cost_precision smallint not null check (cost_precision >= 0),
  price_increment numeric not null check (price_increment > 0),
  qty_increment numeric not null check (qty_increment > 0),
  qty_min numeric not null check (qty_min >= 0),
  cost_min numeric not null check (cost_min >= 0),
  in_universe boolean not null default false,
  liquidity_rank integer,
  volume_24h_quote numeric,
  first_seen_at timestamptz not null,
  updated_at timestamptz not null,
  status_changed_at timestamptz not null,
  universe_changed_at timestamptz not null,
  primary key (run_id, symbol)
);
create index if not exists run_pairs_universe_idx on kapitaal.run_pairs (run_id) where in_universe;

comment on table kapitaal.run_pairs is
  'Pairs of one ingest run as the instrument channel describes them (quote filter applied), with the exchange '
  'limits orders must obey and whether the collector streams them. Rows stay when a pair leaves the universe, so '
  'its data remains explained. Written only by run_pairs__sync.';
comment on column kapitaal.run_pairs.status is
  'Kraken pair status (online, cancel_only, post_only, limit_only, reduce_only, maintenance, delisted, work_in_progress).';
comment on column kapitaal.run_pairs.price_increment is 'Price tick: a limit price must be a multiple of it.';
comment on column kapitaal.run_pairs.qty_increment is 'Lot step: an order quantity must be a multiple of it.';
comment on column kapitaal.run_pairs.qty_min is 'Minimum order quantity in base currency.';
comment on column kapitaal.run_pairs.cost_min is 'Minimum order cost (price times quantity) in quote currency.';
comment on column kapitaal.run_pairs.in_universe is
  'True while the pair is online and within the liquidity selection: the collector subscribes its book, trades '
  'and level3. False pairs are neither streamed nor traded.';
comment on column kapitaal.run_pairs.liquidity_rank is 'Rank by 24 h quote volume among the online candidates (1 = most liquid); null before the first ticker.';
comment on column kapitaal.run_pairs.volume_24h_quote is '24 h volume times vwap from the ticker channel, in quote currency, when the ranking ran.';
comment on column kapitaal.run_pairs.status_changed_at is 'When status last changed (first_seen_at until it does).';
comment on column kapitaal.run_pairs.universe_changed_at is 'When in_universe last changed (first_seen_at until it does).';
--! EndIncluded market/run_pairs.sql
--! Included market/run_pairs__sync.sql
create or replace function kapitaal.run_pairs__sync(
  p_run_id bigint,
  p_pairs jsonb,
  p_now timestamptz default now()
)
returns table (symbol text, change text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
begin
  if p_run_id is null or p_pairs is null or jsonb_typeof(p_pairs) <> 'array' then
    raise exception 'run_pairs__sync: run_id and a JSON array of pairs are required' using errcode = '22023';
  end if;
  -- One universe writer per run at a time.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.run_pairs__sync', p_run_id));
  return query
  with incoming as (
    select e->>'symbol' as symbol, e->>'base' as base, e->>'quote' as quote, e->>'status' as status,
           (e->>'price_precision')::smallint as price_precision, (e->>'qty_precision')::smallint as qty_precision,
           (e->>'cost_precision')::smallint as cost_precision,
           (e->>'price_increment')::numeric as price_increment, (e->>'qty_increment')::numeric as qty_increment,
           (e->>'qty_min')::numeric as qty_min, (e->>'cost_min')::numeric as cost_min,
           coalesce((e->>'in_universe')::boolean, false) as in_universe,
           (e->>'liquidity_rank')::integer as liquidity_rank, (e->>'volume_24h_quote')::numeric as volume_24h_quote
      from jsonb_array_elements(p_pairs) e
  ),
  before as (
    select rp.symbol, rp.status, rp.in_universe
      from run_pairs rp
     where rp.run_id = p_run_id and rp.symbol in (select i.symbol from incoming i)
  ),
  upserted as (
    insert into run_pairs as rp (
      run_id, symbol, base, quote, status, price_precision, qty_precision, cost_precision, price_increment,
      qty_increment, qty_min, cost_min, in_universe, liquidity_rank, volume_24h_quote, first_seen_at, updated_at,
      status_changed_at, universe_changed_at)
    select p_run_id, i.symbol, i.base, i.quote, i.status, i.price_precision, i.qty_precision, i.cost_precision,
           i.price_increment, i.qty_increment, i.qty_min, i.cost_min, i.in_universe, i.liquidity_rank,
           i.volume_24h_quote, p_now, p_now, p_now, p_now
      from incoming i
    on conflict on constraint run_pairs_pkey do update set
      base = excluded.base, quote = excluded.quote, status = excluded.status,
      price_precision = excluded.price_precision, qty_precision = excluded.qty_precision,
      cost_precision = excluded.cost_precision, price_increment = excluded.price_increment,
      qty_increment = excluded.qty_increment, qty_min = excluded.qty_min, cost_min = excluded.cost_min,
      in_universe = excluded.in_universe, liquidity_rank = excluded.liquidity_rank,
      volume_24h_quote = excluded.volume_24h_quote, updated_at = p_now,
      status_changed_at = case when rp.status is distinct from excluded.status then p_now else rp.status_changed_at end,
      universe_changed_at = case when rp.in_universe is distinct from excluded.in_universe then p_now
                                 else rp.universe_changed_at end
    returning rp.symbol, rp.status, rp.in_universe
  )
  select u.symbol, c.change
    from upserted u
    left join before b on b.symbol = u.symbol
   cross join lateral (
     select 'added' as change where b.symbol is null
     union all
     select format('status %s -> %s', b.status, u.status) where b.symbol is not null and b.status <> u.status
     union all
     select case when u.in_universe then 'entered universe' else 'left universe' end
      where b.symbol is not null and b.in_universe <> u.in_universe
   ) c
   order by u.symbol;
end
$$;
comment on function kapitaal.run_pairs__sync(bigint, jsonb, timestamptz) is
  'Upserts pairs of an ingest run from the instrument channel: p_pairs is a JSON array of objects with symbol, '
  'base, quote, status, price/qty/cost_precision, price_increment, qty_increment, qty_min, cost_min (decimal text), '
  'in_universe, liquidity_rank, volume_24h_quote. Returns one row per change (added, status a -> b, entered '
  'universe, left universe). Pairs absent from p_pairs are left as they are.';
--! EndIncluded market/run_pairs__sync.sql
--! Included market/ingest_epochs.sql
-- Epochs: what an ingest run had durably stored at a moment, published every few seconds. Self-contained
-- (no foreign keys) because the same table lives on the decision cluster, where a sync job copies it.
create table if not exists kapitaal.ingest_epochs (
  run_id bigint not null,
  epoch bigint not null check (epoch > 0),
  published_at timestamptz not null,
  txid_horizon xid8 not null,
  ticker_rows bigint not null default 0,
  trade_rows bigint not null default 0,
  l2_rows bigint not null default 0,
  l3_rows bigint not null default 0,
  ticker_max_seq bigint,
  trade_max_seq bigint,
  l2_max_seq bigint,
  l3_max_seq bigint,
  symbols integer not null default 0,
  symbols_book_valid integer not null default 0,
  symbols_fresh integer not null default 0,
  primary key (run_id, epoch)
);

comment on table kapitaal.ingest_epochs is
  'One row per published epoch of an ingest run: per raw table how many rows of the run are committed and counted, '
  'the highest sequence number among them, and a summary of the per-symbol snapshots (ingest_snapshots) of the '
  'same epoch. Written only by ingest_epoch__publish; also synced to the decision cluster.';
comment on column kapitaal.ingest_epochs.epoch is 'Epoch number within the run: 1, 2, 3, … without gaps.';
comment on column kapitaal.ingest_epochs.txid_horizon is
  'Visibility horizon: every raw row of the run whose inserting transaction id (txid) is below it is counted in '
  'this epoch or an earlier one; rows at or above it are counted by later epochs. Below the horizon no '
  'transaction is still running, so a late commit is never skipped.';
comment on column kapitaal.ingest_epochs.ticker_rows is 'ticker_samples rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.trade_rows is 'trade_samples rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.l2_rows is 'l2_snap_metrics rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.l3_rows is 'l3_queue_metrics rows of the run with txid below txid_horizon (cumulative).';
comment on column kapitaal.ingest_epochs.ticker_max_seq is 'Highest ticker_samples.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.trade_max_seq is 'Highest trade_samples.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.l2_max_seq is 'Highest l2_snap_metrics.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.l3_max_seq is 'Highest l3_queue_metrics.seq counted so far (null: none yet).';
comment on column kapitaal.ingest_epochs.symbols is 'Symbols with a snapshot row in this epoch.';
comment on column kapitaal.ingest_epochs.symbols_book_valid is 'Symbols whose latest stored L2 sample had a matching checksum.';
comment on column kapitaal.ingest_epochs.symbols_fresh is 'Symbols whose newest counted row is younger than the freshness limit of the publish call.';
--! EndIncluded market/ingest_epochs.sql
--! Included market/ingest_snapshots.sql
-- Per epoch and symbol: which data the run holds and how fresh it is. Self-contained like ingest_epochs.
create table if not exists kapitaal.ingest_snapshots (
  run_id bigint not null,
  epoch bigint not null,
  symbol text not null,
  published_at timestamptz not null,
  in_universe boolean not null,
  pair_status text,
  ticker_rows bigint not null default 0,
  trade_rows bigint not null default 0,
  l2_rows bigint not null default 0,
  l2_updates bigint not null default 0,
  l3_rows bigint not null default 0,
  last_ticker_at timestamptz,
  last_trade_at timestamptz,
  last_l2_at timestamptz,
  last_l3_at timestamptz,
  book_valid boolean,
  l3_valid boolean,
  data_age interval,
  fresh boolean not null,
  primary key (run_id, epoch, symbol)
);
create index if not exists ingest_snapshots_symbol_idx on kapitaal.ingest_snapshots (run_id, symbol, epoch desc);

comment on table kapitaal.ingest_snapshots is
  'What one epoch of an ingest run covers per symbol: cumulative row counts per raw table, the newest received_at '
  'per channel, whether the book is valid and how old the newest data is. Written only by ingest_epoch__publish; '
  'also synced to the decision cluster, where execution reads it instead of raw tables.';
comment on column kapitaal.ingest_snapshots.in_universe is 'Whether the pair was in the run''s universe (run_pairs.in_universe) at publish time.';
comment on column kapitaal.ingest_snapshots.pair_status is 'Kraken pair status from run_pairs at publish time (null: pair unknown).';
comment on column kapitaal.ingest_snapshots.ticker_rows is 'ticker_samples rows of this symbol counted up to the epoch''s horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.trade_rows is 'trade_samples rows counted up to the horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.l2_rows is 'l2_snap_metrics rows (samples) counted up to the horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.l2_updates is 'Sum of l2_snap_metrics.updates_applied: book messages received, including those folded into samples.';
comment on column kapitaal.ingest_snapshots.l3_rows is 'l3_queue_metrics rows counted up to the horizon (cumulative).';
comment on column kapitaal.ingest_snapshots.last_ticker_at is 'Newest received_at among counted ticker rows.';
comment on column kapitaal.ingest_snapshots.last_trade_at is 'Newest received_at among counted trades.';
comment on column kapitaal.ingest_snapshots.last_l2_at is 'Newest received_at among counted L2 samples.';
comment on column kapitaal.ingest_snapshots.last_l3_at is 'Newest received_at among counted L3 samples.';
comment on column kapitaal.ingest_snapshots.book_valid is
  'checksum_ok of the newest counted L2 sample: false from a checksum mismatch until the next good snapshot; null before any book data.';
comment on column kapitaal.ingest_snapshots.l3_valid is 'checksum_ok of the newest counted L3 sample; null without level3 data.';
comment on column kapitaal.ingest_snapshots.data_age is 'published_at minus the newest received_at over all channels (null: no data yet).';
comment on column kapitaal.ingest_snapshots.fresh is 'data_age is within the freshness limit given to ingest_epoch__publish.';
--! EndIncluded market/ingest_snapshots.sql
--! Included market/ingest_epoch__publish.sql
create or replace function kapitaal.ingest_epoch__publish(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_fresh_within interval default interval '10 seconds'
)
returns kapitaal.ingest_epochs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_prev kapitaal.ingest_epochs;
  v_from xid8;
  v_to xid8;
  v_epoch kapitaal.ingest_epochs;
begin
  if not exists (select 1 from ingest_runs r where r.run_id = p_run_id) then
    raise exception 'ingest_epoch__publish: no ingest run %', p_run_id using errcode = 'P0002';
  end if;
  -- Epochs of one run are numbered without gaps: one publisher at a time.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_epoch__publish', p_run_id));
  select * into v_prev from ingest_epochs e where e.run_id = p_run_id order by e.epoch desc limit 1;
  v_from := coalesce(v_prev.txid_horizon, '0'::xid8);
  -- Taken after the lock: every transaction below this id has finished, so rows in [v_from, v_to) are final.
  v_to := greatest(kapitaal.raw_txid_horizon(), v_from);

  with delta as (
    select t.symbol, 'ticker'::text as ch, count(*) as n, max(t.received_at) as last_at, max(t.seq) as max_seq,
           0::bigint as upd, null::boolean as ok
      from ticker_samples t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
    union all
    select t.symbol, 'trade', count(*), max(t.received_at), max(t.seq), 0, null
      from trade_samples t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
    union all
    select t.symbol, 'l2', count(*), max(t.received_at), max(t.seq), sum(t.updates_applied),
           (array_agg(t.checksum_ok order by t.received_at desc, t.seq desc))[1]
      from l2_snap_metrics t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
    union all
    select t.symbol, 'l3', count(*), max(t.received_at), max(t.seq), 0,
           (array_agg(t.checksum_ok order by t.received_at desc, t.seq desc))[1]
      from l3_queue_metrics t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
  ),
  per_symbol as (
    select d.symbol,
           coalesce(sum(d.n) filter (where d.ch = 'ticker'), 0) as ticker_n,
           coalesce(sum(d.n) filter (where d.ch = 'trade'), 0) as trade_n,
           coalesce(sum(d.n) filter (where d.ch = 'l2'), 0) as l2_n,
           coalesce(sum(d.upd) filter (where d.ch = 'l2'), 0) as l2_upd,
           coalesce(sum(d.n) filter (where d.ch = 'l3'), 0) as l3_n,
           max(d.last_at) filter (where d.ch = 'ticker') as ticker_at,
           max(d.last_at) filter (where d.ch = 'trade') as trade_at,
           max(d.last_at) filter (where d.ch = 'l2') as l2_at,
           max(d.last_at) filter (where d.ch = 'l3') as l3_at,
           bool_and(d.ok) filter (where d.ch = 'l2') as l2_ok,
           bool_and(d.ok) filter (where d.ch = 'l3') as l3_ok
      from delta d
     group by d.symbol
  ),
  prev as (
    select s.* from ingest_snapshots s where s.run_id = p_run_id and s.epoch = v_prev.epoch
  ),
  pairs as (
    select rp.symbol, rp.in_universe, rp.status from run_pairs rp where rp.run_id = p_run_id
  ),
  symbols as (
    select ps.symbol from per_symbol ps
    union
    select pv.symbol from prev pv
    union
    select pr.symbol from pairs pr where pr.in_universe
  ),
  merged as (
    select s.symbol,
           coalesce(pr.in_universe, false) as in_universe,
           pr.status as pair_status,
           coalesce(pv.ticker_rows, 0) + coalesce(ps.ticker_n, 0) as ticker_rows,
           coalesce(pv.trade_rows, 0) + coalesce(ps.trade_n, 0) as trade_rows,
           coalesce(pv.l2_rows, 0) + coalesce(ps.l2_n, 0) as l2_rows,
           coalesce(pv.l2_updates, 0) + coalesce(ps.l2_upd, 0) as l2_updates,
           coalesce(pv.l3_rows, 0) + coalesce(ps.l3_n, 0) as l3_rows,
           greatest(pv.last_ticker_at, ps.ticker_at) as last_ticker_at,
           greatest(pv.last_trade_at, ps.trade_at) as last_trade_at,
           greatest(pv.last_l2_at, ps.l2_at) as last_l2_at,
           greatest(pv.last_l3_at, ps.l3_at) as last_l3_at,
           coalesce(ps.l2_ok, pv.book_valid) as book_valid,
           coalesce(ps.l3_ok, pv.l3_valid) as l3_valid
      from symbols s
      left join per_symbol ps on ps.symbol = s.symbol
      left join prev pv on pv.symbol = s.symbol
      left join pairs pr on pr.symbol = s.symbol
  ),
  ins as (
    insert into ingest_snapshots (
      run_id, epoch, symbol, published_at, in_universe, pair_status, ticker_rows, trade_rows, l2_rows, l2_updates,
      l3_rows, last_ticker_at, last_trade_at, last_l2_at, last_l3_at, book_valid, l3_valid, data_age, fresh)
    select p_run_id, coalesce(v_prev.epoch, 0) + 1, m.symbol, p_now, m.in_universe, m.pair_status, m.ticker_rows,
           m.trade_rows, m.l2_rows, m.l2_updates, m.l3_rows, m.last_ticker_at, m.last_trade_at, m.last_l2_at,
           m.last_l3_at, m.book_valid, m.l3_valid,
           p_now - greatest(m.last_ticker_at, m.last_trade_at, m.last_l2_at, m.last_l3_at),
           coalesce(p_now - greatest(m.last_ticker_at, m.last_trade_at, m.last_l2_at, m.last_l3_at) <= p_fresh_within,
                    false)
      from merged m
    returning ingest_snapshots.*
  )
  insert into ingest_epochs (
    run_id, epoch, published_at, txid_horizon, ticker_rows, trade_rows, l2_rows, l3_rows,
    ticker_max_seq, trade_max_seq, l2_max_seq, l3_max_seq, symbols, symbols_book_valid, symbols_fresh)
  select p_run_id, coalesce(v_prev.epoch, 0) + 1, p_now, v_to,
         coalesce(sum(i.ticker_rows), 0), coalesce(sum(i.trade_rows), 0), coalesce(sum(i.l2_rows), 0),
         coalesce(sum(i.l3_rows), 0),
         greatest(v_prev.ticker_max_seq, (select max(d.max_seq) from delta d where d.ch = 'ticker')),
         greatest(v_prev.trade_max_seq, (select max(d.max_seq) from delta d where d.ch = 'trade')),
         greatest(v_prev.l2_max_seq, (select max(d.max_seq) from delta d where d.ch = 'l2')),
         greatest(v_prev.l3_max_seq, (select max(d.max_seq) from delta d where d.ch = 'l3')),
         count(*), count(*) filter (where i.book_valid), count(*) filter (where i.fresh)
    from ins i
  returning * into v_epoch;
  return v_epoch;
end
$$;
comment on function kapitaal.ingest_epoch__publish(bigint, timestamptz, interval) is
  'Publishes the next epoch of an ingest run: counts the raw rows whose inserting transaction lies between the '
  'previous epoch''s txid_horizon and the current one (so the cost is O(new rows) and no late commit is skipped), '
  'writes one ingest_snapshots row per symbol (cumulative counts, newest received_at per channel, book validity, '
  'age, fresh = age within p_fresh_within) and the ingest_epochs summary, and returns the epoch.';
--! EndIncluded market/ingest_epoch__publish.sql
--! Included market/ingest_runs__abandon_stale.sql
create or replace function kapitaal.ingest_runs__abandon_stale(
  p_config jsonb,
  p_stale_after interval,
  p_now timestamptz default now()
)
returns setof kapitaal.ingest_runs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_run_id bigint;
begin
  if p_stale_after is null or p_stale_after <= interval '0' then
    raise exception 'ingest_runs__abandon_stale: stale_after must be a positive interval, got %', p_stale_after
      using errcode = '22023';
  end if;
  for v_run_id in
    select r.run_id from ingest_runs r
     where r.config_hash = md5(p_config::text) and r.status = 'running' and r.heartbeat_at < p_now - p_stale_after
     order by r.run_id
     for update skip locked
  loop
    return next ingest_run__end(
      v_run_id, 'abandoned',
      format('heartbeat older than %s when a new run of the same configuration started', p_stale_after), p_now);
  end loop;
end
$$;
comment on function kapitaal.ingest_runs__abandon_stale(jsonb, interval, timestamptz) is
  'Marks running ingest runs of the same configuration (same config hash as ingest_run__start computes) whose '
  'heartbeat is older than p_stale_after as abandoned (their process died) and returns them. Runs with a fresh '
  'heartbeat are left alone.';
--! EndIncluded market/ingest_runs__abandon_stale.sql
--! Included market/ingest_write_batches.sql
-- One row per batch the collector committed: makes a retried batch idempotent (a commit whose answer was lost
-- is not written twice) and lets a DBA see write cadence and batch sizes.
create table if not exists kapitaal.ingest_write_batches (
  run_id bigint not null,
  batch_no bigint not null check (batch_no > 0),
  committed_at timestamptz not null,
  ticker_rows integer not null default 0,
  trade_rows integer not null default 0,
  l2_rows integer not null default 0,
  l3_rows integer not null default 0,
  attempts integer not null default 1,
  primary key (run_id, batch_no)
);

comment on table kapitaal.ingest_write_batches is
  'Batches of raw rows the collector wrote with COPY, one row per batch, inserted in the same transaction as the '
  'rows. A batch retried after a lost commit acknowledgement finds its row and is skipped, so no raw row is '
  'stored twice.';
comment on column kapitaal.ingest_write_batches.batch_no is 'Batch number within the run, assigned by the collector (1, 2, 3, …).';
comment on column kapitaal.ingest_write_batches.committed_at is 'Transaction time of the batch (engine clock).';
comment on column kapitaal.ingest_write_batches.attempts is 'Which attempt committed the batch (1 = first try; more after database errors).';
--! EndIncluded market/ingest_write_batches.sql
--! Included market/ingest_write_batch__record.sql
create or replace function kapitaal.ingest_write_batch__record(
  p_run_id bigint,
  p_batch_no bigint,
  p_ticker_rows integer,
  p_trade_rows integer,
  p_l2_rows integer,
  p_l3_rows integer,
  p_attempts integer default 1,
  p_now timestamptz default now()
)
returns boolean
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  insert into ingest_write_batches (run_id, batch_no, committed_at, ticker_rows, trade_rows, l2_rows, l3_rows, attempts)
  values (p_run_id, p_batch_no, p_now, p_ticker_rows, p_trade_rows, p_l2_rows, p_l3_rows, p_attempts)
  on conflict (run_id, batch_no) do nothing
  returning true
$$;
comment on function kapitaal.ingest_write_batch__record(bigint, bigint, integer, integer, integer, integer, integer, timestamptz) is
  'Claims a batch number inside the transaction that writes the batch. Returns true when claimed, null when the '
  'batch was committed before (the writer then rolls back and treats the batch as written).';
--! EndIncluded market/ingest_write_batch__record.sql
--! Included market/ingest_gaps.sql
-- Data the collector could not store, stated plainly: per raw table the received_at range and row count dropped.
create table if not exists kapitaal.ingest_gaps (
  gap_id bigint generated always as identity primary key,
  run_id bigint not null,
  table_name text not null check (table_name in ('ticker_samples', 'trade_samples', 'l2_snap_metrics', 'l3_queue_metrics')),
  first_received_at timestamptz not null,
  last_received_at timestamptz not null,
  rows_dropped bigint not null check (rows_dropped > 0),
  reason text not null,
  recorded_at timestamptz not null,
  check (first_received_at <= last_received_at)
);
create index if not exists ingest_gaps_run_idx on kapitaal.ingest_gaps (run_id, table_name, first_received_at);

comment on table kapitaal.ingest_gaps is
  'Raw rows an ingest run received but did not store (the buffer was full while the database was unreachable, '
  'or PostgreSQL rejected a row): which table, the received_at range and how many rows. Refresh and validation '
  'treat these ranges as missing data, never as a quiet market. Also logged as DATA_INTEGRITY_GAP.';
comment on column kapitaal.ingest_gaps.first_received_at is 'received_at of the first dropped row.';
comment on column kapitaal.ingest_gaps.last_received_at is 'received_at of the last dropped row.';
comment on column kapitaal.ingest_gaps.reason is 'Why the rows were dropped, in plain words.';
comment on column kapitaal.ingest_gaps.recorded_at is 'When the gap was written (once the database was reachable again).';
--! EndIncluded market/ingest_gaps.sql
--! Included market/ingest_gap__record.sql
create or replace function kapitaal.ingest_gap__record(
  p_run_id bigint,
  p_table_name text,
  p_first_received_at timestamptz,
  p_last_received_at timestamptz,
  p_rows_dropped bigint,
  p_reason text,
  p_now timestamptz default now()
)
returns bigint
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  insert into ingest_gaps (run_id, table_name, first_received_at, last_received_at, rows_dropped, reason, recorded_at)
  values (p_run_id, p_table_name, p_first_received_at, p_last_received_at, p_rows_dropped, p_reason, p_now)
  returning gap_id
$$;
comment on function kapitaal.ingest_gap__record(bigint, text, timestamptz, timestamptz, bigint, text, timestamptz) is
  'Records a range of raw rows the collector dropped (see ingest_gaps) and returns its gap_id.';
--! EndIncluded market/ingest_gap__record.sql
--! Included market/grants.sql
-- Least privilege for the market-ingest objects (universe, epochs, snapshots, write batches, gaps).
-- Tables are written only through the security-definer functions below.
revoke all on function kapitaal.run_pairs__sync(bigint, jsonb, timestamptz) from public;
revoke all on function kapitaal.ingest_epoch__publish(bigint, timestamptz, interval) from public;
revoke all on function kapitaal.ingest_runs__abandon_stale(jsonb, interval, timestamptz) from public;
revoke all on function kapitaal.ingest_write_batch__record(bigint, bigint, integer, integer, integer, integer, integer, timestamptz) from public;
revoke all on function kapitaal.ingest_gap__record(bigint, text, timestamptz, timestamptz, bigint, text, timestamptz) from public;

grant execute on function kapitaal.run_pairs__sync(bigint, jsonb, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_epoch__publish(bigint, timestamptz, interval) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_runs__abandon_stale(jsonb, interval, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_write_batch__record(bigint, bigint, integer, integer, integer, integer, integer, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_gap__record(bigint, text, timestamptz, timestamptz, bigint, text, timestamptz) to kapitaal_ingest_writer;

-- The writer reads back what it wrote (universe after restart, its own epochs).
grant select on kapitaal.run_pairs, kapitaal.ingest_epochs, kapitaal.ingest_snapshots,
  kapitaal.ingest_write_batches, kapitaal.ingest_gaps to kapitaal_ingest_writer;

-- Execution needs pair limits and attaches to epochs/snapshots; it never reads raw tables.
grant select on kapitaal.run_pairs, kapitaal.ingest_epochs, kapitaal.ingest_snapshots to kapitaal_execution;

grant select on kapitaal.run_pairs, kapitaal.ingest_epochs, kapitaal.ingest_snapshots,
  kapitaal.ingest_write_batches, kapitaal.ingest_gaps to kapitaal_readonly;
--! EndIncluded market/grants.sql

--! split: 300-state.sql
--! Included state/policies.sql
-- Policy tables of the state layer: plain rows a DBA can read and change with psql.
-- Defaults are inserted with `on conflict do nothing`, so re-running the migration
-- never overwrites a value an operator changed.

create table if not exists kapitaal.state_refresh_policy (
  policy text primary key default 'default' check (policy = 'default'),
  cadence interval not null default interval '2 seconds' check (cadence > interval '0'),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.state_refresh_policy is
  'Single-row policy of the state refresh job: how often run_symbol_state__refresh re-queues itself.';
comment on column kapitaal.state_refresh_policy.cadence is
  'Delay between two refreshes of one run (the job''s run_at = refresh time + cadence), unless the job payload '
  'carries cadence_seconds.';
insert into kapitaal.state_refresh_policy (policy) values ('default') on conflict do nothing;

create table if not exists kapitaal.route_freshness_policy (
  route_type text primary key check (route_type ~ '^[a-z][a-z0-9_]*$'),
  max_state_age interval not null check (max_state_age > interval '0'),
  enabled boolean not null default true,
  description text not null
);
comment on table kapitaal.route_freshness_policy is
  'Route types and the maximum age of the state a route may execute on. apply_route_freshness_filter allows a route '
  'when the state age is at most max_state_age (the boundary itself is allowed) and clears exec_allowed otherwise.';
comment on column kapitaal.route_freshness_policy.max_state_age is
  'Largest allowed age of the symbol''s market data (now - newest L2/ticker time) and of the run''s refresh.';
comment on column kapitaal.route_freshness_policy.enabled is 'Disabled route types are not returned by apply_route_freshness_filter.';
insert into kapitaal.route_freshness_policy (route_type, max_state_age, description) values
  ('taker_entry', interval '30 seconds', 'Entry that crosses the spread now: the price paid is the book seen, so the book must be fresh.'),
  ('maker_entry', interval '30 seconds', 'Queue-aware passive entry: the limit price and queue position come from the book and L3 queue.'),
  ('exit',        interval '45 seconds', 'Closing an open position (stop, take-profit, regime exit): getting out matters more than the last tick.')
on conflict do nothing;

create table if not exists kapitaal.regime_policy (
  policy text primary key default 'default' check (policy = 'default'),
  confirm_refreshes integer not null default 3 check (confirm_refreshes >= 1),
  immediate_regimes text[] not null default array['CHAOS'],
  exit_margin numeric not null default 0.2 check (exit_margin >= 0 and exit_margin < 1),
  chaos_max_data_age interval not null default interval '30 seconds',
  chaos_checksum_failures_1m integer not null default 3,
  chaos_trade_id_gaps_5m integer not null default 20,
  chaos_vol_1m_bps numeric not null default 200,
  min_price_buckets_5m integer not null default 6,
  low_liq_max_spread_bps numeric not null default 50,
  low_liq_min_depth_50bps_quote numeric not null default 2000,
  low_liq_min_trades_5m integer not null default 3,
  high_vol_vol_5m_bps numeric not null default 80,
  trend_min_strength numeric not null default 0.5,
  trend_min_abs_ret_5m_bps numeric not null default 15,
  updated_at timestamptz not null default now()
);
comment on table kapitaal.regime_policy is
  'Single-row thresholds of the per-pair regime (see regime__indicate and regime__step). Checked in order: CHAOS, '
  'LOW_LIQUIDITY, HIGH_VOLATILITY, TREND, else RANGE.';
comment on column kapitaal.regime_policy.confirm_refreshes is
  'Hysteresis: a regime other than the current one becomes effective only after being indicated this many consecutive refreshes.';
comment on column kapitaal.regime_policy.immediate_regimes is
  'Regimes that take effect at the first indication (safety: stop trading at once). Leaving them still needs confirmation.';
comment on column kapitaal.regime_policy.exit_margin is
  'Hysteresis band: while a pair is in HIGH_VOLATILITY, TREND or LOW_LIQUIDITY, the thresholds that keep it there are '
  'relaxed by this fraction (e.g. 0.2: a HIGH_VOLATILITY pair stays so until vol_5m_bps drops below 80 * 0.8 = 64).';
comment on column kapitaal.regime_policy.chaos_max_data_age is 'CHAOS when the newest L2/ticker data is older than this.';
comment on column kapitaal.regime_policy.chaos_checksum_failures_1m is 'CHAOS when L2 plus L3 checksum failures in the last minute reach this.';
comment on column kapitaal.regime_policy.chaos_trade_id_gaps_5m is 'CHAOS when this many trade ids are missing in the last 5 minutes.';
comment on column kapitaal.regime_policy.chaos_vol_1m_bps is 'CHAOS when realised 1-minute volatility (bps) reaches this.';
comment on column kapitaal.regime_policy.min_price_buckets_5m is 'CHAOS (insufficient history) with fewer 10-second price buckets in the last 5 minutes.';
comment on column kapitaal.regime_policy.low_liq_max_spread_bps is 'LOW_LIQUIDITY when the spread reaches this (bps of mid).';
comment on column kapitaal.regime_policy.low_liq_min_depth_50bps_quote is 'LOW_LIQUIDITY when the thinner side holds less than this (quote) within 50 bps of mid.';
comment on column kapitaal.regime_policy.low_liq_min_trades_5m is 'LOW_LIQUIDITY with fewer trades than this in 5 minutes.';
comment on column kapitaal.regime_policy.high_vol_vol_5m_bps is 'HIGH_VOLATILITY when realised 5-minute volatility (bps) reaches this.';
comment on column kapitaal.regime_policy.trend_min_strength is 'TREND when |trend_strength_5m| (efficiency ratio, 0..1) reaches this ...';
comment on column kapitaal.regime_policy.trend_min_abs_ret_5m_bps is '... and |ret_5m_bps| reaches this.';
insert into kapitaal.regime_policy (policy) values ('default') on conflict do nothing;

create table if not exists kapitaal.strategy_readiness_policy (
  strategy text primary key check (strategy in ('liquidity', 'momentum', 'volume')),
  requires_book boolean not null,
  max_book_age interval,
  requires_l3 boolean not null,
  max_l3_age interval,
  requires_ticker boolean not null,
  max_ticker_age interval,
  requires_trades boolean not null,
  max_trade_age interval,
  min_trades_1m integer not null default 0,
  min_trades_5m integer not null default 0,
  min_quote_volume_5m numeric not null default 0,
  min_price_buckets_5m integer not null default 0,
  description text not null
);
comment on table kapitaal.strategy_readiness_policy is
  'What data each strategy needs and how fresh (ages are inclusive: age = max is still ready). Read by strategy_readiness.';
comment on column kapitaal.strategy_readiness_policy.requires_book is 'Needs a valid L2 book (newest sample passed its checksum) no older than max_book_age.';
comment on column kapitaal.strategy_readiness_policy.requires_l3 is 'Needs valid L3 queue data (touch queue, checksum ok) no older than max_l3_age.';
comment on column kapitaal.strategy_readiness_policy.requires_ticker is 'Needs a ticker no older than max_ticker_age.';
comment on column kapitaal.strategy_readiness_policy.requires_trades is 'Needs a trade no older than max_trade_age, plus the trade-count and volume minimums.';
comment on column kapitaal.strategy_readiness_policy.min_price_buckets_5m is 'Minimum 10-second price buckets in the last 5 minutes (history for returns and volatility).';
insert into kapitaal.strategy_readiness_policy
  (strategy, requires_book, max_book_age, requires_l3, max_l3_age, requires_ticker, max_ticker_age,
   requires_trades, max_trade_age, min_trades_1m, min_trades_5m, min_quote_volume_5m, min_price_buckets_5m, description)
values
  ('liquidity', true, interval '10 seconds', true, interval '10 seconds', false, null, false, null, 0, 0, 0, 0,
   'Queue-aware maker: needs the verified book and the L3 queue at the touch, both at most 10 s old.'),
  ('momentum', false, null, false, null, true, interval '15 seconds', true, interval '60 seconds', 0, 10, 0, 6,
   'Follows price moves: needs a ticker at most 15 s old, a trade within 60 s, 10+ trades and 6+ price buckets (1 min) in 5 min.'),
  ('volume', true, interval '15 seconds', false, null, false, null, true, interval '30 seconds', 5, 0, 5000, 0,
   'Trades with the flow: needs 5+ trades in the last minute, 5000+ quote volume in 5 min, a trade within 30 s, and a valid book at most 15 s old to price its order.')
on conflict do nothing;
--! EndIncluded state/policies.sql
--! Included state/run_symbol_state.sql
-- The published per-symbol state of an ingest run: one row per (run, symbol), all rows of
-- a run rewritten and stamped with the same generation_id by each refresh. This table
-- exists on both clusters (synced to decision); it holds nothing that only makes sense on
-- ingest (watermarks, buckets and sequence keys live in state_refresh_watermarks,
-- state_buckets and state_symbol_latest).
create table if not exists kapitaal.run_symbol_state (
  run_id bigint not null,
  symbol text not null,
  generation_id bigint not null,
  refreshed_at timestamptz not null,
  -- freshness per channel (engine clock, received_at of the newest row)
  last_ticker_at timestamptz,
  last_trade_at timestamptz,
  last_l2_at timestamptz,
  last_l3_at timestamptz,
  -- top of book and depth (newest L2 sample; bid/ask/mid fall back to the ticker without L2)
  book_source text check (book_source in ('l2', 'ticker')),
  best_bid numeric,
  best_ask numeric,
  mid numeric,
  spread_bps numeric,
  microprice numeric,
  bid_depth_10bps_quote numeric,
  ask_depth_10bps_quote numeric,
  bid_depth_50bps_quote numeric,
  ask_depth_50bps_quote numeric,
  book_imbalance numeric,
  book_valid boolean,
  last_trade_price numeric,
  -- L3 queue at the touch (newest L3 sample) and churn
  l3_bid_touch_qty numeric,
  l3_bid_touch_orders integer,
  l3_ask_touch_qty numeric,
  l3_ask_touch_orders integer,
  l3_valid boolean,
  l3_touch_churn_1m integer not null default 0,
  -- rolling windows (10-second buckets; 1 m = 6 buckets, 5 m = 30 buckets, current bucket included)
  ret_1m_bps numeric,
  ret_5m_bps numeric,
  vol_1m_bps numeric,
  vol_5m_bps numeric,
  trend_strength_5m numeric,
  price_buckets_5m integer not null default 0,
  trades_1m integer not null default 0,
  trades_5m integer not null default 0,
  quote_volume_1m numeric not null default 0,
  quote_volume_5m numeric not null default 0,
  buy_quote_volume_5m numeric not null default 0,
  -- data integrity
  l2_checksum_failures_1m integer not null default 0,
  l2_checksum_failures_5m integer not null default 0,
  l3_checksum_failures_1m integer not null default 0,
  l2_resyncs_5m integer not null default 0,
  trade_id_gaps_5m integer not null default 0,
  -- regime (regime__indicate + regime__step); null regime = not established yet
  regime text check (regime in ('RANGE', 'TREND', 'HIGH_VOLATILITY', 'LOW_LIQUIDITY', 'CHAOS')),
  regime_since timestamptz,
  regime_indicated text check (regime_indicated in ('RANGE', 'TREND', 'HIGH_VOLATILITY', 'LOW_LIQUIDITY', 'CHAOS')),
  regime_reason text,
  regime_candidate text check (regime_candidate in ('RANGE', 'TREND', 'HIGH_VOLATILITY', 'LOW_LIQUIDITY', 'CHAOS')),
  regime_streak integer not null default 0,
  primary key (run_id, symbol)
);
create index if not exists run_symbol_state_generation_idx on kapitaal.run_symbol_state (generation_id);

comment on table kapitaal.run_symbol_state is
  'Per-symbol market state of an ingest run, written only by refresh_run_symbol_state. The hot path (readiness, '
  'routes, evaluation, execution) reads this table and never the raw tables. Every refresh rewrites all rows of the '
  'run with one generation_id, so a generation is the complete state of the run at refreshed_at.';
comment on column kapitaal.run_symbol_state.generation_id is 'The refresh (state_generations) that wrote this row.';
comment on column kapitaal.run_symbol_state.refreshed_at is 'Effective time of that refresh (its p_now, never earlier than the previous refresh).';
comment on column kapitaal.run_symbol_state.last_ticker_at is 'received_at of the newest ticker row of the symbol in this run.';
comment on column kapitaal.run_symbol_state.last_trade_at is 'received_at of the newest trade.';
comment on column kapitaal.run_symbol_state.last_l2_at is 'received_at of the newest L2 book sample (valid or not).';
comment on column kapitaal.run_symbol_state.last_l3_at is 'received_at of the newest L3 queue sample.';
comment on column kapitaal.run_symbol_state.book_source is 'Where best_bid/best_ask/mid come from: the newest L2 sample, or the ticker when no L2 exists.';
comment on column kapitaal.run_symbol_state.spread_bps is '(best_ask - best_bid) / mid * 10000.';
comment on column kapitaal.run_symbol_state.microprice is 'Top-of-book microprice: (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty).';
comment on column kapitaal.run_symbol_state.bid_depth_10bps_quote is 'Sum of price * qty of bid levels at or above mid * (1 - 10 bps), in quote currency.';
comment on column kapitaal.run_symbol_state.ask_depth_10bps_quote is 'Sum of price * qty of ask levels at or below mid * (1 + 10 bps), in quote currency.';
comment on column kapitaal.run_symbol_state.bid_depth_50bps_quote is 'As bid_depth_10bps_quote within 50 bps of mid.';
comment on column kapitaal.run_symbol_state.ask_depth_50bps_quote is 'As ask_depth_10bps_quote within 50 bps of mid.';
comment on column kapitaal.run_symbol_state.book_imbalance is '(bid - ask) / (bid + ask) of the 50 bps depths, in [-1, 1]; positive = more bids.';
comment on column kapitaal.run_symbol_state.book_valid is 'Whether the newest L2 sample passed Kraken''s checksum (null: no L2 seen).';
comment on column kapitaal.run_symbol_state.last_trade_price is 'Price of the newest trade.';
comment on column kapitaal.run_symbol_state.l3_bid_touch_qty is 'Quantity (base) resting at the best bid in the newest L3 sample: the queue ahead of a new bid at the touch.';
comment on column kapitaal.run_symbol_state.l3_bid_touch_orders is 'Number of orders resting at the best bid.';
comment on column kapitaal.run_symbol_state.l3_valid is 'Whether the newest L3 sample passed its checksum (null: no L3 seen).';
comment on column kapitaal.run_symbol_state.l3_touch_churn_1m is 'Adds plus deletes at the touch in the last minute (queue churn).';
comment on column kapitaal.run_symbol_state.ret_1m_bps is 'Return over the 1-minute window: last bucket close / first bucket open - 1, in bps.';
comment on column kapitaal.run_symbol_state.ret_5m_bps is 'Return over the 5-minute window, in bps.';
comment on column kapitaal.run_symbol_state.vol_1m_bps is 'Realised volatility over 1 minute: sqrt(sum r^2) of the bucket-to-bucket returns of the price path, in bps.';
comment on column kapitaal.run_symbol_state.vol_5m_bps is 'Realised volatility over 5 minutes, in bps.';
comment on column kapitaal.run_symbol_state.trend_strength_5m is 'Signed efficiency ratio over 5 minutes: ret / sum |r|, clamped to [-1, 1]; near ±1 = straight move, near 0 = back and forth.';
comment on column kapitaal.run_symbol_state.price_buckets_5m is 'Number of 10-second buckets with a price (L2 mid, else ticker mid) in the last 5 minutes.';
comment on column kapitaal.run_symbol_state.quote_volume_5m is 'Sum of price * qty of trades in the last 5 minutes (quote currency).';
comment on column kapitaal.run_symbol_state.buy_quote_volume_5m is 'The part of quote_volume_5m whose taker bought.';
comment on column kapitaal.run_symbol_state.l2_checksum_failures_1m is 'L2 samples with checksum_ok = false in the last minute.';
comment on column kapitaal.run_symbol_state.l2_resyncs_5m is 'L2 snapshots (subscribe/resubscribe) in the last 5 minutes; more than one hints at reconnects.';
comment on column kapitaal.run_symbol_state.trade_id_gaps_5m is 'Trade ids missing between the smallest and largest trade id of the last 5 minutes (lost trades).';
comment on column kapitaal.run_symbol_state.regime is 'Effective regime after hysteresis; null while not established (treat as not ready).';
comment on column kapitaal.run_symbol_state.regime_since is 'When the effective regime took effect.';
comment on column kapitaal.run_symbol_state.regime_indicated is 'Regime the data of this refresh indicates (before hysteresis).';
comment on column kapitaal.run_symbol_state.regime_reason is 'Why regime_indicated: the deciding numbers and thresholds.';
comment on column kapitaal.run_symbol_state.regime_candidate is 'A regime other than the effective one that is being confirmed.';
comment on column kapitaal.run_symbol_state.regime_streak is 'Consecutive refreshes regime_candidate has been indicated.';
--! EndIncluded state/run_symbol_state.sql
--! Included state/state_generations.sql
create sequence if not exists kapitaal.state_generation_seq;
comment on sequence kapitaal.state_generation_seq is 'Generation ids of state refreshes (unique across runs).';

create table if not exists kapitaal.state_generations (
  generation_id bigint primary key,
  run_id bigint not null,
  refreshed_at timestamptz not null,
  symbols integer not null,
  symbols_changed integer not null,
  state_digest text not null,
  ticker_rows integer not null,
  trade_rows integer not null,
  l2_rows integer not null,
  l3_rows integer not null,
  duration_ms numeric not null,
  created_at timestamptz not null default clock_timestamp()
);
create index if not exists state_generations_run_idx on kapitaal.state_generations (run_id, generation_id desc);

comment on table kapitaal.state_generations is
  'One row per state refresh: the generation it stamped on run_symbol_state, what it read and a digest of the state '
  'it left. Synced to the decision cluster with the state; execution runs only on the generation it evaluated.';
comment on column kapitaal.state_generations.refreshed_at is 'Effective time of the refresh (p_now, clamped to be non-decreasing per run).';
comment on column kapitaal.state_generations.symbols is 'Rows of run_symbol_state for the run after the refresh (all stamped with this generation).';
comment on column kapitaal.state_generations.symbols_changed is 'Symbols with new raw rows in this refresh.';
comment on column kapitaal.state_generations.state_digest is
  'run_symbol_state__digest(run_id) right after the refresh: md5 over the rows without generation_id/refreshed_at, '
  'so any cluster can check that it holds exactly this state.';
comment on column kapitaal.state_generations.ticker_rows is 'Raw ticker rows read (new since the previous refresh).';
comment on column kapitaal.state_generations.duration_ms is 'Wall time of the refresh inside the database.';
comment on column kapitaal.state_generations.created_at is 'Clock time the generation was recorded.';
--! EndIncluded state/state_generations.sql
--! Included state/state_refresh_watermarks.sql
-- Ingest-only bookkeeping: which raw rows the refresh of a run has already folded in.
create table if not exists kapitaal.state_refresh_watermarks (
  run_id bigint not null,
  table_name text not null check (table_name in ('ticker_samples', 'trade_samples', 'l2_snap_metrics', 'l3_queue_metrics')),
  watermark xid8 not null default '0',
  refreshed_at timestamptz,
  generation_id bigint,
  rows_read bigint not null default 0,
  primary key (run_id, table_name)
);
comment on table kapitaal.state_refresh_watermarks is
  'Per run and raw table: every row with txid below watermark has been folded into the state exactly once. A refresh reads '
  'rows with txid in [watermark, snapshot xmin) and then moves the watermark up. Ingest cluster only.';
comment on column kapitaal.state_refresh_watermarks.watermark is
  'pg_snapshot_xmin of the last refresh''s snapshot: all transactions below it had finished, so their rows were final.';
comment on column kapitaal.state_refresh_watermarks.refreshed_at is 'Effective time of the last refresh (refreshes never move it back).';
comment on column kapitaal.state_refresh_watermarks.generation_id is 'Generation of the last refresh.';
comment on column kapitaal.state_refresh_watermarks.rows_read is 'Raw rows of this table read by all refreshes of the run (each row once).';
--! EndIncluded state/state_refresh_watermarks.sql
--! Included state/state_buckets.sql
-- Ingest-only working set: 10-second aggregates of the raw rows per run and symbol, kept
-- only as long as the longest rolling window (5 minutes) needs them.
create table if not exists kapitaal.state_buckets (
  run_id bigint not null,
  symbol text not null,
  bucket_start timestamptz not null,
  ticker_n integer not null default 0,
  ticker_open numeric[],
  ticker_close numeric[],
  trade_n integer not null default 0,
  trade_quote_volume numeric not null default 0,
  trade_buy_quote_volume numeric not null default 0,
  trade_min_id bigint,
  trade_max_id bigint,
  l2_n integer not null default 0,
  l2_bad_n integer not null default 0,
  l2_snapshot_n integer not null default 0,
  l2_open numeric[],
  l2_close numeric[],
  l3_n integer not null default 0,
  l3_bad_n integer not null default 0,
  l3_touch_adds integer not null default 0,
  l3_touch_deletes integer not null default 0,
  primary key (run_id, symbol, bucket_start)
);
create index if not exists state_buckets_time_idx on kapitaal.state_buckets (run_id, bucket_start);

comment on table kapitaal.state_buckets is
  'Ingest-only: per run, symbol and 10-second bucket (bucket_start = date_bin(10 s, received_at)), the aggregates the '
  'rolling windows need. Each refresh merges the new raw rows in (counts add, open/close keys take least/greatest, so '
  'the order rows arrive in does not matter) and deletes buckets that left the 5-minute window.';
comment on column kapitaal.state_buckets.ticker_open is
  'Earliest ticker row of the bucket as array[epoch(received_at), seq, mid]; arrays compare element-wise, so least() picks the earliest.';
comment on column kapitaal.state_buckets.ticker_close is 'Latest ticker row of the bucket as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.trade_quote_volume is 'Sum of price * qty of the bucket''s trades.';
comment on column kapitaal.state_buckets.trade_min_id is 'Smallest trade_id in the bucket (for trade-id gap detection).';
comment on column kapitaal.state_buckets.l2_bad_n is 'L2 samples with checksum_ok = false.';
comment on column kapitaal.state_buckets.l2_snapshot_n is 'L2 samples that were snapshots (is_snapshot).';
comment on column kapitaal.state_buckets.l2_open is 'Earliest valid L2 sample with both sides as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.l2_close is 'Latest valid L2 sample with both sides as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.l3_touch_adds is 'Sum of touch_adds of the bucket''s L3 samples.';
--! EndIncluded state/state_buckets.sql
--! Included state/state_symbol_latest.sql
-- Ingest-only working set: the newest row of each raw table per run and symbol, reduced
-- to what the state needs. Newer means a larger (received_at, seq) key.
create table if not exists kapitaal.state_symbol_latest (
  run_id bigint not null,
  symbol text not null,
  ticker_key numeric[],
  ticker_at timestamptz,
  ticker_bid numeric,
  ticker_ask numeric,
  trade_key numeric[],
  trade_at timestamptz,
  trade_price numeric,
  l2_key numeric[],
  l2_at timestamptz,
  l2_checksum_ok boolean,
  l2_best_bid numeric,
  l2_best_ask numeric,
  l2_bid_qty numeric,
  l2_ask_qty numeric,
  l2_bid_depth_10bps numeric,
  l2_ask_depth_10bps numeric,
  l2_bid_depth_50bps numeric,
  l2_ask_depth_50bps numeric,
  l3_key numeric[],
  l3_at timestamptz,
  l3_checksum_ok boolean,
  l3_bid_qty numeric,
  l3_bid_orders integer,
  l3_ask_qty numeric,
  l3_ask_orders integer,
  primary key (run_id, symbol)
);
comment on table kapitaal.state_symbol_latest is
  'Ingest-only: per run and symbol, the newest ticker, trade, L2 and L3 row seen so far, reduced to the fields the '
  'state needs. A refresh replaces a source''s fields only when its new row has a larger key, so late commits of older '
  'rows never overwrite newer data.';
comment on column kapitaal.state_symbol_latest.ticker_key is 'array[epoch(received_at), seq] of the newest ticker row.';
comment on column kapitaal.state_symbol_latest.l2_bid_qty is 'Quantity at the best bid of the newest L2 sample.';
comment on column kapitaal.state_symbol_latest.l2_bid_depth_10bps is 'Quote value of bids within 10 bps of the L2 mid.';
comment on column kapitaal.state_symbol_latest.l3_bid_qty is 'Quantity at the best bid of the newest L3 sample.';
--! EndIncluded state/state_symbol_latest.sql
--! Included state/windows.sql
create or replace function kapitaal.state__bucket_width()
returns interval
language sql
immutable
parallel safe
as $$ select interval '10 seconds' $$;
comment on function kapitaal.state__bucket_width() is
  'Width of the state buckets (10 s). The 1-minute window is 6 buckets, the 5-minute window 30, the current bucket included.';

create or replace function kapitaal.state__windows(p_now timestamptz)
returns table (bucket_now timestamptz, from_1m timestamptz, from_5m timestamptz)
language sql
immutable
parallel safe
as $$
  select b, b - interval '1 minute' + kapitaal.state__bucket_width(), b - interval '5 minutes' + kapitaal.state__bucket_width()
    from date_bin(kapitaal.state__bucket_width(), p_now, timestamptz '2000-01-01 00:00:00+00') b
$$;
comment on function kapitaal.state__windows(timestamptz) is
  'Bucket bounds of the rolling windows at p_now: a window holds the buckets with from_Xm <= bucket_start <= bucket_now.';

create or replace function kapitaal.state__max_xid8()
returns xid8
language sql
immutable
parallel safe
as $$ select xid8 '18446744073709551615' $$;
comment on function kapitaal.state__max_xid8() is 'Largest xid8: the upper bound that reads every committed raw row (used by the recomputation).';
--! EndIncluded state/windows.sql
--! Included state/source_ticker.sql
-- Ticker rows → buckets and latest. The same reading functions serve the incremental
-- refresh (a txid range) and the full recomputation (every txid).

create or replace function kapitaal.state__ticker_buckets(p_run_id bigint, p_lo xid8, p_hi xid8, p_from timestamptz)
returns table (symbol text, bucket_start timestamptz, n integer, open_key numeric[], close_key numeric[])
language sql
stable
as $$
  select t.symbol,
         date_bin(kapitaal.state__bucket_width(), t.received_at, timestamptz '2000-01-01 00:00:00+00'),
         count(*)::integer,
         min(array[extract(epoch from t.received_at), t.seq, (t.bid + t.ask) * 0.5]),
         max(array[extract(epoch from t.received_at), t.seq, (t.bid + t.ask) * 0.5])
    from kapitaal.ticker_samples t
   where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi and t.received_at >= p_from
   group by 1, 2
$$;
comment on function kapitaal.state__ticker_buckets(bigint, xid8, xid8, timestamptz) is
  'Ticker rows of a run with txid in [p_lo, p_hi) and received_at >= p_from, aggregated per symbol and 10-second bucket.';

create or replace function kapitaal.state__ticker_latest(p_run_id bigint, p_lo xid8, p_hi xid8)
returns table (symbol text, n integer, key numeric[], at timestamptz, bid numeric, ask numeric)
language sql
stable
as $$
  select x.symbol, x.n, x.k[1:2], x.at, x.k[3], x.k[4]
    from (select t.symbol, count(*)::integer as n, max(t.received_at) as at,
                 max(array[extract(epoch from t.received_at), t.seq, t.bid, t.ask]) as k
            from kapitaal.ticker_samples t
           where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi
           group by t.symbol) x
$$;
comment on function kapitaal.state__ticker_latest(bigint, xid8, xid8) is
  'Per symbol: the number of ticker rows of a run with txid in [p_lo, p_hi) and the newest of them (by received_at, seq).';
--! EndIncluded state/source_ticker.sql
--! Included state/source_trades.sql
-- Trade rows → buckets and latest (see source_ticker.sql).

create or replace function kapitaal.state__trade_buckets(p_run_id bigint, p_lo xid8, p_hi xid8, p_from timestamptz)
returns table (symbol text, bucket_start timestamptz, n integer, quote_volume numeric, buy_quote_volume numeric,
               min_id bigint, max_id bigint)
language sql
stable
as $$
  select t.symbol,
         date_bin(kapitaal.state__bucket_width(), t.received_at, timestamptz '2000-01-01 00:00:00+00'),
         count(*)::integer,
         sum(t.price * t.qty),
         coalesce(sum(t.price * t.qty) filter (where t.side = 'buy'), 0),
         min(t.trade_id),
         max(t.trade_id)
    from kapitaal.trade_samples t
   where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi and t.received_at >= p_from
   group by 1, 2
$$;
comment on function kapitaal.state__trade_buckets(bigint, xid8, xid8, timestamptz) is
  'Trades of a run with txid in [p_lo, p_hi) and received_at >= p_from, aggregated per symbol and 10-second bucket.';

create or replace function kapitaal.state__trade_latest(p_run_id bigint, p_lo xid8, p_hi xid8)
returns table (symbol text, n integer, key numeric[], at timestamptz, price numeric)
language sql
stable
as $$
  select x.symbol, x.n, x.k[1:2], x.at, x.k[3]
    from (select t.symbol, count(*)::integer as n, max(t.received_at) as at,
                 max(array[extract(epoch from t.received_at), t.seq, t.price]) as k
            from kapitaal.trade_samples t
           where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi
           group by t.symbol) x
$$;
comment on function kapitaal.state__trade_latest(bigint, xid8, xid8) is
  'Per symbol: the number of trades of a run with txid in [p_lo, p_hi) and the newest of them.';
--! EndIncluded state/source_trades.sql
--! Included state/source_l2.sql
-- L2 book samples → buckets and latest (see source_ticker.sql).

create or replace function kapitaal.state__l2_buckets(p_run_id bigint, p_lo xid8, p_hi xid8, p_from timestamptz)
returns table (symbol text, bucket_start timestamptz, n integer, bad_n integer, snapshot_n integer,
               open_key numeric[], close_key numeric[])
language sql
stable
as $$
  select t.symbol,
         date_bin(kapitaal.state__bucket_width(), t.received_at, timestamptz '2000-01-01 00:00:00+00'),
         count(*)::integer,
         count(*) filter (where not t.checksum_ok)::integer,
         count(*) filter (where t.is_snapshot)::integer,
         min(array[extract(epoch from t.received_at), t.seq, (t.bid_px[1] + t.ask_px[1]) * 0.5])
           filter (where t.checksum_ok and t.bid_px[1] is not null and t.ask_px[1] is not null),
         max(array[extract(epoch from t.received_at), t.seq, (t.bid_px[1] + t.ask_px[1]) * 0.5])
           filter (where t.checksum_ok and t.bid_px[1] is not null and t.ask_px[1] is not null)
    from kapitaal.l2_snap_metrics t
   where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi and t.received_at >= p_from
   group by 1, 2
$$;
comment on function kapitaal.state__l2_buckets(bigint, xid8, xid8, timestamptz) is
  'L2 samples of a run with txid in [p_lo, p_hi) and received_at >= p_from per symbol and 10-second bucket: counts, '
  'checksum failures, snapshots, and the first/last valid mid.';

create or replace function kapitaal.state__l2_latest(p_run_id bigint, p_lo xid8, p_hi xid8)
returns table (symbol text, n integer, key numeric[], at timestamptz, checksum_ok boolean,
               best_bid numeric, best_ask numeric, bid_qty numeric, ask_qty numeric,
               bid_depth_10bps numeric, ask_depth_10bps numeric, bid_depth_50bps numeric, ask_depth_50bps numeric)
language sql
stable
as $$
  with r as (
    select t.symbol, t.received_at, t.seq, t.checksum_ok, t.bid_px, t.bid_qty, t.ask_px, t.ask_qty,
           count(*) over (partition by t.symbol) as n
      from kapitaal.l2_snap_metrics t
     where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi
  ), newest as (
    select distinct on (r.symbol) r.*
      from r
     order by r.symbol, r.received_at desc, r.seq desc
  )
  select x.symbol, x.n::integer, array[extract(epoch from x.received_at), x.seq], x.received_at, x.checksum_ok,
         x.bid_px[1], x.ask_px[1], x.bid_qty[1], x.ask_qty[1], bd.d10, ad.d10, bd.d50, ad.d50
    from newest x
    cross join lateral (select (x.bid_px[1] + x.ask_px[1]) * 0.5 as mid) m
    cross join lateral (
      select case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px >= m.mid * 0.9990), 0) end as d10,
             case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px >= m.mid * 0.9950), 0) end as d50
        from unnest(x.bid_px, x.bid_qty) as u(px, qty)) bd
    cross join lateral (
      select case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px <= m.mid * 1.0010), 0) end as d10,
             case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px <= m.mid * 1.0050), 0) end as d50
        from unnest(x.ask_px, x.ask_qty) as u(px, qty)) ad
$$;
comment on function kapitaal.state__l2_latest(bigint, xid8, xid8) is
  'Per symbol: the number of L2 samples of a run with txid in [p_lo, p_hi) and the newest of them with its top of book '
  'and depth within 10 and 50 bps of its mid (null depths when a side is empty).';
--! EndIncluded state/source_l2.sql
--! Included state/source_l3.sql
-- L3 queue samples → buckets and latest (see source_ticker.sql).

create or replace function kapitaal.state__l3_buckets(p_run_id bigint, p_lo xid8, p_hi xid8, p_from timestamptz)
returns table (symbol text, bucket_start timestamptz, n integer, bad_n integer, touch_adds integer, touch_deletes integer)
language sql
stable
as $$
  select t.symbol,
         date_bin(kapitaal.state__bucket_width(), t.received_at, timestamptz '2000-01-01 00:00:00+00'),
         count(*)::integer,
         count(*) filter (where not t.checksum_ok)::integer,
         sum(t.touch_adds)::integer,
         sum(t.touch_deletes)::integer
    from kapitaal.l3_queue_metrics t
   where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi and t.received_at >= p_from
   group by 1, 2
$$;
comment on function kapitaal.state__l3_buckets(bigint, xid8, xid8, timestamptz) is
  'L3 samples of a run with txid in [p_lo, p_hi) and received_at >= p_from per symbol and 10-second bucket: counts, '
  'checksum failures and order flow at the touch.';

create or replace function kapitaal.state__l3_latest(p_run_id bigint, p_lo xid8, p_hi xid8)
returns table (symbol text, n integer, key numeric[], at timestamptz, checksum_ok boolean,
               bid_qty numeric, bid_orders integer, ask_qty numeric, ask_orders integer)
language sql
stable
as $$
  select x.symbol, x.n, x.k[1:2], x.at, x.k[3] = 1, x.k[4], x.k[5]::integer, x.k[6], x.k[7]::integer
    from (select t.symbol, count(*)::integer as n, max(t.received_at) as at,
                 max(array[extract(epoch from t.received_at), t.seq, t.checksum_ok::integer,
                           t.bid_qty[1], t.bid_orders[1], t.ask_qty[1], t.ask_orders[1]]) as k
            from kapitaal.l3_queue_metrics t
           where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi
           group by t.symbol) x
$$;
comment on function kapitaal.state__l3_latest(bigint, xid8, xid8) is
  'Per symbol: the number of L3 samples of a run with txid in [p_lo, p_hi) and the touch queue of the newest one.';
--! EndIncluded state/source_l3.sql
--! Included state/from_raw.sql
-- All four raw tables of a run combined per (symbol, bucket) and per symbol, for rows with
-- txid in [p_lo_<table>, p_hi). The incremental refresh passes its watermarks; the
-- recomputation passes 0 and the largest xid8 (every committed row).

create or replace function kapitaal.state__buckets_between(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8, p_from timestamptz
)
returns setof kapitaal.state_buckets
language sql
stable
as $$
  with t as (select * from kapitaal.state__ticker_buckets(p_run_id, p_lo_ticker, p_hi, p_from)),
       d as (select * from kapitaal.state__trade_buckets(p_run_id, p_lo_trade, p_hi, p_from)),
       b2 as (select * from kapitaal.state__l2_buckets(p_run_id, p_lo_l2, p_hi, p_from)),
       b3 as (select * from kapitaal.state__l3_buckets(p_run_id, p_lo_l3, p_hi, p_from)),
       k as (select symbol, bucket_start from t union select symbol, bucket_start from d
             union select symbol, bucket_start from b2 union select symbol, bucket_start from b3)
  select p_run_id, k.symbol, k.bucket_start,
         coalesce(t.n, 0), t.open_key, t.close_key,
         coalesce(d.n, 0), coalesce(d.quote_volume, 0), coalesce(d.buy_quote_volume, 0), d.min_id, d.max_id,
         coalesce(b2.n, 0), coalesce(b2.bad_n, 0), coalesce(b2.snapshot_n, 0), b2.open_key, b2.close_key,
         coalesce(b3.n, 0), coalesce(b3.bad_n, 0), coalesce(b3.touch_adds, 0), coalesce(b3.touch_deletes, 0)
    from k
    left join t using (symbol, bucket_start)
    left join d using (symbol, bucket_start)
    left join b2 using (symbol, bucket_start)
    left join b3 using (symbol, bucket_start)
$$;
comment on function kapitaal.state__buckets_between(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) is
  'state_buckets rows (one per symbol and 10-second bucket) aggregated from the raw rows of a run with txid in '
  '[p_lo_<table>, p_hi) and received_at >= p_from.';

create or replace function kapitaal.state__latest_between(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8
)
returns table (latest kapitaal.state_symbol_latest, ticker_n integer, trade_n integer, l2_n integer, l3_n integer)
language sql
stable
as $$
  with t as (select * from kapitaal.state__ticker_latest(p_run_id, p_lo_ticker, p_hi)),
       d as (select * from kapitaal.state__trade_latest(p_run_id, p_lo_trade, p_hi)),
       b2 as (select * from kapitaal.state__l2_latest(p_run_id, p_lo_l2, p_hi)),
       b3 as (select * from kapitaal.state__l3_latest(p_run_id, p_lo_l3, p_hi)),
       k as (select symbol from t union select symbol from d union select symbol from b2 union select symbol from b3)
  select row(p_run_id, k.symbol,
             t.key, t.at, t.bid, t.ask,
             d.key, d.at, d.price,
             b2.key, b2.at, b2.checksum_ok, b2.best_bid, b2.best_ask, b2.bid_qty, b2.ask_qty,
             b2.bid_depth_10bps, b2.ask_depth_10bps, b2.bid_depth_50bps, b2.ask_depth_50bps,
             b3.key, b3.at, b3.checksum_ok, b3.bid_qty, b3.bid_orders, b3.ask_qty, b3.ask_orders)::kapitaal.state_symbol_latest,
         coalesce(t.n, 0), coalesce(d.n, 0), coalesce(b2.n, 0), coalesce(b3.n, 0)
    from k
    left join t using (symbol)
    left join d using (symbol)
    left join b2 using (symbol)
    left join b3 using (symbol)
$$;
comment on function kapitaal.state__latest_between(bigint, xid8, xid8, xid8, xid8, xid8) is
  'Per symbol: the newest ticker, trade, L2 and L3 row of a run with txid in [p_lo_<table>, p_hi) as a '
  'state_symbol_latest row, and how many rows of each table there were.';
--! EndIncluded state/from_raw.sql
--! Included state/merge.sql
-- Folds a txid range of raw rows into the working set in one statement: one upsert per
-- touched bucket and one per touched symbol, whatever the number of raw tables involved.
create or replace function kapitaal.state__merge(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8, p_from timestamptz
)
returns table (ticker_rows integer, trade_rows integer, l2_rows integer, l3_rows integer, symbols_changed integer)
language sql
volatile
as $$
  with lat as materialized (
    select (x.latest).*, x.ticker_n, x.trade_n, x.l2_n, x.l3_n
      from kapitaal.state__latest_between(p_run_id, p_lo_ticker, p_lo_trade, p_lo_l2, p_lo_l3, p_hi) x
  ), merged_latest as (
    insert into kapitaal.state_symbol_latest as l
    select run_id, symbol, ticker_key, ticker_at, ticker_bid, ticker_ask, trade_key, trade_at, trade_price,
           l2_key, l2_at, l2_checksum_ok, l2_best_bid, l2_best_ask, l2_bid_qty, l2_ask_qty,
           l2_bid_depth_10bps, l2_ask_depth_10bps, l2_bid_depth_50bps, l2_ask_depth_50bps,
           l3_key, l3_at, l3_checksum_ok, l3_bid_qty, l3_bid_orders, l3_ask_qty, l3_ask_orders
      from lat
    on conflict (run_id, symbol) do update set
      -- per source: the new row wins only when its (received_at, seq) key is larger
      ticker_key = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_key else l.ticker_key end,
      ticker_at  = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_at else l.ticker_at end,
      ticker_bid = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_bid else l.ticker_bid end,
      ticker_ask = case when excluded.ticker_key > coalesce(l.ticker_key, '{}') then excluded.ticker_ask else l.ticker_ask end,
      trade_key   = case when excluded.trade_key > coalesce(l.trade_key, '{}') then excluded.trade_key else l.trade_key end,
      trade_at    = case when excluded.trade_key > coalesce(l.trade_key, '{}') then excluded.trade_at else l.trade_at end,
      trade_price = case when excluded.trade_key > coalesce(l.trade_key, '{}') then excluded.trade_price else l.trade_price end,
      l2_key         = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_key else l.l2_key end,
      l2_at          = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_at else l.l2_at end,
      l2_checksum_ok = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_checksum_ok else l.l2_checksum_ok end,
      l2_best_bid    = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_best_bid else l.l2_best_bid end,
      l2_best_ask    = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_best_ask else l.l2_best_ask end,
      l2_bid_qty     = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_bid_qty else l.l2_bid_qty end,
      l2_ask_qty     = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_ask_qty else l.l2_ask_qty end,
      l2_bid_depth_10bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_bid_depth_10bps else l.l2_bid_depth_10bps end,
      l2_ask_depth_10bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_ask_depth_10bps else l.l2_ask_depth_10bps end,
      l2_bid_depth_50bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_bid_depth_50bps else l.l2_bid_depth_50bps end,
      l2_ask_depth_50bps = case when excluded.l2_key > coalesce(l.l2_key, '{}') then excluded.l2_ask_depth_50bps else l.l2_ask_depth_50bps end,
      l3_key         = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_key else l.l3_key end,
      l3_at          = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_at else l.l3_at end,
      l3_checksum_ok = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_checksum_ok else l.l3_checksum_ok end,
      l3_bid_qty     = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_bid_qty else l.l3_bid_qty end,
      l3_bid_orders  = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_bid_orders else l.l3_bid_orders end,
      l3_ask_qty     = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_ask_qty else l.l3_ask_qty end,
      l3_ask_orders  = case when excluded.l3_key > coalesce(l.l3_key, '{}') then excluded.l3_ask_orders else l.l3_ask_orders end
    returning 1
  ), merged_buckets as (
    insert into kapitaal.state_buckets as b
    select * from kapitaal.state__buckets_between(p_run_id, p_lo_ticker, p_lo_trade, p_lo_l2, p_lo_l3, p_hi, p_from)
    on conflict (run_id, symbol, bucket_start) do update set
      -- counts add up; first/last keys take least/greatest: the order batches arrive in does not matter
      ticker_n = b.ticker_n + excluded.ticker_n,
      ticker_open = least(b.ticker_open, excluded.ticker_open),
      ticker_close = greatest(b.ticker_close, excluded.ticker_close),
      trade_n = b.trade_n + excluded.trade_n,
      trade_quote_volume = b.trade_quote_volume + excluded.trade_quote_volume,
      trade_buy_quote_volume = b.trade_buy_quote_volume + excluded.trade_buy_quote_volume,
      trade_min_id = least(b.trade_min_id, excluded.trade_min_id),
      trade_max_id = greatest(b.trade_max_id, excluded.trade_max_id),
      l2_n = b.l2_n + excluded.l2_n,
      l2_bad_n = b.l2_bad_n + excluded.l2_bad_n,
      l2_snapshot_n = b.l2_snapshot_n + excluded.l2_snapshot_n,
      l2_open = least(b.l2_open, excluded.l2_open),
      l2_close = greatest(b.l2_close, excluded.l2_close),
      l3_n = b.l3_n + excluded.l3_n,
      l3_bad_n = b.l3_bad_n + excluded.l3_bad_n,
      l3_touch_adds = b.l3_touch_adds + excluded.l3_touch_adds,
      l3_touch_deletes = b.l3_touch_deletes + excluded.l3_touch_deletes
    returning 1
  )
  select coalesce(sum(x.ticker_n), 0)::integer, coalesce(sum(x.trade_n), 0)::integer,
         coalesce(sum(x.l2_n), 0)::integer, coalesce(sum(x.l3_n), 0)::integer, count(*)::integer
    from lat x
$$;
comment on function kapitaal.state__merge(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) is
  'Folds the raw rows of a run with txid in [p_lo_<table>, p_hi) into state_symbol_latest (newest row per source wins '
  'by (received_at, seq)) and state_buckets (rows at or after p_from). Returns the rows read per table and the number '
  'of symbols they touched.';
--! EndIncluded state/merge.sql
--! Included state/compose.sql
-- Builds the metric columns of run_symbol_state for a run from its working set: the newest
-- rows (state_symbol_latest) and the buckets of the rolling windows (state_buckets), in one
-- pass over the window's buckets in (symbol, bucket_start) order.

create or replace function kapitaal.state__compose(p_run_id bigint, p_now timestamptz)
returns setof kapitaal.run_symbol_state
language sql
stable
as $$
  with bounds as materialized (
    select * from kapitaal.state__windows(p_now)
  ), b as (
    select s.symbol, s.bucket_start, s.bucket_start >= bo.from_1m as in_1m,
           s.trade_n, s.trade_quote_volume, s.trade_buy_quote_volume, s.trade_min_id, s.trade_max_id,
           s.l2_bad_n, s.l2_snapshot_n, s.l3_bad_n, s.l3_touch_adds + s.l3_touch_deletes as touch,
           -- the price path: first and last mid of the bucket, from valid L2 books, else from the ticker
           nullif(case when s.l2_close is not null then s.l2_open[3] else s.ticker_open[3] end, 0) as p_open,
           nullif(case when s.l2_close is not null then s.l2_close[3] else s.ticker_close[3] end, 0) as p_close
      from bounds bo
      join kapitaal.state_buckets s
        on s.run_id = p_run_id and s.bucket_start >= bo.from_5m and s.bucket_start <= bo.bucket_now
  ), wdw as (
    select b.*,
           lag(b.p_close) over win as prev_close,
           lag(b.bucket_start) over win as prev_start,
           count(b.p_close) over win as n_upto,
           count(b.p_close) filter (where b.in_1m) over win as n1_upto,
           count(b.p_close) over (partition by b.symbol) as n_all
      from b
    window win as (partition by b.symbol order by b.bucket_start)
  ), r as (
    -- Return of a priced bucket: from the previous bucket's close, or from its own open when
    -- it is the first bucket of the window or follows a bucket without a price.
    select w.*,
           case when w.p_close is not null then coalesce(w.p_close / w.prev_close, w.p_close / w.p_open) - 1 end as r5,
           case when w.p_close is not null and w.in_1m then
             coalesce(case when w.prev_start >= (select from_1m from bounds) then w.p_close / w.prev_close end,
                      w.p_close / w.p_open) - 1
           end as r1
      from wdw w
  ), ag as (
    select r.symbol,
           count(r.p_close)::integer as n5,
           max(r.p_open) filter (where r.p_close is not null and r.n_upto = 1) as open5,
           max(r.p_open) filter (where r.p_close is not null and r.in_1m and r.n1_upto = 1) as open1,
           max(r.p_close) filter (where r.p_close is not null and r.n_upto = r.n_all) as close_last,
           bool_or(r.p_close is not null and r.in_1m) as priced_1m,
           sum(r.r5 * r.r5) as ss5,
           sum(abs(r.r5)) as sa5,
           sum(r.r1 * r.r1) as ss1,
           coalesce(sum(r.trade_n) filter (where r.in_1m), 0)::integer as trades_1m,
           sum(r.trade_n)::integer as trades_5m,
           coalesce(sum(r.trade_quote_volume) filter (where r.in_1m), 0) as qv_1m,
           sum(r.trade_quote_volume) as qv_5m,
           sum(r.trade_buy_quote_volume) as buy_qv_5m,
           min(r.trade_min_id) as min_id,
           max(r.trade_max_id) as max_id,
           coalesce(sum(r.l2_bad_n) filter (where r.in_1m), 0)::integer as l2_bad_1m,
           sum(r.l2_bad_n)::integer as l2_bad_5m,
           sum(r.l2_snapshot_n)::integer as l2_snap_5m,
           coalesce(sum(r.l3_bad_n) filter (where r.in_1m), 0)::integer as l3_bad_1m,
           coalesce(sum(r.touch) filter (where r.in_1m), 0)::integer as touch_churn_1m
      from r
     group by r.symbol
  ), q as (
    select l.*,
           l.l2_best_bid is not null and l.l2_best_ask is not null as has_l2,
           case when l.l2_best_bid is not null and l.l2_best_ask is not null then l.l2_best_bid else l.ticker_bid end as bid,
           case when l.l2_best_bid is not null and l.l2_best_ask is not null then l.l2_best_ask else l.ticker_ask end as ask
      from kapitaal.state_symbol_latest l
     where l.run_id = p_run_id
  )
  select p_run_id, q.symbol, null::bigint, null::timestamptz,
         q.ticker_at, q.trade_at, q.l2_at, q.l3_at,
         case when q.has_l2 then 'l2' when q.bid is not null and q.ask is not null then 'ticker' end,
         q.bid, q.ask, (q.bid + q.ask) * 0.5,
         round((q.ask - q.bid) / nullif((q.bid + q.ask) * 0.5, 0) * 10000, 4),
         round((q.l2_best_bid * q.l2_ask_qty + q.l2_best_ask * q.l2_bid_qty) / nullif(q.l2_bid_qty + q.l2_ask_qty, 0), 12),
         q.l2_bid_depth_10bps, q.l2_ask_depth_10bps, q.l2_bid_depth_50bps, q.l2_ask_depth_50bps,
         round((q.l2_bid_depth_50bps - q.l2_ask_depth_50bps) / nullif(q.l2_bid_depth_50bps + q.l2_ask_depth_50bps, 0), 6),
         q.l2_checksum_ok,
         q.trade_price,
         q.l3_bid_qty, q.l3_bid_orders, q.l3_ask_qty, q.l3_ask_orders, q.l3_checksum_ok,
         coalesce(ag.touch_churn_1m, 0),
         case when ag.priced_1m then round((ag.close_last / ag.open1 - 1) * 10000, 4) end,
         round((ag.close_last / ag.open5 - 1) * 10000, 4),
         round(sqrt(ag.ss1) * 10000, 4),
         round(sqrt(ag.ss5) * 10000, 4),
         case when ag.sa5 > 0 then round(greatest(-1, least(1, (ag.close_last / ag.open5 - 1) / ag.sa5)), 4)
              when ag.n5 > 0 then 0 end,
         coalesce(ag.n5, 0),
         coalesce(ag.trades_1m, 0), coalesce(ag.trades_5m, 0),
         coalesce(ag.qv_1m, 0), coalesce(ag.qv_5m, 0), coalesce(ag.buy_qv_5m, 0),
         coalesce(ag.l2_bad_1m, 0), coalesce(ag.l2_bad_5m, 0), coalesce(ag.l3_bad_1m, 0), coalesce(ag.l2_snap_5m, 0),
         coalesce(greatest(0, ag.max_id - ag.min_id + 1 - ag.trades_5m), 0)::integer,
         null::text, null::timestamptz, null::text, null::text, null::text, 0
    from q
    left join ag on ag.symbol = q.symbol
$$;
comment on function kapitaal.state__compose(bigint, timestamptz) is
  'The metric columns of run_symbol_state for every symbol of a run at p_now (generation and regime columns null), '
  'from state_symbol_latest and the state_buckets inside the windows (see state__windows). Cost: O(symbols + buckets '
  'in the 5-minute window).';
--! EndIncluded state/compose.sql
--! Included state/regime.sql
-- Regime per pair: what the data of one refresh indicates, and the hysteresis that turns
-- indications into the effective regime.

create or replace function kapitaal.regime__indicate(
  p_state kapitaal.run_symbol_state,
  p_current text,
  p_policy kapitaal.regime_policy,
  p_now timestamptz
)
returns table (regime text, reason text)
language plpgsql
immutable
as $$
declare
  -- thresholds that keep the current regime are relaxed by the exit margin (hysteresis band)
  v_keep numeric := 1 - p_policy.exit_margin;
  v_age interval := p_now - greatest(p_state.last_l2_at, p_state.last_ticker_at);
  v_f numeric;
  v_min_depth numeric := least(p_state.bid_depth_50bps_quote, p_state.ask_depth_50bps_quote);
begin
  -- CHAOS: missing, stale or corrupt data first; a confident regime needs trustworthy data.
  if p_state.mid is null then
    return query select 'CHAOS', 'NO_BOOK: no L2 book or ticker quote';
    return;
  end if;
  if p_state.last_l2_at is null or p_state.book_source is distinct from 'l2' then
    return query select 'CHAOS', 'NO_L2_BOOK: depth and spread unknown without a two-sided L2 book';
    return;
  end if;
  if p_state.book_valid is not true then
    return query select 'CHAOS', 'BOOK_INVALID: newest L2 sample failed its checksum';
    return;
  end if;
  if v_age > p_policy.chaos_max_data_age then
    return query select 'CHAOS', format('DATA_STALE: newest L2/ticker data %s old > %s', v_age, p_policy.chaos_max_data_age);
    return;
  end if;
  if p_state.l2_checksum_failures_1m + p_state.l3_checksum_failures_1m >= p_policy.chaos_checksum_failures_1m then
    return query select 'CHAOS', format('CHECKSUM_FAILURES: %s L2 + %s L3 checksum failures in 1 m >= %s',
      p_state.l2_checksum_failures_1m, p_state.l3_checksum_failures_1m, p_policy.chaos_checksum_failures_1m);
    return;
  end if;
  if p_state.trade_id_gaps_5m >= p_policy.chaos_trade_id_gaps_5m then
    return query select 'CHAOS', format('TRADE_GAPS: %s trade ids missing in 5 m >= %s',
      p_state.trade_id_gaps_5m, p_policy.chaos_trade_id_gaps_5m);
    return;
  end if;
  if p_state.price_buckets_5m < p_policy.min_price_buckets_5m then
    return query select 'CHAOS', format('INSUFFICIENT_HISTORY: %s price buckets in 5 m < %s',
      p_state.price_buckets_5m, p_policy.min_price_buckets_5m);
    return;
  end if;
  v_f := case when p_current = 'CHAOS' then v_keep else 1 end;
  if p_state.vol_1m_bps >= p_policy.chaos_vol_1m_bps * v_f then
    return query select 'CHAOS', format('EXTREME_VOLATILITY: vol_1m %s bps >= %s', p_state.vol_1m_bps,
      round(p_policy.chaos_vol_1m_bps * v_f, 4));
    return;
  end if;

  -- LOW_LIQUIDITY
  v_f := case when p_current = 'LOW_LIQUIDITY' then v_keep else 1 end;
  if p_state.spread_bps >= p_policy.low_liq_max_spread_bps * v_f then
    return query select 'LOW_LIQUIDITY', format('WIDE_SPREAD: spread %s bps >= %s', p_state.spread_bps,
      round(p_policy.low_liq_max_spread_bps * v_f, 4));
    return;
  end if;
  if coalesce(v_min_depth, 0) < p_policy.low_liq_min_depth_50bps_quote / v_f then
    return query select 'LOW_LIQUIDITY', format('THIN_BOOK: thinner side %s quote within 50 bps < %s',
      coalesce(v_min_depth, 0), round(p_policy.low_liq_min_depth_50bps_quote / v_f, 4));
    return;
  end if;
  if p_state.trades_5m < p_policy.low_liq_min_trades_5m / v_f then
    return query select 'LOW_LIQUIDITY', format('FEW_TRADES: %s trades in 5 m < %s', p_state.trades_5m,
      round(p_policy.low_liq_min_trades_5m / v_f, 4));
    return;
  end if;

  -- HIGH_VOLATILITY
  v_f := case when p_current = 'HIGH_VOLATILITY' then v_keep else 1 end;
  if p_state.vol_5m_bps >= p_policy.high_vol_vol_5m_bps * v_f then
    return query select 'HIGH_VOLATILITY', format('vol_5m %s bps >= %s', p_state.vol_5m_bps,
      round(p_policy.high_vol_vol_5m_bps * v_f, 4));
    return;
  end if;

  -- TREND
  v_f := case when p_current = 'TREND' then v_keep else 1 end;
  if abs(p_state.trend_strength_5m) >= p_policy.trend_min_strength * v_f
     and abs(p_state.ret_5m_bps) >= p_policy.trend_min_abs_ret_5m_bps * v_f then
    return query select 'TREND', format('trend_strength_5m %s (|.| >= %s), ret_5m %s bps (|.| >= %s)',
      p_state.trend_strength_5m, round(p_policy.trend_min_strength * v_f, 4),
      p_state.ret_5m_bps, round(p_policy.trend_min_abs_ret_5m_bps * v_f, 4));
    return;
  end if;

  return query select 'RANGE', format('vol_5m %s bps, trend_strength_5m %s, ret_5m %s bps, spread %s bps',
    p_state.vol_5m_bps, p_state.trend_strength_5m, p_state.ret_5m_bps, p_state.spread_bps);
end
$$;
comment on function kapitaal.regime__indicate(kapitaal.run_symbol_state, text, kapitaal.regime_policy, timestamptz) is
  'The regime one refresh''s numbers indicate, with the reason: CHAOS for missing, stale or corrupt data, too little '
  'history or extreme volatility; then LOW_LIQUIDITY, HIGH_VOLATILITY, TREND, else RANGE. Thresholds come from '
  'regime_policy; those that keep p_current (the effective regime) are relaxed by exit_margin.';

create or replace function kapitaal.regime__step(
  p_regime text,
  p_since timestamptz,
  p_candidate text,
  p_streak integer,
  p_indicated text,
  p_policy kapitaal.regime_policy,
  p_now timestamptz
)
returns table (regime text, since timestamptz, candidate text, streak integer)
language sql
immutable
as $$
  select case when s.switch then p_indicated else p_regime end,
         case when s.switch then p_now else p_since end,
         case when s.switch or p_indicated is not distinct from p_regime then null else p_indicated end,
         case when s.switch or p_indicated is not distinct from p_regime then 0 else s.streak end
    from (
      select n.streak,
             p_indicated is distinct from p_regime
               and (p_indicated = any (p_policy.immediate_regimes) or n.streak >= p_policy.confirm_refreshes) as switch
        from (select case when p_indicated is not distinct from p_candidate then coalesce(p_streak, 0) + 1 else 1 end as streak) n
    ) s
$$;
comment on function kapitaal.regime__step(text, timestamptz, text, integer, text, kapitaal.regime_policy, timestamptz) is
  'Hysteresis: the effective regime changes to the indicated one only after confirm_refreshes consecutive indications '
  '(immediately for immediate_regimes such as CHAOS). Returns the new effective regime, since when, and the candidate '
  'being confirmed with its streak.';
--! EndIncluded state/regime.sql
--! Included state/digest.sql
create or replace function kapitaal.run_symbol_state__digest(p_run_id bigint)
returns text
language sql
stable
as $$
  select md5(coalesce(string_agg((to_jsonb(s) - 'generation_id' - 'refreshed_at')::text, E'\n' order by s.symbol), ''))
    from kapitaal.run_symbol_state s
   where s.run_id = p_run_id
$$;
comment on function kapitaal.run_symbol_state__digest(bigint) is
  'md5 over the run''s run_symbol_state rows in symbol order, as jsonb without generation_id and refreshed_at. '
  'Equal digests mean equal state; state_generations records it per refresh so the decision cluster can verify a sync.';
--! EndIncluded state/digest.sql
--! Included state/refresh_run_symbol_state.sql
-- The incremental refresh: fold the raw rows committed since the previous refresh into
-- the working set, rebuild the run's state, stamp one generation on it.
create or replace function kapitaal.refresh_run_symbol_state(p_run_id bigint, p_now timestamptz default now())
returns table (
  generation_id bigint,
  run_id bigint,
  refreshed_at timestamptz,
  ticker_rows integer,
  trade_rows integer,
  l2_rows integer,
  l3_rows integer,
  rows_read integer,
  symbols integer,
  symbols_changed integer,
  buckets_deleted integer,
  watermark_from xid8,
  watermark_to xid8,
  state_digest text,
  duration_ms numeric
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
set work_mem = '64MB'
as $$
#variable_conflict use_column
declare
  v_t0 timestamptz := clock_timestamp();
  v_status text;
  v_lo_ticker xid8; v_lo_trade xid8; v_lo_l2 xid8; v_lo_l3 xid8;
  v_prev_now timestamptz;
  v_hi xid8;
  v_now timestamptz;
  v_from timestamptz;
  v_gen bigint;
  v_policy kapitaal.regime_policy;
begin
  if current_setting('transaction_isolation') <> 'read committed' then
    -- Under REPEATABLE READ the snapshot predates the lock below, so the watermarks read
    -- after waiting could be stale and rows would be folded in twice.
    raise exception 'refresh_run_symbol_state must run in a READ COMMITTED transaction (got %)',
      current_setting('transaction_isolation') using errcode = '25000';
  end if;
  select r.status into v_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  if not found then
    raise exception 'refresh_run_symbol_state: no ingest run %', p_run_id using errcode = 'P0002';
  end if;

  -- One refresh of a run at a time; a second one waits here and then starts from the
  -- watermarks the first committed.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.refresh_run_symbol_state', p_run_id));

  insert into kapitaal.state_refresh_watermarks (run_id, table_name)
  select p_run_id, t from unnest(kapitaal.raw_tables()) t
  on conflict do nothing;
  select max(w.watermark) filter (where w.table_name = 'ticker_samples'),
         max(w.watermark) filter (where w.table_name = 'trade_samples'),
         max(w.watermark) filter (where w.table_name = 'l2_snap_metrics'),
         max(w.watermark) filter (where w.table_name = 'l3_queue_metrics'),
         max(w.refreshed_at)
    into v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3, v_prev_now
    from kapitaal.state_refresh_watermarks w
   where w.run_id = p_run_id;

  -- Every transaction below the snapshot xmin has finished: its rows are final and visible
  -- to every later statement. Rows of transactions still running stay for the next refresh.
  v_hi := kapitaal.raw_txid_horizon();
  v_now := greatest(p_now, v_prev_now);
  v_from := (select w.from_5m from kapitaal.state__windows(v_now) w);
  v_gen := nextval('kapitaal.state_generation_seq');
  select * into v_policy from kapitaal.regime_policy where policy = 'default';

  select m.ticker_rows, m.trade_rows, m.l2_rows, m.l3_rows, m.symbols_changed
    into ticker_rows, trade_rows, l2_rows, l3_rows, symbols_changed
    from kapitaal.state__merge(p_run_id, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3,
                               greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3), v_from) m;

  -- Buckets that left the longest window are never read again.
  delete from kapitaal.state_buckets b where b.run_id = p_run_id and b.bucket_start < v_from;
  get diagnostics buckets_deleted = row_count;

  insert into kapitaal.run_symbol_state as s
  select c.run_id, c.symbol, v_gen, v_now,
         c.last_ticker_at, c.last_trade_at, c.last_l2_at, c.last_l3_at,
         c.book_source, c.best_bid, c.best_ask, c.mid, c.spread_bps, c.microprice,
         c.bid_depth_10bps_quote, c.ask_depth_10bps_quote, c.bid_depth_50bps_quote, c.ask_depth_50bps_quote,
         c.book_imbalance, c.book_valid, c.last_trade_price,
         c.l3_bid_touch_qty, c.l3_bid_touch_orders, c.l3_ask_touch_qty, c.l3_ask_touch_orders, c.l3_valid,
         c.l3_touch_churn_1m,
         c.ret_1m_bps, c.ret_5m_bps, c.vol_1m_bps, c.vol_5m_bps, c.trend_strength_5m, c.price_buckets_5m,
         c.trades_1m, c.trades_5m, c.quote_volume_1m, c.quote_volume_5m, c.buy_quote_volume_5m,
         c.l2_checksum_failures_1m, c.l2_checksum_failures_5m, c.l3_checksum_failures_1m, c.l2_resyncs_5m,
         c.trade_id_gaps_5m,
         st.regime, st.since, ind.regime, ind.reason, st.candidate, st.streak
    from kapitaal.state__compose(p_run_id, v_now) c
    left join kapitaal.run_symbol_state p on p.run_id = p_run_id and p.symbol = c.symbol
    cross join lateral kapitaal.regime__indicate(c, p.regime, v_policy, v_now) ind
    cross join lateral kapitaal.regime__step(p.regime, p.regime_since, p.regime_candidate, p.regime_streak,
                                             ind.regime, v_policy, v_now) st
  on conflict (run_id, symbol) do update set
    generation_id = excluded.generation_id, refreshed_at = excluded.refreshed_at,
    last_ticker_at = excluded.last_ticker_at, last_trade_at = excluded.last_trade_at,
    last_l2_at = excluded.last_l2_at, last_l3_at = excluded.last_l3_at,
    book_source = excluded.book_source, best_bid = excluded.best_bid, best_ask = excluded.best_ask,
    mid = excluded.mid, spread_bps = excluded.spread_bps, microprice = excluded.microprice,
    bid_depth_10bps_quote = excluded.bid_depth_10bps_quote, ask_depth_10bps_quote = excluded.ask_depth_10bps_quote,
    bid_depth_50bps_quote = excluded.bid_depth_50bps_quote, ask_depth_50bps_quote = excluded.ask_depth_50bps_quote,
    book_imbalance = excluded.book_imbalance, book_valid = excluded.book_valid,
    last_trade_price = excluded.last_trade_price,
    l3_bid_touch_qty = excluded.l3_bid_touch_qty, l3_bid_touch_orders = excluded.l3_bid_touch_orders,
    l3_ask_touch_qty = excluded.l3_ask_touch_qty, l3_ask_touch_orders = excluded.l3_ask_touch_orders,
    l3_valid = excluded.l3_valid, l3_touch_churn_1m = excluded.l3_touch_churn_1m,
    ret_1m_bps = excluded.ret_1m_bps, ret_5m_bps = excluded.ret_5m_bps,
    vol_1m_bps = excluded.vol_1m_bps, vol_5m_bps = excluded.vol_5m_bps,
    trend_strength_5m = excluded.trend_strength_5m, price_buckets_5m = excluded.price_buckets_5m,
    trades_1m = excluded.trades_1m, trades_5m = excluded.trades_5m,
    quote_volume_1m = excluded.quote_volume_1m, quote_volume_5m = excluded.quote_volume_5m,
    buy_quote_volume_5m = excluded.buy_quote_volume_5m,
    l2_checksum_failures_1m = excluded.l2_checksum_failures_1m, l2_checksum_failures_5m = excluded.l2_checksum_failures_5m,
    l3_checksum_failures_1m = excluded.l3_checksum_failures_1m, l2_resyncs_5m = excluded.l2_resyncs_5m,
    trade_id_gaps_5m = excluded.trade_id_gaps_5m,
    regime = excluded.regime, regime_since = excluded.regime_since, regime_indicated = excluded.regime_indicated,
    regime_reason = excluded.regime_reason, regime_candidate = excluded.regime_candidate,
    regime_streak = excluded.regime_streak;
  get diagnostics symbols = row_count;

  generation_id := v_gen;
  run_id := p_run_id;
  refreshed_at := v_now;
  rows_read := ticker_rows + trade_rows + l2_rows + l3_rows;
  watermark_from := least(v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3);
  watermark_to := greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3);
  state_digest := kapitaal.run_symbol_state__digest(p_run_id);

  update kapitaal.state_refresh_watermarks w
     set watermark = greatest(w.watermark, v_hi), refreshed_at = v_now, generation_id = v_gen,
         rows_read = w.rows_read + case w.table_name when 'ticker_samples' then ticker_rows
                                                     when 'trade_samples' then trade_rows
                                                     when 'l2_snap_metrics' then l2_rows
                                                     else l3_rows end
   where w.run_id = p_run_id;

  duration_ms := round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3);
  insert into kapitaal.state_generations
    (generation_id, run_id, refreshed_at, symbols, symbols_changed, state_digest,
     ticker_rows, trade_rows, l2_rows, l3_rows, duration_ms)
  values (v_gen, p_run_id, v_now, symbols, symbols_changed, state_digest,
          ticker_rows, trade_rows, l2_rows, l3_rows, duration_ms);
  return next;
end
$$;
comment on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) is
  'Incremental refresh of one run''s run_symbol_state. Serialised per run (advisory lock); reads exactly the raw rows '
  'with txid in [watermark, snapshot xmin) per table, so a row is folded in once, after its transaction finished, '
  'however late it commits. Cost: O(new rows + buckets in the 5-minute window + symbols). Rewrites all rows of the run '
  'with a new generation_id, records the generation in state_generations and returns the outcome. Effective time is '
  'greatest(p_now, previous refresh time). Must run in READ COMMITTED.';
--! EndIncluded state/refresh_run_symbol_state.sql
--! Included state/recompute.sql
create or replace function kapitaal.run_symbol_state__recompute(p_run_id bigint, p_now timestamptz default now())
returns setof kapitaal.run_symbol_state
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_scratch bigint := -p_run_id;
begin
  -- The working set is rebuilt from every committed raw row in one batch under a scratch
  -- key (the negated run id), composed with the same code as the refresh, and removed.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.run_symbol_state__recompute', p_run_id));
  delete from state_buckets where run_id = v_scratch;
  delete from state_symbol_latest where run_id = v_scratch;
  insert into state_symbol_latest
  select v_scratch, (x.latest).symbol, (x.latest).ticker_key, (x.latest).ticker_at, (x.latest).ticker_bid,
         (x.latest).ticker_ask, (x.latest).trade_key, (x.latest).trade_at, (x.latest).trade_price,
         (x.latest).l2_key, (x.latest).l2_at, (x.latest).l2_checksum_ok, (x.latest).l2_best_bid, (x.latest).l2_best_ask,
         (x.latest).l2_bid_qty, (x.latest).l2_ask_qty, (x.latest).l2_bid_depth_10bps, (x.latest).l2_ask_depth_10bps,
         (x.latest).l2_bid_depth_50bps, (x.latest).l2_ask_depth_50bps, (x.latest).l3_key, (x.latest).l3_at,
         (x.latest).l3_checksum_ok, (x.latest).l3_bid_qty, (x.latest).l3_bid_orders, (x.latest).l3_ask_qty,
         (x.latest).l3_ask_orders
    from state__latest_between(p_run_id, '0', '0', '0', '0', state__max_xid8()) x;
  insert into state_buckets
  select v_scratch, b.symbol, b.bucket_start, b.ticker_n, b.ticker_open, b.ticker_close,
         b.trade_n, b.trade_quote_volume, b.trade_buy_quote_volume, b.trade_min_id, b.trade_max_id,
         b.l2_n, b.l2_bad_n, b.l2_snapshot_n, b.l2_open, b.l2_close,
         b.l3_n, b.l3_bad_n, b.l3_touch_adds, b.l3_touch_deletes
    from state__buckets_between(p_run_id, '0', '0', '0', '0', state__max_xid8(),
                                (select w.from_5m from state__windows(p_now) w)) b;
  return query
    select (jsonb_populate_record(c, jsonb_build_object('run_id', p_run_id))).*
      from state__compose(v_scratch, p_now) c;
  delete from state_buckets where run_id = v_scratch;
  delete from state_symbol_latest where run_id = v_scratch;
end
$$;
comment on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) is
  'Test oracle and audit tool: the run''s state recomputed from scratch at p_now from every committed raw row (full '
  'scan of the run''s partitions, no watermarks, one batch instead of many merges), composed under a scratch key and '
  'removed again. Metric columns must equal those the incremental refresh left at the same p_now; generation and '
  'regime columns are null (the regime depends on the history of refreshes). O(run size): never on the hot path.';

create or replace function kapitaal.run_symbol_state__metrics(p_state kapitaal.run_symbol_state)
returns jsonb
language sql
immutable
as $$
  select to_jsonb(p_state) - array['run_id', 'generation_id', 'refreshed_at', 'regime', 'regime_since', 'regime_indicated',
                                   'regime_reason', 'regime_candidate', 'regime_streak']
$$;
comment on function kapitaal.run_symbol_state__metrics(kapitaal.run_symbol_state) is
  'The market-data columns of a state row as jsonb (without run, generation and regime): what the recomputation oracle compares.';
--! EndIncluded state/recompute.sql
--! Included state/refresh_job.sql
create or replace function kapitaal.run_symbol_state__refresh_job(
  p_run_id bigint,
  p_cadence_seconds numeric default null,
  p_now timestamptz default now()
)
returns table (
  generation_id bigint,
  run_id bigint,
  refreshed_at timestamptz,
  ticker_rows integer,
  trade_rows integer,
  l2_rows integer,
  l3_rows integer,
  rows_read integer,
  symbols integer,
  symbols_changed integer,
  buckets_deleted integer,
  watermark_from xid8,
  watermark_to xid8,
  state_digest text,
  duration_ms numeric,
  run_status text,
  requeued boolean,
  next_run_at timestamptz
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_cadence interval;
  v_payload jsonb;
begin
  if p_cadence_seconds is not null and (p_cadence_seconds <= 0 or p_cadence_seconds > 3600) then
    raise exception 'run_symbol_state__refresh_job: cadence must be in (0, 3600] seconds, got %', p_cadence_seconds
      using errcode = '22023';
  end if;
  select o.generation_id, o.run_id, o.refreshed_at, o.ticker_rows, o.trade_rows, o.l2_rows, o.l3_rows, o.rows_read,
         o.symbols, o.symbols_changed, o.buckets_deleted, o.watermark_from, o.watermark_to, o.state_digest, o.duration_ms
    into generation_id, run_id, refreshed_at, ticker_rows, trade_rows, l2_rows, l3_rows, rows_read,
         symbols, symbols_changed, buckets_deleted, watermark_from, watermark_to, state_digest, duration_ms
    from kapitaal.refresh_run_symbol_state(p_run_id, p_now) o;

  select r.status into run_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  requeued := run_status = 'running';
  if requeued then
    v_cadence := coalesce(make_interval(secs => p_cadence_seconds::double precision),
                          (select p.cadence from kapitaal.state_refresh_policy p where p.policy = 'default'),
                          interval '2 seconds');
    next_run_at := p_now + v_cadence;
    v_payload := jsonb_build_object('run_id', p_run_id);
    if p_cadence_seconds is not null then
      v_payload := v_payload || jsonb_build_object('cadence_seconds', p_cadence_seconds);
    end if;
    -- Same transaction as the refresh: either both happen or neither. The job key keeps at
    -- most one pending refresh per run (a running job's key is released by add_job).
    perform graphile_worker.add_job(
      'run_symbol_state__refresh',
      v_payload::json,
      run_at => next_run_at,
      job_key => 'run_symbol_state__refresh:' || p_run_id,
      job_key_mode => 'replace');
  end if;
  return next;
end
$$;
comment on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) is
  'Body of the Graphile Worker task run_symbol_state__refresh: refresh_run_symbol_state, then, while the ingest run is '
  'still running, re-queue the task (job_key run_symbol_state__refresh:<run_id>, run_at = p_now + cadence) in the same '
  'transaction. Cadence: p_cadence_seconds, else state_refresh_policy.cadence (default 2 s).';
--! EndIncluded state/refresh_job.sql
--! Included state/route_freshness.sql
create or replace function kapitaal.apply_route_freshness_filter(p_run_id bigint, p_now timestamptz default now())
returns table (
  run_id bigint,
  symbol text,
  route_type text,
  exec_allowed boolean,
  state_age interval,
  refresh_age interval,
  max_state_age interval,
  data_at timestamptz,
  generation_id bigint,
  reason text,
  marker text
)
language sql
stable
as $$
  select s.run_id, s.symbol, p.route_type,
         v.verdict = 'OK',
         a.state_age, a.refresh_age, p.max_state_age, a.data_at, s.generation_id,
         case v.verdict
           when 'NO_MARKET_DATA' then 'NO_MARKET_DATA: no L2 book or ticker for this symbol yet'
           when 'REFRESH_STALE' then format('REFRESH_STALE: state refreshed %s ago > %s', a.refresh_age, p.max_state_age)
           when 'STATE_AGE_EXCEEDS_MAX' then format('STATE_AGE_EXCEEDS_MAX: market data %s old > %s', a.state_age, p.max_state_age)
           else format('FRESH: market data %s old <= %s', a.state_age, p.max_state_age)
         end,
         case v.verdict
           when 'OK' then 'ROUTE_FRESHNESS_OK'
           when 'STATE_AGE_EXCEEDS_MAX' then 'ROUTE_FRESHNESS_STALE'
           else 'ROUTE_EXECUTION_BLOCKED_STALE_DATA'
         end
    from kapitaal.run_symbol_state s
   cross join kapitaal.route_freshness_policy p
   cross join lateral (
     select greatest(s.last_l2_at, s.last_ticker_at) as data_at,
            greatest(p_now - greatest(s.last_l2_at, s.last_ticker_at), interval '0') as state_age,
            greatest(p_now - s.refreshed_at, interval '0') as refresh_age
   ) a
   cross join lateral (
     select case when a.data_at is null then 'NO_MARKET_DATA'
                 when a.refresh_age > p.max_state_age then 'REFRESH_STALE'
                 when a.state_age > p.max_state_age then 'STATE_AGE_EXCEEDS_MAX'
                 else 'OK' end as verdict
   ) v
   where s.run_id = p_run_id and p.enabled
   order by s.symbol, p.route_type
$$;
comment on function kapitaal.apply_route_freshness_filter(bigint, timestamptz) is
  'Every route (symbol x enabled route type) of a run with exec_allowed, the ages and the reason. State age = p_now - '
  'newest L2/ticker time of the symbol; refresh age = p_now - the refresh that wrote the row. Allowed when both are at '
  'most max_state_age (age = max is allowed, one microsecond more is not). marker: ROUTE_FRESHNESS_OK (allowed), '
  'ROUTE_FRESHNESS_STALE (the symbol''s data is too old), ROUTE_EXECUTION_BLOCKED_STALE_DATA (no market data at all, or '
  'the refresh itself stopped). Reads run_symbol_state only.';
--! EndIncluded state/route_freshness.sql
--! Included state/strategy_readiness.sql
create or replace function kapitaal.strategy_readiness(p_run_id bigint, p_now timestamptz default now())
returns table (
  run_id bigint,
  symbol text,
  strategy text,
  ready boolean,
  reasons text[],
  detail text,
  generation_id bigint
)
language sql
stable
as $$
  select s.run_id, s.symbol, p.strategy, cardinality(r.reasons) = 0, r.reasons,
         coalesce(nullif(array_to_string(r.details, '; '), ''), 'ready'), s.generation_id
    from kapitaal.run_symbol_state s
   cross join kapitaal.strategy_readiness_policy p
   cross join lateral (
     select coalesce(array_agg(c.code order by c.ord) filter (where c.failed), '{}') as reasons,
            coalesce(array_agg(c.code || ': ' || c.why order by c.ord) filter (where c.failed), '{}') as details
       from (values
         (1, 'BOOK_MISSING', p.requires_book and s.last_l2_at is null, 'no L2 book'),
         (2, 'BOOK_INVALID', p.requires_book and s.last_l2_at is not null and s.book_valid is not true,
             'newest L2 sample failed its checksum'),
         (3, 'BOOK_STALE', p.requires_book and p_now - s.last_l2_at > p.max_book_age,
             format('book %s old > %s', p_now - s.last_l2_at, p.max_book_age)),
         (4, 'L3_MISSING', p.requires_l3 and (s.last_l3_at is null or s.l3_bid_touch_qty is null or s.l3_ask_touch_qty is null),
             'no L3 queue at the touch'),
         (5, 'L3_INVALID', p.requires_l3 and s.last_l3_at is not null and s.l3_valid is not true,
             'newest L3 sample failed its checksum'),
         (6, 'L3_STALE', p.requires_l3 and p_now - s.last_l3_at > p.max_l3_age,
             format('L3 %s old > %s', p_now - s.last_l3_at, p.max_l3_age)),
         (7, 'TICKER_MISSING', p.requires_ticker and s.last_ticker_at is null, 'no ticker'),
         (8, 'TICKER_STALE', p.requires_ticker and p_now - s.last_ticker_at > p.max_ticker_age,
             format('ticker %s old > %s', p_now - s.last_ticker_at, p.max_ticker_age)),
         (9, 'TRADES_MISSING', p.requires_trades and s.last_trade_at is null, 'no trade'),
         (10, 'TRADES_STALE', p.requires_trades and p_now - s.last_trade_at > p.max_trade_age,
             format('last trade %s ago > %s', p_now - s.last_trade_at, p.max_trade_age)),
         (11, 'TRADES_TOO_FEW_1M', s.trades_1m < p.min_trades_1m,
             format('%s trades in 1 m < %s', s.trades_1m, p.min_trades_1m)),
         (12, 'TRADES_TOO_FEW_5M', s.trades_5m < p.min_trades_5m,
             format('%s trades in 5 m < %s', s.trades_5m, p.min_trades_5m)),
         (13, 'TRADE_VOLUME_TOO_LOW', s.quote_volume_5m < p.min_quote_volume_5m,
             format('%s quote traded in 5 m < %s', s.quote_volume_5m, p.min_quote_volume_5m)),
         (14, 'PRICE_HISTORY_SHORT', s.price_buckets_5m < p.min_price_buckets_5m,
             format('%s price buckets in 5 m < %s', s.price_buckets_5m, p.min_price_buckets_5m))
       ) as c(ord, code, failed, why)
   ) r
   where s.run_id = p_run_id
   order by s.symbol, p.strategy
$$;
comment on function kapitaal.strategy_readiness(bigint, timestamptz) is
  'Per symbol and strategy (liquidity, momentum, volume) of a run: ready or not, with the reason codes and a readable '
  'detail. Rules and ages come from strategy_readiness_policy (age = max is still ready). Reads run_symbol_state only.';
--! EndIncluded state/strategy_readiness.sql
--! Included state/views.sql
-- Views for DBAs and the dashboard. Plain names, now()-based.

create or replace view kapitaal.engine_status as
  select r.run_id, r.status, r.started_at, r.heartbeat_at,
         now() - r.heartbeat_at as heartbeat_age,
         g.generation_id as last_generation_id,
         g.refreshed_at as last_refreshed_at,
         now() - g.refreshed_at as refresh_lag,
         g.symbols, g.symbols_changed as last_symbols_changed,
         g.ticker_rows + g.trade_rows + g.l2_rows + g.l3_rows as last_rows_read,
         g.duration_ms as last_duration_ms,
         wm.watermark,
         case when r.status = 'running' and wm.watermark is not null then
           (select count(*) from kapitaal.ticker_samples t where t.run_id = r.run_id and t.txid >= wm.watermark)
           + (select count(*) from kapitaal.trade_samples t where t.run_id = r.run_id and t.txid >= wm.watermark)
           + (select count(*) from kapitaal.l2_snap_metrics t where t.run_id = r.run_id and t.txid >= wm.watermark)
           + (select count(*) from kapitaal.l3_queue_metrics t where t.run_id = r.run_id and t.txid >= wm.watermark)
         end as pending_rows
    from kapitaal.ingest_runs r
    left join lateral (
      select * from kapitaal.state_generations sg where sg.run_id = r.run_id order by sg.generation_id desc limit 1
    ) g on true
    left join lateral (
      select min(w.watermark) as watermark from kapitaal.state_refresh_watermarks w where w.run_id = r.run_id
    ) wm on true;
comment on view kapitaal.engine_status is
  'Per ingest run: status and heartbeat, the last state refresh (generation, time, lag = now() - refresh time, rows '
  'read, duration), the refresh watermark and, for running runs, the raw rows committed or in flight above it '
  '(pending_rows: what the next refresh will read once their transactions have finished).';

create or replace view kapitaal.route_freshness as
  select f.*
    from kapitaal.ingest_runs r
   cross join lateral kapitaal.apply_route_freshness_filter(r.run_id, now()) f
   where r.status = 'running';
comment on view kapitaal.route_freshness is
  'apply_route_freshness_filter at now() for every running ingest run: each route with exec_allowed, ages, reason and marker.';

create or replace view kapitaal.symbol_regimes as
  select s.run_id, s.symbol, s.regime, s.regime_since, s.regime_indicated, s.regime_candidate, s.regime_streak,
         s.regime_reason,
         s.vol_1m_bps, s.vol_5m_bps, s.ret_1m_bps, s.ret_5m_bps, s.trend_strength_5m, s.price_buckets_5m,
         s.spread_bps, least(s.bid_depth_50bps_quote, s.ask_depth_50bps_quote) as min_depth_50bps_quote,
         s.trades_5m, s.quote_volume_5m,
         s.book_valid, s.l2_checksum_failures_1m, s.l3_checksum_failures_1m, s.trade_id_gaps_5m,
         greatest(s.last_l2_at, s.last_ticker_at) as data_at,
         s.generation_id, s.refreshed_at
    from kapitaal.run_symbol_state s;
comment on view kapitaal.symbol_regimes is
  'Regime per run and symbol with the numbers behind it: effective regime and since when, what the last refresh '
  'indicated and why, the candidate being confirmed (hysteresis), and the volatility, trend, spread, depth, trade and '
  'integrity figures the thresholds in regime_policy are applied to.';
--! EndIncluded state/views.sql
--! Included state/grants.sql
-- Least privilege for the state layer. Roles come from migrations/roles.sql.
-- Ingest writer: runs the refresh (security definer) and reads what it produced.
-- Execution: reads state, policies and the decision functions; never raw tables or the working set.
-- Read-only: everything.

revoke all on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) from public;
revoke all on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) from public;
revoke all on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) from public;
grant execute on function kapitaal.refresh_run_symbol_state(bigint, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) to kapitaal_ingest_writer;

-- The working-set writer only makes sense inside the refresh.
revoke all on function kapitaal.state__merge(bigint, xid8, xid8, xid8, xid8, xid8, timestamptz) from public;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations, kapitaal.state_refresh_watermarks,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_ingest_writer;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_execution;
grant execute on function kapitaal.apply_route_freshness_filter(bigint, timestamptz),
  kapitaal.strategy_readiness(bigint, timestamptz), kapitaal.run_symbol_state__digest(bigint)
  to kapitaal_execution, kapitaal_readonly, kapitaal_ingest_writer;

grant select on kapitaal.run_symbol_state, kapitaal.state_generations, kapitaal.state_refresh_watermarks,
  kapitaal.state_buckets, kapitaal.state_symbol_latest,
  kapitaal.state_refresh_policy, kapitaal.route_freshness_policy, kapitaal.regime_policy,
  kapitaal.strategy_readiness_policy, kapitaal.engine_status, kapitaal.route_freshness, kapitaal.symbol_regimes
  to kapitaal_readonly;
--! EndIncluded state/grants.sql

--! split: 400-decision.sql
--! Included decision/settings.sql
-- What this database is in the decision feed. One row per database, never replicated: each
-- cluster (ingest, decision, or the one shared database) says what its own triggers do.
create table if not exists kapitaal.decision_settings (
  singleton boolean primary key default true check (singleton),
  cluster_role text not null default 'shared' check (cluster_role in ('ingest', 'decision', 'shared')),
  feed text not null default 'none' check (feed in ('sync', 'replication', 'none')),
  evaluation_enabled boolean not null default false,
  updated_at timestamptz not null default now()
);
insert into kapitaal.decision_settings (singleton) values (true) on conflict do nothing;

comment on table kapitaal.decision_settings is
  'Single row per database: its role in the decision feed. Written by the runtimes at start '
  '(decision_settings__configure); read by the trigger on state_generations and by job_chain__watchdog.';
comment on column kapitaal.decision_settings.cluster_role is
  'ingest: raw data and refresh live here and state is fed to another cluster; decision: execution reads here; '
  'shared: one database plays both roles (no DECISION_DATABASE_URL), no feed needed.';
comment on column kapitaal.decision_settings.feed is
  'How state reaches the decision cluster: sync (the state__sync job after each refresh), replication (logical '
  'replication, publication kapitaal_decision) or none (shared database).';
comment on column kapitaal.decision_settings.evaluation_enabled is
  'An execution runtime evaluates on this database: every newly visible generation enqueues evaluation__run.';

create or replace function kapitaal.decision_settings__configure(
  p_cluster_role text,
  p_feed text,
  p_evaluation_enabled boolean default null
)
returns kapitaal.decision_settings
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  insert into kapitaal.decision_settings as d (singleton, cluster_role, feed, evaluation_enabled, updated_at)
  values (true, p_cluster_role, p_feed, coalesce(p_evaluation_enabled, false), now())
  on conflict (singleton) do update
    set cluster_role = excluded.cluster_role,
        feed = excluded.feed,
        evaluation_enabled = coalesce(p_evaluation_enabled, d.evaluation_enabled),
        updated_at = now()
  returning *
$$;
comment on function kapitaal.decision_settings__configure(text, text, boolean) is
  'Sets this database''s role in the decision feed (ingest/decision/shared), the feed (sync/replication/none) and, when '
  'not null, whether an execution runtime evaluates here. Idempotent; returns the settings row.';
--! EndIncluded decision/settings.sql
--! Included decision/policies.sql
-- Policies of the decision layer: plain rows a DBA reads and changes with psql. Defaults are
-- inserted with `on conflict do nothing`, so re-running the migration keeps operator changes.
create table if not exists kapitaal.decision_policy (
  policy text primary key default 'default' check (policy = 'default'),
  max_generation_age interval not null default interval '10 seconds' check (max_generation_age > interval '0'),
  attach_max_heartbeat_age interval not null default interval '30 seconds' check (attach_max_heartbeat_age > interval '0'),
  evaluation_cadence interval not null default interval '1 second' check (evaluation_cadence > interval '0'),
  sync_cadence interval not null default interval '2 seconds' check (sync_cadence > interval '0'),
  chain_max_backoff interval not null default interval '30 seconds' check (chain_max_backoff > interval '0'),
  chain_max_attempts integer not null default 5 check (chain_max_attempts between 1 and 25),
  failed_jobs_kept integer not null default 50 check (failed_jobs_kept >= 0),
  evaluation_retention interval not null default interval '7 days',
  evaluation_symbols_retention interval not null default interval '1 hour',
  updated_at timestamptz not null default now()
);
insert into kapitaal.decision_policy (policy) values ('default') on conflict do nothing;

comment on table kapitaal.decision_policy is 'Single-row policy of the decision cluster: generation gate, attach, job chain cadence and retention.';
comment on column kapitaal.decision_policy.max_generation_age is
  'Generation gate: the generation an evaluation used may be at most this old (p_now - refreshed_at) when execution '
  'runs; older means refresh or feed fell behind (EXECUTION_BLOCKED_GENERATION_MISMATCH).';
comment on column kapitaal.decision_policy.attach_max_heartbeat_age is 'Attach: an ingest run is live while its heartbeat (as seen on this cluster) is at most this old.';
comment on column kapitaal.decision_policy.evaluation_cadence is 'evaluation__run re-queues itself this long after finishing (new generations enqueue it at once).';
comment on column kapitaal.decision_policy.sync_cadence is 'state__sync re-queues itself this long after finishing (each refresh enqueues it at once).';
comment on column kapitaal.decision_policy.chain_max_backoff is
  'After a failed step the next cycle waits cadence * 2^failures, at most this long; the watchdog also caps Graphile''s own retry delay of chain jobs to it.';
comment on column kapitaal.decision_policy.chain_max_attempts is 'max_attempts of chain jobs (Graphile retries only when re-queueing the next cycle itself failed).';
comment on column kapitaal.decision_policy.failed_jobs_kept is 'Permanently failed chain jobs kept per task for inspection; older ones are pruned by the watchdog.';
comment on column kapitaal.decision_policy.evaluation_retention is 'evaluations rows older than this are pruned by the watchdog.';
comment on column kapitaal.decision_policy.evaluation_symbols_retention is 'evaluation_symbols rows (per-symbol reasons) of evaluations older than this are pruned.';
--! EndIncluded decision/policies.sql
--! Included decision/state_generation_visibility.sql
create table if not exists kapitaal.state_generation_visibility (
  generation_id bigint primary key,
  run_id bigint not null,
  refreshed_at timestamptz not null,
  visible_at timestamptz not null,
  feed text not null,
  lag interval generated always as (visible_at - refreshed_at) stored
);
create index if not exists state_generation_visibility_run_idx on kapitaal.state_generation_visibility (run_id, generation_id desc);
comment on table kapitaal.state_generation_visibility is
  'When each generation became visible on this (decision or shared) cluster, recorded by the trigger on '
  'state_generations inside the transaction that made it visible (sync transaction or replication apply). Local '
  'to the database, never replicated.';
comment on column kapitaal.state_generation_visibility.visible_at is 'clock_timestamp() in the transaction that made the generation visible (just before its commit).';
comment on column kapitaal.state_generation_visibility.feed is 'decision_settings.feed at that moment (sync, replication, none = shared database).';
comment on column kapitaal.state_generation_visibility.lag is 'visible_at - refreshed_at: how long the generation took from its refresh to this cluster.';
--! EndIncluded decision/state_generation_visibility.sql
--! Included decision/job_chain_incidents.sql
create table if not exists kapitaal.job_chain_incidents (
  incident_id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  task_identifier text not null,
  job_key text,
  job_id bigint,
  action text not null check (action in ('step_failed', 'seeded', 'reseeded_failed', 'backoff_capped', 'pruned_failed')),
  failures integer,
  next_run_at timestamptz,
  detail text
);
create index if not exists job_chain_incidents_at_idx on kapitaal.job_chain_incidents (at desc);
comment on table kapitaal.job_chain_incidents is
  'What kept the job chain (refresh -> sync -> evaluate) going: failed steps and the next cycle queued with backoff, '
  'and every watchdog repair (missing chain job seeded, permanently failed one replaced, Graphile retry delay capped, '
  'old failed jobs pruned). Together with job_queue_status it explains any gap in the chain.';
comment on column kapitaal.job_chain_incidents.action is
  'step_failed: a chain step failed, the next cycle was queued with backoff; seeded: a missing chain job was created; '
  'reseeded_failed: a permanently failed job held the key, a new one replaced it; backoff_capped: a retrying job was '
  'rescheduled to chain_max_backoff; pruned_failed: old failed jobs were deleted.';
comment on column kapitaal.job_chain_incidents.failures is 'Consecutive failures of the chain step (payload failures).';
comment on column kapitaal.job_chain_incidents.detail is 'Error message or what the watchdog saw.';
--! EndIncluded decision/job_chain_incidents.sql
--! Included decision/job_chain__next.sql
create or replace function kapitaal.job_chain__next(
  p_task text,
  p_job_key text,
  p_payload jsonb,
  p_mode text,
  p_delay interval default interval '0',
  p_failures integer default 0,
  p_now timestamptz default now()
)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_pol kapitaal.decision_policy;
  v_run_at timestamptz;
  v_payload jsonb := coalesce(p_payload, '{}'::jsonb) - 'failures';
  v_pending graphile_worker.jobs;
begin
  if p_mode not in ('immediate', 'cadence', 'backoff') then
    raise exception 'job_chain__next: mode must be immediate, cadence or backoff, got %', p_mode using errcode = '22023';
  end if;
  select * into v_pol from kapitaal.decision_policy where policy = 'default';
  if p_mode = 'immediate' then
    -- A step waiting out a backoff is not pulled forward by new work (that would turn an outage
    -- into a failure per refresh); everything else runs now.
    select * into v_pending from graphile_worker.jobs j
     where j.key = p_job_key and j.locked_at is null and j.attempts < j.max_attempts and j.flags ? 'chain_backoff';
    if found then
      return v_pending.run_at;
    end if;
    v_run_at := p_now;
    perform graphile_worker.add_job(p_task, v_payload::json, run_at => v_run_at, job_key => p_job_key,
                                    job_key_mode => 'replace', max_attempts => v_pol.chain_max_attempts);
  elsif p_mode = 'cadence' then
    -- preserve_run_at: a pending job that was already queued for sooner (new work) keeps its time.
    v_run_at := p_now + p_delay;
    perform graphile_worker.add_job(p_task, v_payload::json, run_at => v_run_at, job_key => p_job_key,
                                    job_key_mode => 'preserve_run_at', max_attempts => v_pol.chain_max_attempts);
  else
    v_run_at := p_now + least(greatest(p_delay, interval '1 second') * power(2, least(greatest(p_failures, 1), 20) - 1),
                              v_pol.chain_max_backoff);
    perform graphile_worker.add_job(p_task, (v_payload || jsonb_build_object('failures', p_failures))::json,
                                    run_at => v_run_at, job_key => p_job_key, job_key_mode => 'replace',
                                    max_attempts => v_pol.chain_max_attempts, flags => array['chain_backoff']);
  end if;
  return v_run_at;
end
$$;
comment on function kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz) is
  'Queues the next cycle of a chain step (at most one pending per job_key). immediate: run now (new work; a pending '
  'backoff job is left alone); cadence: run at p_now + p_delay unless already queued for sooner; backoff: after '
  'p_failures consecutive failures, run at p_now + min(max(p_delay, 1 s) * 2^(failures-1), chain_max_backoff), '
  'flagged chain_backoff, payload.failures = p_failures. Called inside the transaction that finishes the step, so the '
  'chain advances exactly when the step commits. When the key is held by the running job, Graphile Worker moves the '
  'key to the new job and marks the running one final: if it then fails it stays visible as failed, never retried.';
--! EndIncluded decision/job_chain__next.sql
--! Included decision/job_chain__wanted.sql
create or replace function kapitaal.job_chain__wanted(p_task text, p_payload jsonb)
returns boolean
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select case p_task
    when 'evaluation__run' then
      exists (select 1 from kapitaal.decision_settings d where d.evaluation_enabled and d.cluster_role <> 'ingest')
    when 'state__sync' then
      exists (select 1 from kapitaal.decision_settings d where d.cluster_role = 'ingest' and d.feed = 'sync')
      and exists (select 1 from kapitaal.ingest_runs r
                   where r.run_id = (p_payload->>'run_id')::bigint and r.status = 'running')
    else false
  end
$$;
comment on function kapitaal.job_chain__wanted(text, jsonb) is
  'Whether a chain step should keep cycling on this database: evaluation__run while an execution runtime evaluates '
  'here; state__sync for a running ingest run while this is an ingest cluster in sync mode.';
--! EndIncluded decision/job_chain__wanted.sql
--! Included decision/job_chain__failed.sql
create or replace function kapitaal.job_chain__failed(
  p_task text,
  p_job_key text,
  p_payload jsonb,
  p_job_id bigint,
  p_error text,
  p_delay interval default null,
  p_now timestamptz default now()
)
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_failures integer := coalesce((p_payload->>'failures')::integer, 0) + 1;
  v_delay interval;
  v_next timestamptz;
begin
  if kapitaal.job_chain__wanted(p_task, p_payload) then
    v_delay := coalesce(p_delay, case p_task
      when 'evaluation__run' then (select p.evaluation_cadence from kapitaal.decision_policy p where p.policy = 'default')
      else (select p.sync_cadence from kapitaal.decision_policy p where p.policy = 'default') end);
    v_next := kapitaal.job_chain__next(p_task, p_job_key, p_payload, 'backoff', v_delay, v_failures, p_now);
  end if;
  insert into kapitaal.job_chain_incidents (at, task_identifier, job_key, job_id, action, failures, next_run_at, detail)
  values (p_now, p_task, p_job_key, p_job_id, 'step_failed', v_failures, v_next, left(p_error, 2000));
  return v_next;
end
$$;
comment on function kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz) is
  'Called (in its own transaction) when a chain step throws, before the job is failed: records a step_failed '
  'incident and queues the next cycle with backoff, so the failing job becomes final (visible as failed in '
  'job_queue_status with its error) and the chain goes on. Returns the next run_at (null: the chain is not wanted '
  'any more, e.g. the ingest run ended).';
--! EndIncluded decision/job_chain__failed.sql
--! Included decision/evaluations.sql
create table if not exists kapitaal.evaluations (
  evaluation_id bigint generated always as identity primary key,
  run_id bigint,
  epoch bigint,
  generation_id bigint,
  outcome text not null
    check (outcome in ('candidates', 'economically_empty', 'data_blocked', 'attach_blocked', 'generation_blocked')),
  reason text not null,
  marker text,
  symbols integer not null default 0,
  symbols_eligible integer not null default 0,
  symbols_not_ready integer not null default 0,
  symbols_regime_blocked integer not null default 0,
  symbols_stale integer not null default 0,
  symbols_integrity integer not null default 0,
  candidates integer not null default 0,
  selected_symbol text,
  selected_strategy text,
  generation_refreshed_at timestamptz,
  generation_age interval,
  evaluated_at timestamptz not null,
  created_at timestamptz not null default clock_timestamp(),
  duration_ms numeric not null default 0
);
create index if not exists evaluations_run_idx on kapitaal.evaluations (run_id, evaluation_id desc);
create index if not exists evaluations_evaluated_at_idx on kapitaal.evaluations (evaluated_at);

comment on table kapitaal.evaluations is
  'One row per evaluation (evaluation__run) on the decision cluster: which ingest run, epoch and state generation it '
  'read, and the outcome. Execution of its candidates is allowed only while generation_gate__check passes for '
  '(run_id, generation_id).';
comment on column kapitaal.evaluations.run_id is 'The ingest run the evaluation was bound to (null: attach blocked with no run visible).';
comment on column kapitaal.evaluations.epoch is 'Newest epoch of the run visible at evaluation time (the attach binding).';
comment on column kapitaal.evaluations.generation_id is 'The state generation read; the generation gate compares it with the current one.';
comment on column kapitaal.evaluations.outcome is
  'candidates: at least one proposal worth trading (selectable); economically_empty: data fine, nothing worth trading; '
  'data_blocked: no symbol with fresh, valid data (stale feed, integrity); attach_blocked: no live ingest run with an '
  'epoch; generation_blocked: no complete, fresh generation visible (feed or refresh behind).';
comment on column kapitaal.evaluations.reason is 'Why this outcome, in words with the deciding numbers.';
comment on column kapitaal.evaluations.marker is
  'Log marker of a blocked outcome (EXECUTION_ATTACH_BLOCKED, EXECUTION_BLOCKED_GENERATION_MISMATCH, '
  'ROUTE_EXECUTION_BLOCKED_STALE_DATA, DATA_INTEGRITY_CHECKSUM_MISMATCH); null otherwise.';
comment on column kapitaal.evaluations.symbols_stale is 'Symbols without a fresh entry route (apply_route_freshness_filter).';
comment on column kapitaal.evaluations.symbols_integrity is 'Symbols whose newest L2 sample failed its checksum.';
comment on column kapitaal.evaluations.symbols_regime_blocked is 'Symbols whose regime is not established or trades no strategy (CHAOS, LOW_LIQUIDITY).';
comment on column kapitaal.evaluations.symbols_not_ready is 'Symbols with fresh data and a tradable regime whose strategies are not ready.';
comment on column kapitaal.evaluations.symbols_eligible is 'Symbols with fresh, valid data, an eligible regime and at least one ready strategy on a fresh entry route.';
comment on column kapitaal.evaluations.candidates is
  'Selectable proposals (positive net edge after fees, no gate) in evaluation_rankings, the strategy layer''s '
  'ranking of this evaluation; without the strategy layer, eligible symbol x strategy pairs.';
comment on column kapitaal.evaluations.selected_symbol is 'Top-1 proposal of the ranking (evaluation_rankings.selected), if any.';
comment on column kapitaal.evaluations.selected_strategy is 'Strategy of the top-1 proposal.';
comment on column kapitaal.evaluations.generation_age is 'evaluated_at - refreshed_at of the generation read.';
comment on column kapitaal.evaluations.evaluated_at is 'The evaluation''s clock (p_now).';
comment on column kapitaal.evaluations.duration_ms is 'Wall time of evaluation__run in the database.';

create table if not exists kapitaal.evaluation_symbols (
  evaluation_id bigint not null references kapitaal.evaluations (evaluation_id) on delete cascade,
  symbol text not null,
  status text not null check (status in ('eligible', 'not_ready', 'regime_blocked', 'stale', 'integrity')),
  regime text,
  reasons text[] not null,
  routes jsonb not null,
  readiness jsonb not null,
  primary key (evaluation_id, symbol)
);
comment on table kapitaal.evaluation_symbols is
  'Per evaluation and symbol: the data verdict and why (kept for decision_policy.evaluation_symbols_retention). The '
  'economic ranking of the same evaluation is in evaluation_rankings (strategy layer).';
comment on column kapitaal.evaluation_symbols.status is
  'stale (no fresh entry route), integrity (book checksum failed), regime_blocked, not_ready (no permitted strategy '
  'ready on a fresh route) or eligible. Checked in this order.';
comment on column kapitaal.evaluation_symbols.reasons is 'The reasons behind status: route freshness reasons, readiness details per strategy, regime, or the eligible strategies.';
comment on column kapitaal.evaluation_symbols.routes is 'apply_route_freshness_filter per route type: exec_allowed, marker, reason.';
comment on column kapitaal.evaluation_symbols.readiness is 'strategy_readiness per strategy: ready, reason codes, detail.';

create table if not exists kapitaal.evaluation_gate_checks (
  check_id bigint generated always as identity primary key,
  evaluation_id bigint not null references kapitaal.evaluations (evaluation_id) on delete cascade,
  checked_at timestamptz not null,
  allowed boolean not null,
  reason text not null,
  marker text,
  current_generation_id bigint
);
create index if not exists evaluation_gate_checks_eval_idx on kapitaal.evaluation_gate_checks (evaluation_id);
comment on table kapitaal.evaluation_gate_checks is
  'Every generation gate check of an evaluation (evaluation__gate): when, the verdict and the generation current then. '
  'Explains why an evaluation''s candidates were or were not executed.';
--! EndIncluded decision/evaluations.sql
--! Included decision/evaluations__prune.sql
create or replace function kapitaal.evaluations__prune(p_now timestamptz default now())
returns integer
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_pol kapitaal.decision_policy;
  v_n integer;
begin
  select * into v_pol from kapitaal.decision_policy p where p.policy = 'default';
  delete from kapitaal.evaluation_symbols s
   using kapitaal.evaluations e
   where e.evaluation_id = s.evaluation_id and e.evaluated_at < p_now - v_pol.evaluation_symbols_retention
     and e.evaluation_id in (select x.evaluation_id from kapitaal.evaluations x
                              where x.evaluated_at < p_now - v_pol.evaluation_symbols_retention
                              order by x.evaluation_id limit 5000);
  delete from kapitaal.evaluations e
   where e.evaluation_id in (select x.evaluation_id from kapitaal.evaluations x
                              where x.evaluated_at < p_now - v_pol.evaluation_retention
                                and x.outcome <> 'candidates'
                              order by x.evaluation_id limit 5000);
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
comment on function kapitaal.evaluations__prune(timestamptz) is
  'Retention of the decision log: deletes evaluation_symbols of evaluations older than evaluation_symbols_retention '
  'and evaluations without candidates (those may have orders) older than evaluation_retention, at most 5000 each call. '
  'Run by job_chain__watchdog.';
--! EndIncluded decision/evaluations__prune.sql
--! Included decision/job_chain__watchdog.sql
create or replace function kapitaal.job_chain__watchdog(p_now timestamptz default now())
returns table (task_identifier text, job_key text, job_id bigint, action text, detail text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pol kapitaal.decision_policy;
  v_set kapitaal.decision_settings;
  v_want record;
  v_job graphile_worker.jobs;
  v_ids bigint[];
begin
  -- One watchdog per database at a time; a second caller simply returns.
  if not pg_try_advisory_xact_lock(hashtextextended('kapitaal.job_chain__watchdog', 0)) then
    return;
  end if;
  select * into v_pol from kapitaal.decision_policy p where p.policy = 'default';
  select * into v_set from kapitaal.decision_settings d where d.singleton;

  for v_want in
    select 'evaluation__run'::text as task, 'evaluation__run'::text as key, '{}'::jsonb as payload
     where v_set.evaluation_enabled and v_set.cluster_role <> 'ingest'
    union all
    select 'state__sync', 'state__sync:' || r.run_id, jsonb_build_object('run_id', r.run_id)
      from kapitaal.ingest_runs r
     where r.status = 'running' and v_set.cluster_role = 'ingest' and v_set.feed = 'sync'
    union all
    select 'run_symbol_state__refresh', 'run_symbol_state__refresh:' || r.run_id, jsonb_build_object('run_id', r.run_id)
      from kapitaal.ingest_runs r
     where r.status = 'running' and v_set.cluster_role in ('ingest', 'shared')
       and (v_set.cluster_role = 'ingest' or v_set.evaluation_enabled)
  loop
    task_identifier := v_want.task;
    job_key := v_want.key;
    select * into v_job from graphile_worker.jobs j where j.key = v_want.key;
    if not found then
      perform kapitaal.job_chain__next(v_want.task, v_want.key, v_want.payload, 'immediate', interval '0', 0, p_now);
      job_id := null;
      action := 'seeded';
      detail := 'no pending or running job held the chain key';
    elsif v_job.locked_at is null and v_job.attempts >= v_job.max_attempts then
      -- Permanently failed while holding the key: the chain stopped here. Retry it now with its own
      -- payload; its last error goes into the incident (and stays on the job until it succeeds).
      perform graphile_worker.reschedule_jobs(array[v_job.id], run_at => p_now, attempts => 0);
      job_id := v_job.id;
      action := 'reseeded_failed';
      detail := format('failed after %s attempts: %s', v_job.attempts, v_job.last_error);
    elsif v_job.locked_at is null and v_job.attempts > 0 and v_job.run_at > p_now + v_pol.chain_max_backoff then
      perform graphile_worker.reschedule_jobs(array[v_job.id], run_at => p_now + v_pol.chain_max_backoff);
      job_id := v_job.id;
      action := 'backoff_capped';
      detail := format('retry %s was due at %s; capped to %s', v_job.attempts, v_job.run_at, p_now + v_pol.chain_max_backoff);
    else
      continue;
    end if;
    insert into kapitaal.job_chain_incidents (at, task_identifier, job_key, job_id, action, detail)
    values (p_now, task_identifier, job_key, job_id, action, left(detail, 2000));
    return next;
  end loop;

  -- Failed cycles that lost their key (the chain moved on) are kept for inspection, up to a limit.
  select array_agg(x.id) into v_ids
    from (select j.id, row_number() over (partition by j.task_identifier order by j.id desc) as rn
            from graphile_worker.jobs j
           where j.task_identifier in ('evaluation__run', 'state__sync', 'run_symbol_state__refresh')
             and j.key is null and j.locked_at is null and j.attempts >= j.max_attempts) x
   where x.rn > v_pol.failed_jobs_kept;
  if v_ids is not null then
    perform graphile_worker.complete_jobs(v_ids);
    task_identifier := null;
    job_key := null;
    job_id := null;
    action := 'pruned_failed';
    detail := format('%s failed chain jobs beyond the newest %s per task', cardinality(v_ids), v_pol.failed_jobs_kept);
    insert into kapitaal.job_chain_incidents (at, task_identifier, action, detail) values (p_now, '*', action, detail);
    return next;
  end if;

  if v_set.evaluation_enabled then
    perform kapitaal.evaluations__prune(p_now);
  end if;
end
$$;
comment on function kapitaal.job_chain__watchdog(timestamptz) is
  'Keeps the job chain alive on this database (run every few seconds by each runtime): seeds a missing chain job '
  '(evaluation__run while evaluation is enabled; state__sync and run_symbol_state__refresh per running ingest run on an '
  'ingest cluster in sync mode), retries a chain job that failed permanently while holding its key, caps Graphile''s '
  'retry delay of a chain job to chain_max_backoff, prunes failed chain jobs beyond failed_jobs_kept per task and old '
  'evaluations. Every repair is returned and recorded in job_chain_incidents. Safe to call concurrently (one runs).';
--! EndIncluded decision/job_chain__watchdog.sql
--! Included decision/decision__upsert_rows.sql
create or replace function kapitaal.decision__upsert_rows(p_table regclass, p_rows jsonb)
returns integer
language plpgsql
volatile
set search_path = kapitaal, pg_temp
as $$
declare
  v_cols text;
  v_set text;
  v_old text;
  v_new text;
  v_keys text;
  v_n integer;
begin
  if p_rows is null or jsonb_typeof(p_rows) <> 'array' or jsonb_array_length(p_rows) = 0 then
    return 0;
  end if;
  select string_agg(quote_ident(i.attname), ', ' order by u.k)
    into v_keys
    from pg_index x
   cross join lateral unnest(x.indkey::int2[]) with ordinality as u(attnum, k)
    join pg_attribute i on i.attrelid = x.indrelid and i.attnum = u.attnum
   where x.indrelid = p_table and x.indisprimary;
  if v_keys is null then
    raise exception 'decision__upsert_rows: % has no primary key', p_table using errcode = '42P10';
  end if;
  -- Columns from the catalog: a new column of the table needs no change here.
  select string_agg(quote_ident(a.attname), ', ' order by a.attnum),
         string_agg(format('%1$I = excluded.%1$I', a.attname), ', ' order by a.attnum) filter (where not k.is_key),
         string_agg('t.' || quote_ident(a.attname), ', ' order by a.attnum) filter (where not k.is_key),
         string_agg('excluded.' || quote_ident(a.attname), ', ' order by a.attnum) filter (where not k.is_key)
    into v_cols, v_set, v_old, v_new
    from pg_attribute a
   cross join lateral (
     select a.attnum = any (x.indkey::int2[]) as is_key from pg_index x where x.indrelid = p_table and x.indisprimary
   ) k
   where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped and a.attgenerated = '';
  execute format(
    'insert into %1$s as t (%2$s) overriding system value select %2$s from jsonb_populate_recordset(null::%1$s, $1) '
    'on conflict (%3$s) do %4$s',
    p_table, v_cols, v_keys,
    case when v_set is null then 'nothing'
         else format('update set %s where (%s) is distinct from (%s)', v_set, v_old, v_new) end)
  using p_rows;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
comment on function kapitaal.decision__upsert_rows(regclass, jsonb) is
  'Generic upsert of rows given as a jsonb array of objects (to_jsonb of the same table on another cluster) into '
  'p_table, keyed by its primary key; the column list comes from the catalog, so new columns need no code change. '
  'Unchanged rows are not rewritten. Returns the rows inserted or changed. Used by the decision sync.';
--! EndIncluded decision/decision__upsert_rows.sql
--! Included decision/state__sync_cursor.sql
create or replace function kapitaal.state__sync_cursor(p_run_id bigint)
returns table (run_id bigint, generation_id bigint, epoch bigint, pairs_updated_at timestamptz)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select p_run_id,
         (select max(g.generation_id) from kapitaal.state_generations g where g.run_id = p_run_id),
         (select max(e.epoch) from kapitaal.ingest_epochs e where e.run_id = p_run_id),
         (select max(p.updated_at) from kapitaal.run_pairs p where p.run_id = p_run_id)
$$;
comment on function kapitaal.state__sync_cursor(bigint) is
  'Decision side of the sync, first step: what this cluster already holds of an ingest run (newest generation, '
  'newest epoch, newest run_pairs change), so the ingest side sends only what is missing.';
--! EndIncluded decision/state__sync_cursor.sql
--! Included decision/state__sync_payload.sql
create or replace function kapitaal.state__sync_payload(
  p_run_id bigint,
  p_after_generation bigint default null,
  p_after_epoch bigint default null,
  p_pairs_after timestamptz default null,
  p_max_epochs integer default 100
)
returns jsonb
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  -- One statement, one snapshot: the newest generation and the state rows it stamped are
  -- read together (a refresh commits both in one transaction).
  with recursive lineage as (
    select r.run_id, r.parent_run_id from kapitaal.ingest_runs r where r.run_id = p_run_id
    union
    select r.run_id, r.parent_run_id from kapitaal.ingest_runs r join lineage l on r.run_id = l.parent_run_id
  ),
  g as (
    select * from kapitaal.state_generations sg where sg.run_id = p_run_id order by sg.generation_id desc limit 1
  ),
  gn as (
    select * from g where g.generation_id > coalesce(p_after_generation, 0)
  ),
  e as (
    select * from kapitaal.ingest_epochs ie
     where ie.run_id = p_run_id and ie.epoch > coalesce(p_after_epoch, 0)
     order by ie.epoch
     limit greatest(p_max_epochs, 1)
  )
  select jsonb_build_object(
    'run_id', p_run_id,
    'read_at', clock_timestamp(),
    'newest_generation_id', (select g.generation_id from g),
    'runs', (select jsonb_agg(to_jsonb(r) order by r.run_id)
               from kapitaal.ingest_runs r where r.run_id in (select l.run_id from lineage l)),
    'pairs', (select jsonb_agg(to_jsonb(p) order by p.symbol)
                from kapitaal.run_pairs p
               where p.run_id = p_run_id and (p_pairs_after is null or p.updated_at >= p_pairs_after)),
    'epochs', (select jsonb_agg(to_jsonb(e) order by e.epoch) from e),
    'snapshots', (select jsonb_agg(to_jsonb(s) order by s.epoch, s.symbol)
                    from kapitaal.ingest_snapshots s join e on s.run_id = e.run_id and s.epoch = e.epoch),
    'more_epochs', exists (select 1 from kapitaal.ingest_epochs ie
                            where ie.run_id = p_run_id and ie.epoch > coalesce((select max(e.epoch) from e), p_after_epoch, 0)),
    'generation', (select to_jsonb(gn) from gn),
    'state', case when exists (select 1 from gn) then
               coalesce((select jsonb_agg(to_jsonb(s) order by s.symbol)
                           from kapitaal.run_symbol_state s where s.run_id = p_run_id), '[]'::jsonb)
             end
  )
$$;
comment on function kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer) is
  'Ingest side of the sync: one jsonb document with what the decision cluster lacks of a run (its cursor from '
  'state__sync_cursor): the run and its lineage (ingest_runs), changed run_pairs, up to p_max_epochs new epochs with '
  'their snapshots, and the newest generation with all its run_symbol_state rows when it is newer than '
  'p_after_generation (older generations are skipped: each generation is the complete state). Read in one snapshot, '
  'so the state rows are exactly those of the generation. Columns are generic (to_jsonb of the row).';
--! EndIncluded decision/state__sync_payload.sql
--! Included decision/sync_run_symbol_state_to_decision.sql
create or replace function kapitaal.sync_run_symbol_state_to_decision(p_payload jsonb, p_now timestamptz default now())
returns table (
  run_id bigint,
  generation_id bigint,
  applied boolean,
  reason text,
  symbols integer,
  state_digest text,
  refreshed_at timestamptz,
  visible_generation_id bigint,
  runs_upserted integer,
  pairs_upserted integer,
  epochs_inserted integer,
  snapshots_inserted integer,
  more_epochs boolean
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_run bigint := (p_payload->>'run_id')::bigint;
  v_gen jsonb := nullif(p_payload->'generation', 'null'::jsonb);
  v_current bigint;
  v_digest text;
  v_rows integer;
  v_other integer;
begin
  if v_run is null then
    raise exception 'sync_run_symbol_state_to_decision: payload without run_id' using errcode = '22023';
  end if;
  if exists (select 1 from kapitaal.decision_settings d where d.feed = 'replication')
     or exists (select 1 from pg_subscription s join pg_database db on db.oid = s.subdbid
                 where db.datname = current_database()) then
    raise exception 'sync_run_symbol_state_to_decision: this database is fed by logical replication; the sync must not write it'
      using errcode = '55000';
  end if;
  -- Syncs of one run are serialised; an older payload arriving late is skipped below.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.sync_run_symbol_state_to_decision', v_run));

  run_id := v_run;
  runs_upserted := kapitaal.decision__upsert_rows('kapitaal.ingest_runs', p_payload->'runs');
  pairs_upserted := kapitaal.decision__upsert_rows('kapitaal.run_pairs', p_payload->'pairs');
  insert into kapitaal.ingest_epochs
  select * from jsonb_populate_recordset(null::kapitaal.ingest_epochs, coalesce(nullif(p_payload->'epochs', 'null'::jsonb), '[]'::jsonb))
  on conflict do nothing;
  get diagnostics epochs_inserted = row_count;
  insert into kapitaal.ingest_snapshots
  select * from jsonb_populate_recordset(null::kapitaal.ingest_snapshots, coalesce(nullif(p_payload->'snapshots', 'null'::jsonb), '[]'::jsonb))
  on conflict do nothing;
  get diagnostics snapshots_inserted = row_count;
  more_epochs := coalesce((p_payload->>'more_epochs')::boolean, false);

  select max(g.generation_id) into v_current from kapitaal.state_generations g where g.run_id = v_run;
  visible_generation_id := v_current;
  applied := false;
  if v_gen is null then
    generation_id := (p_payload->>'newest_generation_id')::bigint;
    reason := case when generation_id is null then 'NO_GENERATION: the run has not been refreshed yet'
                   else format('ALREADY_VISIBLE: generation %s is visible here', v_current) end;
    return next;
    return;
  end if;
  generation_id := (v_gen->>'generation_id')::bigint;
  symbols := (v_gen->>'symbols')::integer;
  state_digest := v_gen->>'state_digest';
  refreshed_at := (v_gen->>'refreshed_at')::timestamptz;
  if v_current >= generation_id then
    reason := format('ALREADY_VISIBLE: generation %s is visible here (this payload carries %s)', v_current, generation_id);
    return next;
    return;
  end if;

  -- The whole generation in this transaction: the run's rows are replaced by the generation's
  -- (every refresh rewrites all rows of a run anyway), then the generation row is added (its
  -- trigger enqueues the evaluation). Generic: the table's own row type, no column list.
  delete from kapitaal.run_symbol_state s where s.run_id = v_run;
  insert into kapitaal.run_symbol_state
  select * from jsonb_populate_recordset(null::kapitaal.run_symbol_state,
                                         coalesce(nullif(p_payload->'state', 'null'::jsonb), '[]'::jsonb));
  insert into kapitaal.state_generations
  select * from jsonb_populate_record(null::kapitaal.state_generations, v_gen);

  select count(*) filter (where s.generation_id = (v_gen->>'generation_id')::bigint),
         count(*) filter (where s.generation_id <> (v_gen->>'generation_id')::bigint)
    into v_rows, v_other
    from kapitaal.run_symbol_state s where s.run_id = v_run;
  v_digest := kapitaal.run_symbol_state__digest(v_run);
  if v_rows <> symbols or v_other <> 0 or v_digest is distinct from state_digest then
    raise exception 'sync_run_symbol_state_to_decision: generation % of run % does not verify here (rows %/% of it, % of others, digest % <> %)',
      generation_id, v_run, v_rows, symbols, v_other, v_digest, state_digest
      using errcode = 'XX001';
  end if;
  applied := true;
  visible_generation_id := generation_id;
  reason := 'APPLIED: digest verified';
  return next;
end
$$;
comment on function kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz) is
  'Decision side of the sync, in one transaction: upserts the run (and lineage) rows and changed run_pairs, adds new '
  'epochs and snapshots, and, when the payload''s generation is newer than the newest one here, replaces all '
  'run_symbol_state rows of the run by the generation''s and adds its state_generations row, then verifies row count and '
  'run_symbol_state__digest against state_digest (a mismatch raises: nothing of the generation becomes visible). '
  'Older or equal generations are skipped. Refuses to run on a database fed by logical replication.';
--! EndIncluded decision/sync_run_symbol_state_to_decision.sql
--! Included decision/tg_state_generations__on_visible.sql
create or replace function kapitaal.tg_state_generations__on_visible()
returns trigger
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_set kapitaal.decision_settings;
begin
  select * into v_set from kapitaal.decision_settings d where d.singleton;
  if v_set.cluster_role = 'ingest' then
    -- The refresh just committed a generation here: feed it to the decision cluster.
    if v_set.feed = 'sync' then
      perform kapitaal.job_chain__next('state__sync', 'state__sync:' || new.run_id,
                                       jsonb_build_object('run_id', new.run_id), 'immediate');
    end if;
  else
    -- The generation becomes visible here with this transaction (sync, replication apply, or
    -- the refresh itself on a shared database).
    insert into kapitaal.state_generation_visibility (generation_id, run_id, refreshed_at, visible_at, feed)
    values (new.generation_id, new.run_id, new.refreshed_at, clock_timestamp(), coalesce(v_set.feed, 'none'))
    on conflict do nothing;
    if v_set.evaluation_enabled then
      perform kapitaal.job_chain__next('evaluation__run', 'evaluation__run', '{}'::jsonb, 'immediate');
    end if;
  end if;
  return null;
end
$$;
comment on function kapitaal.tg_state_generations__on_visible() is
  'After a state_generations row is inserted: on an ingest cluster in sync mode, queue state__sync for the run; '
  'elsewhere record when the generation became visible (state_generation_visibility) and, when an execution runtime '
  'evaluates here, queue evaluation__run. Same transaction as the generation, so each step queues the next exactly '
  'when it commits.';

drop trigger if exists _500_on_visible on kapitaal.state_generations;
create trigger _500_on_visible
  after insert on kapitaal.state_generations
  for each row execute function kapitaal.tg_state_generations__on_visible();
-- ALWAYS: also fires in the logical replication apply worker (session_replication_role = replica).
alter table kapitaal.state_generations enable always trigger _500_on_visible;
comment on trigger _500_on_visible on kapitaal.state_generations is
  'Chains the next step when a generation is recorded (see tg_state_generations__on_visible); enabled ALWAYS so that '
  'replicated generations trigger the evaluation too.';
--! EndIncluded decision/tg_state_generations__on_visible.sql
--! Included decision/decision_generation__current.sql
create or replace function kapitaal.decision_generation__current(p_run_id bigint)
returns table (
  run_id bigint,
  generation_id bigint,
  refreshed_at timestamptz,
  symbols integer,
  state_digest text,
  rows_of_generation integer,
  rows_of_other_generations integer,
  complete boolean
)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select g.run_id, g.generation_id, g.refreshed_at, g.symbols, g.state_digest, c.own, c.other,
         c.own = g.symbols and c.other = 0
    from (select * from kapitaal.state_generations sg where sg.run_id = p_run_id
           order by sg.generation_id desc limit 1) g
   cross join lateral (
     select (count(*) filter (where s.generation_id = g.generation_id))::integer as own,
            (count(*) filter (where s.generation_id <> g.generation_id))::integer as other
       from kapitaal.run_symbol_state s where s.run_id = p_run_id
   ) c
$$;
comment on function kapitaal.decision_generation__current(bigint) is
  'The generation of a run this cluster shows as current (its newest state_generations row) and whether the state '
  'rows are exactly that generation: complete = every row carries it and there are as many as it recorded. No row: '
  'no generation visible yet.';
--! EndIncluded decision/decision_generation__current.sql
--! Included decision/generation_gate__check.sql
create or replace function kapitaal.generation_gate__check(
  p_run_id bigint,
  p_generation_id bigint,
  p_now timestamptz default now()
)
returns table (
  allowed boolean,
  reason text,
  marker text,
  current_generation_id bigint,
  generation_age interval
)
language plpgsql
stable
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_cur record;
  v_max interval := (select p.max_generation_age from kapitaal.decision_policy p where p.policy = 'default');
  v_status text;
begin
  select * into v_cur from kapitaal.decision_generation__current(p_run_id);
  current_generation_id := v_cur.generation_id;
  generation_age := greatest(p_now - v_cur.refreshed_at, interval '0');
  allowed := false;
  marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
  select r.status into v_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  if p_generation_id is null then
    reason := 'NO_GENERATION: the evaluation recorded no generation';
  elsif v_cur.generation_id is null then
    reason := format('GENERATION_NOT_VISIBLE: no generation of run %s is visible on this cluster', p_run_id);
  elsif v_cur.generation_id < p_generation_id then
    reason := format('GENERATION_NOT_VISIBLE: generation %s is not visible here yet (current %s)', p_generation_id, v_cur.generation_id);
  elsif v_cur.generation_id > p_generation_id then
    reason := format('GENERATION_SUPERSEDED: generation %s was superseded by %s', p_generation_id, v_cur.generation_id);
  elsif not v_cur.complete then
    reason := format('GENERATION_INCOMPLETE: %s of %s rows carry generation %s, %s rows another',
                     v_cur.rows_of_generation, v_cur.symbols, p_generation_id, v_cur.rows_of_other_generations);
  elsif generation_age > v_max then
    reason := format('GENERATION_STALE: generation %s is %s old > %s (refresh or feed fell behind)',
                     p_generation_id, generation_age, v_max);
  elsif v_status is distinct from 'running' then
    reason := format('RUN_NOT_RUNNING: ingest run %s is %s', p_run_id, coalesce(v_status, 'not visible here'));
  else
    allowed := true;
    marker := null;
    reason := format('GENERATION_CURRENT: generation %s is current and %s old <= %s', p_generation_id, generation_age, v_max);
  end if;
  return next;
end
$$;
comment on function kapitaal.generation_gate__check(bigint, bigint, timestamptz) is
  'The generation gate (state-first contract, rule 4): execution may proceed only when this (decision) cluster still '
  'shows p_generation_id as the current, complete generation of the run, at most decision_policy.max_generation_age '
  'old at p_now, and the run is running. Otherwise allowed = false, a reason (NO_GENERATION, GENERATION_NOT_VISIBLE, '
  'GENERATION_SUPERSEDED, GENERATION_INCOMPLETE, GENERATION_STALE, RUN_NOT_RUNNING) and marker '
  'EXECUTION_BLOCKED_GENERATION_MISMATCH: place nothing. Call it in the transaction that would place the order.';
--! EndIncluded decision/generation_gate__check.sql
--! Included decision/execution_attach__resolve.sql
create or replace function kapitaal.execution_attach__resolve(p_now timestamptz default now(), p_run_id bigint default null)
returns table (
  attached boolean,
  run_id bigint,
  run_status text,
  heartbeat_at timestamptz,
  heartbeat_age interval,
  epoch bigint,
  epoch_published_at timestamptz,
  snapshot_symbols integer,
  reason text
)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  with pol as (
    select p.attach_max_heartbeat_age as max_age from kapitaal.decision_policy p where p.policy = 'default'
  ),
  runs as (
    select r.run_id, r.status, r.heartbeat_at, greatest(p_now - r.heartbeat_at, interval '0') as age,
           e.epoch, e.published_at, e.symbols
      from kapitaal.ingest_runs r
      left join lateral (
        select ie.epoch, ie.published_at, ie.symbols from kapitaal.ingest_epochs ie
         where ie.run_id = r.run_id order by ie.epoch desc limit 1
      ) e on true
     where p_run_id is null or r.run_id = p_run_id
  ),
  best as (
    select r.* from runs r, pol
     where r.status = 'running' and r.age <= pol.max_age and r.epoch is not null
     order by r.run_id desc limit 1
  ),
  nearest as (
    select r.* from runs r order by (r.status = 'running') desc, r.run_id desc limit 1
  )
  select true, b.run_id, b.status, b.heartbeat_at, b.age, b.epoch, b.published_at, b.symbols,
         format('ATTACHED: ingest run %s, epoch %s, heartbeat %s old', b.run_id, b.epoch, b.age)
    from best b
  union all
  select false, n.run_id, n.status, n.heartbeat_at, n.age, n.epoch, n.published_at, n.symbols,
         case
           when n.run_id is null then
             case when p_run_id is null then 'NO_INGEST_RUN: no ingest run is visible on the decision cluster'
                  else format('NO_INGEST_RUN: ingest run %s is not visible on the decision cluster', p_run_id) end
           when n.status <> 'running' then format('NO_LIVE_RUN: newest ingest run %s is %s', n.run_id, n.status)
           when n.age > pol.max_age then format('NO_LIVE_RUN: ingest run %s heartbeat %s old > %s', n.run_id, n.age, pol.max_age)
           else format('NO_EPOCH: ingest run %s has published no epoch yet', n.run_id)
         end
    from pol
    left join nearest n on true
   where not exists (select 1 from best)
$$;
comment on function kapitaal.execution_attach__resolve(timestamptz, bigint) is
  'Execution attach, as seen on the decision cluster: the newest live ingest run (status running, heartbeat at most '
  'decision_policy.attach_max_heartbeat_age old at p_now) that has published an epoch, with its newest epoch and '
  'snapshot size. attached = false with the reason (NO_INGEST_RUN, NO_LIVE_RUN, NO_EPOCH) when there is none. '
  'p_run_id restricts the choice to that run.';
--! EndIncluded decision/execution_attach__resolve.sql
--! Included decision/evaluation__run.sql
create or replace function kapitaal.evaluation__run(p_run_id bigint default null, p_now timestamptz default now())
returns kapitaal.evaluations
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_t0 timestamptz := clock_timestamp();
  v_pol kapitaal.decision_policy;
  v_att record;
  v_read jsonb;
  v_gen jsonb;
  v_syms jsonb;
  v_eval kapitaal.evaluations;
  v_outcome text;
  v_reason text;
  v_marker text;
  v_counts record;
  v_age interval;
  v_ranked record;
  v_strategy_layer boolean := to_regprocedure('kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text)') is not null;
begin
  select * into v_pol from kapitaal.decision_policy p where p.policy = 'default';
  select * into v_att from kapitaal.execution_attach__resolve(p_now, p_run_id);
  if not v_att.attached then
    insert into kapitaal.evaluations (run_id, epoch, outcome, reason, marker, evaluated_at, duration_ms)
    values (v_att.run_id, v_att.epoch, 'attach_blocked', v_att.reason, 'EXECUTION_ATTACH_BLOCKED', p_now,
            round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3))
    returning * into v_eval;
    return v_eval;
  end if;

  -- ONE statement, so one snapshot whatever the isolation level: the generation, the state rows,
  -- route freshness and readiness are all read from the same committed state (the stable functions
  -- run with the snapshot of this query). A generation synced meanwhile is seen completely or not.
  with st as (
    select s.* from kapitaal.run_symbol_state s where s.run_id = v_att.run_id
  ),
  pol as (
    -- Strategy fan-out of the strategy layer: entry route per strategy, regimes it may enter in.
    select sp.strategy, sp.route_type,
           coalesce(array_agg(e.regime) filter (where e.eligible), '{}') as regimes
      from kapitaal.strategy_policy sp
      left join kapitaal.strategy_regime_eligibility e on e.strategy = sp.strategy
     where sp.enabled
     group by sp.strategy, sp.route_type
  ),
  fr as (
    select f.symbol,
           jsonb_agg(jsonb_build_object('route_type', f.route_type, 'exec_allowed', f.exec_allowed,
                                        'marker', f.marker, 'reason', f.reason) order by f.route_type) as routes,
           coalesce(array_agg(f.route_type) filter (where f.exec_allowed), '{}') as allowed,
           coalesce(array_agg(f.route_type) filter (where f.exec_allowed and f.route_type in (select route_type from pol)), '{}')
             as allowed_entry,
           coalesce(array_agg(distinct f.marker || ': ' || f.reason)
                      filter (where not f.exec_allowed and f.route_type in (select route_type from pol)), '{}') as blocked,
           count(distinct f.generation_id) filter (where f.generation_id is distinct from (select max(x.generation_id) from st x)) as foreign_gens
      from kapitaal.apply_route_freshness_filter(v_att.run_id, p_now) f
     group by f.symbol
  ),
  rd as (
    select r.symbol,
           jsonb_agg(jsonb_build_object('strategy', r.strategy, 'ready', r.ready, 'reasons', r.reasons, 'detail', r.detail)
                     order by r.strategy) as readiness,
           coalesce(array_agg(r.strategy) filter (where r.ready), '{}') as ready,
           jsonb_object_agg(r.strategy, r.detail) as details,
           count(distinct r.generation_id) filter (where r.generation_id is distinct from (select max(x.generation_id) from st x)) as foreign_gens
      from kapitaal.strategy_readiness(v_att.run_id, p_now) r
     group by r.symbol
  ),
  fan as (
    select st.symbol, p.strategy, p.route_type,
           p.strategy = any (coalesce(rd.ready, '{}')) as ready,
           p.route_type = any (coalesce(fr.allowed, '{}')) as route_ok,
           rd.details->>p.strategy as detail
      from st
      join pol p on st.regime = any (p.regimes)
      left join rd on rd.symbol = st.symbol
      left join fr on fr.symbol = st.symbol
  ),
  fan_agg as (
    select f.symbol,
           jsonb_agg(jsonb_build_object('strategy', f.strategy, 'route_type', f.route_type) order by f.strategy)
             filter (where f.ready and f.route_ok) as cands,
           coalesce(array_agg(f.strategy || ': ' || case when not f.ready then coalesce(f.detail, 'not ready')
                                                      else 'route ' || f.route_type || ' not fresh' end
                              order by f.strategy) filter (where not (f.ready and f.route_ok)), '{}') as why
      from fan f
     group by f.symbol
  ),
  cls as (
    select st.symbol, st.regime, st.generation_id, st.mid, st.spread_bps,
           coalesce(fr.routes, '[]'::jsonb) as routes, coalesce(rd.readiness, '[]'::jsonb) as readiness,
           coalesce(fa.cands, '[]'::jsonb) as cands,
           coalesce(fr.foreign_gens, 0) + coalesce(rd.foreign_gens, 0) as foreign_gens,
           case
             when cardinality(coalesce(fr.allowed_entry, '{}')) = 0 then 'stale'
             when st.book_valid is false then 'integrity'
             when st.regime is null or fa.symbol is null then 'regime_blocked'
             when fa.cands is null then 'not_ready'
             else 'eligible'
           end as status,
           case
             when cardinality(coalesce(fr.allowed_entry, '{}')) = 0 then
               case when fr.symbol is null then array['NO_ROUTES: no enabled route type for this symbol'] else fr.blocked end
             when st.book_valid is false then array['BOOK_INVALID: newest L2 sample failed its checksum']
             when st.regime is null then array['REGIME_NOT_ESTABLISHED: ' || coalesce(st.regime_reason, 'regime not confirmed yet')]
             when fa.symbol is null then array[format('REGIME_%s: no strategy enters in this regime (%s)', st.regime, coalesce(st.regime_reason, ''))]
             when fa.cands is null then fa.why
             else array(select format('%s via %s', c->>'strategy', c->>'route_type') from jsonb_array_elements(fa.cands) c)
           end as reasons
      from st
      left join fr on fr.symbol = st.symbol
      left join rd on rd.symbol = st.symbol
      left join fan_agg fa on fa.symbol = st.symbol
  )
  select jsonb_build_object(
           'generation', (select to_jsonb(g) from kapitaal.decision_generation__current(v_att.run_id) g),
           'symbols', coalesce((select jsonb_agg(to_jsonb(c) order by c.symbol) from cls c), '[]'::jsonb))
    into v_read;

  v_gen := v_read->'generation';
  v_syms := v_read->'symbols';
  select count(*)::int as n,
         (count(*) filter (where x.status = 'eligible'))::int as eligible,
         (count(*) filter (where x.status = 'not_ready'))::int as not_ready,
         (count(*) filter (where x.status = 'regime_blocked'))::int as regime,
         (count(*) filter (where x.status = 'stale'))::int as stale,
         (count(*) filter (where x.status = 'integrity'))::int as integrity,
         coalesce(sum(jsonb_array_length(x.cands)), 0)::int as cands,
         coalesce(bool_or(x.foreign_gens > 0 or x.generation_id is distinct from (v_gen->>'generation_id')::bigint), false) as mixed
    into v_counts
    from jsonb_to_recordset(v_syms) as x(symbol text, status text, cands jsonb, foreign_gens int, generation_id bigint);
  v_age := greatest(p_now - (v_gen->>'refreshed_at')::timestamptz, interval '0');

  if v_gen is null or jsonb_typeof(v_gen) = 'null' then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('NO_GENERATION: no state generation of run %s is visible on this cluster', v_att.run_id);
  elsif not (v_gen->>'complete')::boolean or v_counts.mixed then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('GENERATION_INCOMPLETE: generation %s shows %s of %s rows, %s of other generations',
                       v_gen->>'generation_id', v_gen->>'rows_of_generation', v_gen->>'symbols', v_gen->>'rows_of_other_generations');
  elsif v_age > v_pol.max_generation_age then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('GENERATION_STALE: newest visible generation %s is %s old > %s (refresh or feed fell behind)',
                       v_gen->>'generation_id', v_age, v_pol.max_generation_age);
  elsif v_counts.n = 0 then
    v_outcome := 'data_blocked';
    v_marker := 'ROUTE_EXECUTION_BLOCKED_STALE_DATA';
    v_reason := format('NO_SYMBOLS: generation %s holds no symbol state', v_gen->>'generation_id');
  elsif v_counts.stale + v_counts.integrity = v_counts.n then
    v_outcome := 'data_blocked';
    v_marker := case when v_counts.stale > 0 then 'ROUTE_EXECUTION_BLOCKED_STALE_DATA' else 'DATA_INTEGRITY_CHECKSUM_MISMATCH' end;
    v_reason := format('DATA_BLOCKED: no symbol has fresh, valid data (%s stale, %s failed integrity, of %s)',
                       v_counts.stale, v_counts.integrity, v_counts.n);
  else
    -- Data fine on some symbols: worth trading is decided after the ranking below.
    v_outcome := 'economically_empty';
  end if;

  insert into kapitaal.evaluations (
    run_id, epoch, generation_id, outcome, reason, marker, symbols, symbols_eligible, symbols_not_ready,
    symbols_regime_blocked, symbols_stale, symbols_integrity, candidates, generation_refreshed_at, generation_age,
    evaluated_at)
  values (
    v_att.run_id, v_att.epoch, (v_gen->>'generation_id')::bigint, v_outcome, coalesce(v_reason, 'RANKING'), v_marker,
    v_counts.n, v_counts.eligible, v_counts.not_ready, v_counts.regime, v_counts.stale, v_counts.integrity, 0,
    (v_gen->>'refreshed_at')::timestamptz, v_age, p_now)
  returning * into v_eval;

  insert into kapitaal.evaluation_symbols (evaluation_id, symbol, status, regime, reasons, routes, readiness)
  select v_eval.evaluation_id, x.symbol, x.status, x.regime, x.reasons, x.routes, x.readiness
    from jsonb_to_recordset(v_syms) as x(symbol text, status text, regime text, reasons text[], routes jsonb, readiness jsonb);

  if v_outcome = 'economically_empty' then
    -- Competitive scoring (strategy layer): every proposal ranked on net edge after fees, stored
    -- in evaluation_rankings under this evaluation id. Only when some symbol is eligible (regime,
    -- readiness and a fresh entry route all pass): otherwise nothing can be selectable and
    -- evaluation_symbols already says why. Without that layer, eligible = candidate.
    if v_strategy_layer and v_counts.eligible > 0 then
      execute 'select count(*) filter (where c.selectable)::int as selectable,
                      count(*) filter (where c.generation_id is distinct from $3)::int as foreign_gens,
                      max(c.symbol) filter (where c.selected) as symbol, max(c.strategy) filter (where c.selected) as strategy
                 from kapitaal.evaluation_rankings__record($1, $2, $4) c'
        into v_ranked
        using v_eval.evaluation_id, v_att.run_id, (v_gen->>'generation_id')::bigint, p_now;
    elsif v_strategy_layer then
      select 0 as selectable, 0 as foreign_gens, null::text as symbol, null::text as strategy into v_ranked;
    else
      select v_counts.cands as selectable, 0 as foreign_gens, null::text as symbol, null::text as strategy into v_ranked;
    end if;
    if v_ranked.foreign_gens > 0 then
      -- Read committed and a sync committed between the two reads: never mix generations.
      v_outcome := 'generation_blocked';
      v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
      v_reason := format('GENERATION_CHANGED: the ranking read another generation than %s; the next evaluation is queued',
                         v_gen->>'generation_id');
    elsif v_ranked.selectable > 0 then
      v_outcome := 'candidates';
      v_reason := format('CANDIDATES: %s selectable proposals on %s eligible of %s symbols%s', v_ranked.selectable,
                         v_counts.eligible, v_counts.n,
                         coalesce(format('; top-1 %s %s', v_ranked.strategy, v_ranked.symbol), ''));
    else
      v_reason := format('ECONOMICALLY_EMPTY: data fine on %s of %s symbols, nothing worth trading (%s eligible, %s regime blocked, %s not ready)',
                         v_counts.n - v_counts.stale - v_counts.integrity, v_counts.n, v_counts.eligible, v_counts.regime,
                         v_counts.not_ready);
    end if;
    update kapitaal.evaluations e
       set outcome = v_outcome, reason = v_reason, marker = v_marker,
           candidates = case when v_outcome = 'candidates' then v_ranked.selectable else 0 end,
           selected_symbol = v_ranked.symbol, selected_strategy = v_ranked.strategy
     where e.evaluation_id = v_eval.evaluation_id;
    if v_outcome = 'candidates' and to_regprocedure('kapitaal.evaluation__place_orders(bigint)') is not null then
      -- Hook for execution: the order intent of the top-1 (and its submit job) in this same transaction.
      execute 'select kapitaal.evaluation__place_orders($1)' using v_eval.evaluation_id;
    end if;
  end if;

  update kapitaal.evaluations e set duration_ms = round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3)
   where e.evaluation_id = v_eval.evaluation_id
  returning * into v_eval;
  return v_eval;
end
$$;
comment on function kapitaal.evaluation__run(bigint, timestamptz) is
  'One evaluation on the decision cluster, reading only decision-cluster state: attach (execution_attach__resolve; '
  'p_run_id pins the run), then in ONE statement the current generation (decision_generation__current), route freshness '
  '(apply_route_freshness_filter), readiness (strategy_readiness) and regime per symbol, fanned out over '
  'strategy_policy/strategy_regime_eligibility. Stores the evaluations row with the outcome (attach_blocked, '
  'generation_blocked, data_blocked, candidates, economically_empty) and evaluation_symbols with the reasons per symbol; '
  'when some symbol is eligible it records the strategy layer''s ranking (evaluation_rankings__record) under the '
  'evaluation id: candidates = at least one selectable proposal. With candidates and an existing '
  'kapitaal.evaluation__place_orders(bigint) it calls that in the same transaction. Time is p_now. Run it in a REPEATABLE '
  'READ transaction (the task does) so the ranking reads the same snapshot; under READ COMMITTED a generation change '
  'between the reads gives generation_blocked (GENERATION_CHANGED), never a mixed decision.';
--! EndIncluded decision/evaluation__run.sql
--! Included decision/evaluation__run_job.sql
create or replace function kapitaal.evaluation__run_job(
  p_run_id bigint default null,
  p_cadence_seconds numeric default null,
  p_now timestamptz default now()
)
returns table (evaluation kapitaal.evaluations, next_run_at timestamptz)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_cadence interval;
begin
  if p_cadence_seconds is not null and (p_cadence_seconds <= 0 or p_cadence_seconds > 3600) then
    raise exception 'evaluation__run_job: cadence must be in (0, 3600] seconds, got %', p_cadence_seconds using errcode = '22023';
  end if;
  evaluation := kapitaal.evaluation__run(p_run_id, p_now);
  if kapitaal.job_chain__wanted('evaluation__run', '{}'::jsonb) then
    v_cadence := coalesce(make_interval(secs => p_cadence_seconds::double precision),
                          (select p.evaluation_cadence from kapitaal.decision_policy p where p.policy = 'default'));
    next_run_at := kapitaal.job_chain__next(
      'evaluation__run', 'evaluation__run',
      jsonb_strip_nulls(jsonb_build_object('run_id', p_run_id, 'cadence_seconds', p_cadence_seconds)),
      'cadence', v_cadence, 0, p_now);
  end if;
  return next;
end
$$;
comment on function kapitaal.evaluation__run_job(bigint, numeric, timestamptz) is
  'Body of the Graphile Worker task evaluation__run: evaluation__run, then, while evaluation is enabled here, the next '
  'cycle (job_key evaluation__run, run_at = p_now + cadence unless a new generation already queued it sooner) in the '
  'same transaction. Cadence: p_cadence_seconds, else decision_policy.evaluation_cadence.';
--! EndIncluded decision/evaluation__run_job.sql
--! Included decision/evaluation__gate.sql
create or replace function kapitaal.evaluation__gate(p_evaluation_id bigint, p_now timestamptz default now())
returns table (
  evaluation_id bigint,
  run_id bigint,
  generation_id bigint,
  allowed boolean,
  reason text,
  marker text,
  current_generation_id bigint,
  generation_age interval
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_eval kapitaal.evaluations;
  v_gate record;
begin
  select * into v_eval from kapitaal.evaluations e where e.evaluation_id = p_evaluation_id;
  if not found then
    raise exception 'evaluation__gate: no evaluation %', p_evaluation_id using errcode = 'P0002';
  end if;
  select * into v_gate from kapitaal.generation_gate__check(v_eval.run_id, v_eval.generation_id, p_now);
  insert into kapitaal.evaluation_gate_checks (evaluation_id, checked_at, allowed, reason, marker, current_generation_id)
  values (p_evaluation_id, p_now, v_gate.allowed, v_gate.reason, v_gate.marker, v_gate.current_generation_id);
  evaluation_id := p_evaluation_id;
  run_id := v_eval.run_id;
  generation_id := v_eval.generation_id;
  allowed := v_gate.allowed;
  reason := v_gate.reason;
  marker := v_gate.marker;
  current_generation_id := v_gate.current_generation_id;
  generation_age := v_gate.generation_age;
  return next;
end
$$;
comment on function kapitaal.evaluation__gate(bigint, timestamptz) is
  'generation_gate__check for the run and generation an evaluation read, recorded in evaluation_gate_checks. The '
  'submit path calls it in the transaction that would place the order and places nothing unless allowed.';
--! EndIncluded decision/evaluation__gate.sql
--! Included decision/decision_publication__ensure.sql
create or replace function kapitaal.decision_publication__tables()
returns regclass[]
language sql
immutable
as $$
  select array['kapitaal.ingest_runs', 'kapitaal.run_pairs', 'kapitaal.ingest_epochs', 'kapitaal.ingest_snapshots',
               'kapitaal.run_symbol_state', 'kapitaal.state_generations']::regclass[]
$$;
comment on function kapitaal.decision_publication__tables() is
  'The tables the decision cluster receives from the ingest cluster, in sync mode and in logical replication mode alike.';

create or replace function kapitaal.decision_publication__ensure(p_publication text default 'kapitaal_decision')
returns text
language plpgsql
volatile
set search_path = kapitaal, pg_temp
as $$
declare
  v_tables text := (select string_agg(t::text, ', ') from unnest(kapitaal.decision_publication__tables()) t);
begin
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.decision_publication__ensure', 0));
  if exists (select 1 from pg_publication p where p.pubname = p_publication) then
    execute format('alter publication %I set table %s', p_publication, v_tables);
    return 'updated';
  end if;
  execute format('create publication %I for table %s', p_publication, v_tables);
  return 'created';
end
$$;
comment on function kapitaal.decision_publication__ensure(text) is
  'Ingest side of logical replication mode: creates the publication (default kapitaal_decision) of '
  'decision_publication__tables(), or resets its table list. Idempotent; needs wal_level = logical to be useful.';
--! EndIncluded decision/decision_publication__ensure.sql
--! Included decision/views.sql
create or replace view kapitaal.decision_status as
  select r.run_id, r.status, r.heartbeat_at, now() - r.heartbeat_at as heartbeat_age,
         e.epoch as last_epoch, e.published_at as last_epoch_at,
         g.generation_id as current_generation_id, g.refreshed_at as current_refreshed_at,
         now() - g.refreshed_at as generation_age, g.complete as generation_complete,
         v.lag as last_visibility_lag,
         (select max(x.lag) from kapitaal.state_generation_visibility x
           where x.run_id = r.run_id and x.visible_at > now() - interval '5 minutes') as max_visibility_lag_5m,
         ev.evaluation_id as last_evaluation_id, ev.evaluated_at as last_evaluated_at, ev.outcome as last_outcome,
         ev.reason as last_reason
    from kapitaal.ingest_runs r
    left join lateral (select ie.epoch, ie.published_at from kapitaal.ingest_epochs ie
                        where ie.run_id = r.run_id order by ie.epoch desc limit 1) e on true
    left join lateral kapitaal.decision_generation__current(r.run_id) g on true
    left join lateral (select x.lag from kapitaal.state_generation_visibility x
                        where x.run_id = r.run_id order by x.generation_id desc limit 1) v on true
    left join lateral (select x.* from kapitaal.evaluations x
                        where x.run_id = r.run_id order by x.evaluation_id desc limit 1) ev on true;
comment on view kapitaal.decision_status is
  'Per ingest run as the decision cluster sees it: heartbeat, newest epoch, current generation (age, complete), how '
  'long the last generation took to become visible here (and the worst in 5 minutes), and the last evaluation.';

create or replace view kapitaal.evaluation_outcomes as
  select e.outcome, count(*) as evaluations, max(e.evaluated_at) as last_at,
         (array_agg(e.reason order by e.evaluation_id desc))[1] as last_reason
    from kapitaal.evaluations e
   where e.evaluated_at > now() - interval '1 hour'
   group by e.outcome;
comment on view kapitaal.evaluation_outcomes is 'Evaluations of the last hour per outcome, with the newest reason: economically empty vs data-, attach- or generation-blocked.';
--! EndIncluded decision/views.sql
--! Included decision/grants.sql
-- Least privilege for the decision layer. Roles come from migrations/roles.sql.
revoke all on function kapitaal.decision_settings__configure(text, text, boolean) from public;
revoke all on function kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz) from public;
revoke all on function kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz) from public;
revoke all on function kapitaal.job_chain__watchdog(timestamptz) from public;
revoke all on function kapitaal.decision__upsert_rows(regclass, jsonb) from public;
revoke all on function kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz) from public;
revoke all on function kapitaal.evaluation__run(bigint, timestamptz) from public;
revoke all on function kapitaal.evaluation__run_job(bigint, numeric, timestamptz) from public;
revoke all on function kapitaal.evaluation__gate(bigint, timestamptz) from public;
revoke all on function kapitaal.evaluations__prune(timestamptz) from public;
revoke all on function kapitaal.decision_publication__ensure(text) from public;

-- The feed: the ingest side reads its payload; on the decision cluster the same role applies it.
grant execute on function kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer),
  kapitaal.state__sync_cursor(bigint), kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz),
  kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz),
  kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz),
  kapitaal.job_chain__watchdog(timestamptz)
  to kapitaal_ingest_writer;

-- Execution: evaluates, checks the gate, reads what it decided.
grant execute on function kapitaal.evaluation__run(bigint, timestamptz), kapitaal.evaluation__run_job(bigint, numeric, timestamptz),
  kapitaal.evaluation__gate(bigint, timestamptz), kapitaal.generation_gate__check(bigint, bigint, timestamptz),
  kapitaal.execution_attach__resolve(timestamptz, bigint), kapitaal.decision_generation__current(bigint),
  kapitaal.job_chain__next(text, text, jsonb, text, interval, integer, timestamptz),
  kapitaal.job_chain__failed(text, text, jsonb, bigint, text, interval, timestamptz),
  kapitaal.job_chain__watchdog(timestamptz), kapitaal.evaluations__prune(timestamptz)
  to kapitaal_execution;
grant select on kapitaal.evaluations, kapitaal.evaluation_symbols, kapitaal.evaluation_gate_checks, kapitaal.decision_policy,
  kapitaal.decision_settings, kapitaal.state_generation_visibility, kapitaal.job_chain_incidents,
  kapitaal.decision_status, kapitaal.evaluation_outcomes, kapitaal.ingest_runs, kapitaal.ingest_epochs,
  kapitaal.ingest_snapshots, kapitaal.run_pairs
  to kapitaal_execution;

grant execute on function kapitaal.generation_gate__check(bigint, bigint, timestamptz),
  kapitaal.execution_attach__resolve(timestamptz, bigint), kapitaal.decision_generation__current(bigint),
  kapitaal.state__sync_cursor(bigint), kapitaal.job_chain__wanted(text, jsonb), kapitaal.decision_publication__tables()
  to kapitaal_readonly;
grant select on kapitaal.evaluations, kapitaal.evaluation_symbols, kapitaal.evaluation_gate_checks, kapitaal.decision_policy,
  kapitaal.decision_settings, kapitaal.state_generation_visibility, kapitaal.job_chain_incidents,
  kapitaal.decision_status, kapitaal.evaluation_outcomes
  to kapitaal_readonly;
--! EndIncluded decision/grants.sql

--! split: 500-execution.sql
--! Included execution/order_statuses.sql
-- The order lifecycle as data: statuses and the transitions between them. order__transition
-- accepts exactly the rows of order_status_transitions; anything else is an error.
create table if not exists kapitaal.order_statuses (
  status text primary key check (status ~ '^[a-z][a-z_]*$'),
  terminal boolean not null,
  description text not null
);
comment on table kapitaal.order_statuses is
  'Order statuses of the OrderTracker. Terminal statuses never change again (a late fill of a cancelled or '
  'expired order is still booked, but the status stays).';
comment on column kapitaal.order_statuses.terminal is 'True when no transition leaves this status.';

insert into kapitaal.order_statuses (status, terminal, description) values
  ('new',              false, 'Intent written by the evaluation''s transaction, submit job queued; nothing has been sent.'),
  ('submitting',       false, 'The submit job committed this before calling the exchange. A retry must first ask the exchange about the client order id: an earlier attempt may have reached it.'),
  ('open',             false, 'Acknowledged by the exchange (exchange_order_id set), resting, nothing filled yet.'),
  ('partially_filled', false, 'Some quantity filled, the rest still working.'),
  ('filled',           true,  'The whole quantity filled.'),
  ('cancelled',        true,  'Cancelled by us, by the exchange (e.g. a post-only order that would take) or before it was sent. May carry partial fills.'),
  ('rejected',         true,  'Refused before sending (limits, capital, gates) or by the exchange; never filled.'),
  ('expired',          true,  'Time in force ran out on the exchange. May carry partial fills.')
on conflict do nothing;

create table if not exists kapitaal.order_status_transitions (
  from_status text not null references kapitaal.order_statuses (status) on delete cascade,
  to_status text not null references kapitaal.order_statuses (status) on delete cascade,
  description text not null,
  primary key (from_status, to_status),
  check (from_status <> to_status)
);
comment on table kapitaal.order_status_transitions is
  'Allowed order status transitions. order__transition refuses every pair not listed here; a transition to the '
  'current status is a harmless no-op and needs no row.';

insert into kapitaal.order_status_transitions (from_status, to_status, description) values
  ('new',              'submitting',       'The submit job starts (order__begin_submit), before any exchange call.'),
  ('new',              'rejected',         'Refused before sending: exchange limits, capital, generation or freshness gate.'),
  ('new',              'cancelled',        'Withdrawn before it was sent.'),
  ('submitting',       'open',             'The exchange acknowledged the order (txid known).'),
  ('submitting',       'partially_filled', 'A fill arrived before (or with) the acknowledgement.'),
  ('submitting',       'filled',           'Filled at once (taker, IOC) before or with the acknowledgement.'),
  ('submitting',       'rejected',         'The exchange refused the order (e.g. EOrder:Cost minimum not met, post-only would take).'),
  ('submitting',       'cancelled',        'Accepted and cancelled at once (e.g. post-only that would take), or found cancelled on recovery.'),
  ('submitting',       'expired',          'Found expired on recovery.'),
  ('open',             'partially_filled', 'First partial fill.'),
  ('open',             'filled',           'Filled completely.'),
  ('open',             'cancelled',        'Cancelled with nothing filled.'),
  ('open',             'expired',          'Time in force ran out with nothing filled.'),
  ('partially_filled', 'filled',           'The rest filled.'),
  ('partially_filled', 'cancelled',        'Cancelled after a partial fill.'),
  ('partially_filled', 'expired',          'Expired after a partial fill.')
on conflict do nothing;
--! EndIncluded execution/order_statuses.sql
--! Included execution/client_order_ids.sql
-- Deterministic client order ids (Kraken cl_ord_id). The same decision always yields the same id, so a
-- retried evaluation or submit can never create a second order; a per-database salt keeps a fresh decision
-- database (evaluation ids restarting at 1) from reusing the ids of an earlier one on the same account.
create table if not exists kapitaal.execution_instance (
  singleton boolean primary key default true check (singleton),
  instance_id uuid not null default gen_random_uuid(),
  created_at timestamptz not null default now()
);
comment on table kapitaal.execution_instance is
  'One row: a random id drawn when this decision database was created. Salts client order ids so that two '
  'databases trading one Kraken account never produce the same cl_ord_id.';
insert into kapitaal.execution_instance (singleton) values (true) on conflict do nothing;

create or replace function kapitaal.order__client_id(p_kind text, p_id bigint, p_leg text default '0')
returns text
language sql
stable
parallel safe
as $$
  select md5(format('kapitaal:%s:%s:%s:%s', i.instance_id, p_kind, p_id, p_leg))::uuid::text
    from kapitaal.execution_instance i
$$;
comment on function kapitaal.order__client_id(text, bigint, text) is
  'Deterministic client order id (a UUID, valid as Kraken cl_ord_id): md5 of this database''s instance id, the '
  'kind (''entry'', ''exit''), the id (evaluation_id for entries, position_id for exits) and the leg.';
--! EndIncluded execution/client_order_ids.sql
--! Included execution/append_only.sql
-- Shared trigger function for ledgers that may only grow (order_events, fills).
create or replace function kapitaal.tg__append_only()
returns trigger
language plpgsql
as $$
begin
  raise exception '%.% is append-only: % is not allowed', tg_table_schema, tg_table_name, tg_op
    using errcode = '42501', hint = 'Record a new row (a new event or fill) instead of changing history.';
end
$$;
comment on function kapitaal.tg__append_only() is
  'Trigger function that refuses UPDATE, DELETE and TRUNCATE on append-only ledgers (order_events, fills).';
--! EndIncluded execution/append_only.sql
--! Included execution/orders.sql
-- DB-first orders: the evaluation writes the intent here (and queues its submit job in the same
-- transaction) before anything is sent. Written only through order__create_intent, order__begin_submit,
-- order__transition and order__record_fill. Spot, long only: entries buy, exits sell.
create table if not exists kapitaal.orders (
  order_id bigint generated always as identity primary key,
  client_order_id text not null unique
    check (client_order_id ~ '^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|[A-Za-z0-9_-]{1,18})$'),
  account text not null default 'default',
  run_id bigint not null,
  evaluation_id bigint,
  generation_id bigint,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  order_type text not null check (order_type in ('limit', 'market')),
  post_only boolean not null default false,
  price numeric check (price > 0),
  reference_price numeric not null check (reference_price > 0),
  qty numeric not null check (qty > 0),
  strategy text not null,
  purpose text not null check (purpose in ('entry', 'exit')),
  exit_trigger text check (exit_trigger in ('stop_loss', 'take_profit', 'trailing_stop', 'time_stop', 'regime_change', 'manual')),
  regime text,
  position_id bigint,
  exchange_order_id text,
  status text not null default 'new' references kapitaal.order_statuses (status) on delete restrict,
  filled_qty numeric not null default 0,
  filled_quote numeric not null default 0,
  fees numeric not null default 0,
  avg_fill_price numeric,
  submit_attempts integer not null default 0,
  reason text not null check (btrim(reason) <> ''),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  constraint orders_price_by_type check (
    (order_type = 'limit' and price is not null) or (order_type = 'market' and price is null)),
  constraint orders_post_only_is_limit check (not post_only or order_type = 'limit'),
  constraint orders_long_only check (
    (purpose = 'entry' and side = 'buy' and exit_trigger is null)
    or (purpose = 'exit' and side = 'sell' and exit_trigger is not null and position_id is not null)),
  constraint orders_filled_within_qty check (filled_qty >= 0 and filled_qty <= qty)
);
create unique index if not exists orders_exchange_order_id_idx on kapitaal.orders (exchange_order_id)
  where exchange_order_id is not null;
create index if not exists orders_active_idx on kapitaal.orders (account, symbol)
  where status in ('new', 'submitting', 'open', 'partially_filled');
create index if not exists orders_position_idx on kapitaal.orders (position_id) where position_id is not null;
create index if not exists orders_evaluation_idx on kapitaal.orders (evaluation_id) where evaluation_id is not null;

comment on table kapitaal.orders is
  'Orders, written DB-first: the intent (status new) and its submit job are committed together before anything '
  'reaches the exchange; status is the current state of the append-only order_events history. Spot, long only: '
  'entries are buys, exits are sells of an open position.';
comment on column kapitaal.orders.client_order_id is
  'Deterministic id sent as Kraken cl_ord_id (UUID, 32 hex digits, or at most 18 of [A-Za-z0-9_-]); see '
  'order__client_id. A second intent with the same id is the same order.';
comment on column kapitaal.orders.account is 'Trading account (one Kraken API key, or paper); positions and capital are per account.';
comment on column kapitaal.orders.run_id is 'Ingest run whose data the decision used (no foreign key: ingest_runs lives on the ingest cluster).';
comment on column kapitaal.orders.evaluation_id is 'The evaluation that decided this order (null for exits from the exit loop).';
comment on column kapitaal.orders.generation_id is 'State generation the decision read; the submit job places nothing unless the decision cluster shows it.';
comment on column kapitaal.orders.price is 'Limit price (conformed to the tick); null for market orders.';
comment on column kapitaal.orders.reference_price is
  'Price the decision expected (the limit price for limit orders, the book price for market orders); reserves '
  'capital for the unfilled rest and explains slippage.';
comment on column kapitaal.orders.qty is 'Order quantity in base currency, conformed to the lot step.';
comment on column kapitaal.orders.purpose is 'entry (a buy opening or adding to a position) or exit (a sell of position_id).';
comment on column kapitaal.orders.exit_trigger is 'For exits: the rule that fired (see position__exit_decision) or manual.';
comment on column kapitaal.orders.regime is 'Regime of the pair when the decision was taken; an entry''s regime becomes the position''s entry_regime.';
comment on column kapitaal.orders.position_id is 'The position this order opened/added to (entries, set at the first fill) or closes (exits).';
comment on column kapitaal.orders.exchange_order_id is 'Kraken txid once acknowledged; never changes once set.';
comment on column kapitaal.orders.filled_qty is 'Sum of the quantities of this order''s fills.';
comment on column kapitaal.orders.filled_quote is 'Sum of price times quantity of this order''s fills (quote currency).';
comment on column kapitaal.orders.fees is 'Sum of this order''s fill fees (quote currency).';
comment on column kapitaal.orders.avg_fill_price is 'filled_quote / filled_qty.';
comment on column kapitaal.orders.submit_attempts is 'How often the submit job started on this order (order__begin_submit).';
comment on column kapitaal.orders.reason is 'Why the order exists, in words a DBA can read (the decision''s explanation).';
--! EndIncluded execution/orders.sql
--! Included execution/order_events.sql
-- OrderTracker history: one row per status change (and per submit retry), never changed afterwards.
create table if not exists kapitaal.order_events (
  event_id bigint generated always as identity primary key,
  order_id bigint not null references kapitaal.orders (order_id) on delete restrict,
  from_status text references kapitaal.order_statuses (status) on delete restrict,
  to_status text not null references kapitaal.order_statuses (status) on delete restrict,
  at timestamptz not null,
  exchange_order_id text,
  data jsonb,
  note text
);
create index if not exists order_events_order_idx on kapitaal.order_events (order_id, event_id);

comment on table kapitaal.order_events is
  'Append-only lifecycle of every order: creation (from_status null), each status transition, and submit retries '
  '(from_status = to_status = submitting). UPDATE, DELETE and TRUNCATE are refused by trigger and not granted.';
comment on column kapitaal.order_events.at is 'When it happened (the p_now of the writing function).';
comment on column kapitaal.order_events.data is 'What the exchange said (response, execution report, fill), as received.';
comment on column kapitaal.order_events.note is 'Why, in words.';

create or replace trigger _500_append_only
  before update or delete on kapitaal.order_events
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.order_events
  for each statement execute function kapitaal.tg__append_only();
--! EndIncluded execution/order_events.sql
--! Included execution/positions.sql
-- Positions derived from the fills ledger (order__record_fill keeps them; positions__recompute re-derives
-- them from scratch). Spot, long only: a buy opens or adds to the open position of its
-- (account, symbol, strategy), a sell reduces it; the base currency is fungible, so a sell reduces whatever
-- position of its key is open.
create table if not exists kapitaal.positions (
  position_id bigint generated always as identity primary key,
  account text not null,
  symbol text not null,
  strategy text not null,
  entry_order_id bigint not null references kapitaal.orders (order_id) on delete restrict,
  opened_run_id bigint,
  entry_regime text,
  opened_at timestamptz not null,
  closed_at timestamptz,
  qty numeric not null check (qty >= 0),
  cost_basis numeric not null check (cost_basis >= 0),
  avg_entry_price numeric not null check (avg_entry_price > 0),
  entry_fees_open numeric not null check (entry_fees_open >= 0),
  fees numeric not null check (fees >= 0),
  realised_pnl numeric not null,
  bought_qty numeric not null,
  bought_quote numeric not null,
  sold_qty numeric not null,
  sold_quote numeric not null,
  high_water_price numeric not null check (high_water_price > 0),
  trail_armed boolean not null default false,
  trail_armed_at timestamptz,
  updated_at timestamptz not null,
  constraint positions_open_iff_qty check ((closed_at is null) = (qty > 0))
);
create unique index if not exists positions_one_open_idx on kapitaal.positions (account, symbol, strategy)
  where closed_at is null;
create index if not exists positions_key_idx on kapitaal.positions (account, symbol, strategy, position_id);

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'orders_position_fk'
                    and conrelid = 'kapitaal.orders'::regclass) then
    alter table kapitaal.orders add constraint orders_position_fk
      foreign key (position_id) references kapitaal.positions (position_id) on delete restrict;
  end if;
end
$$;

comment on table kapitaal.positions is
  'Long spot positions per (account, symbol, strategy), at most one open per key, maintained from the fills '
  'ledger by order__record_fill (average-cost method). Realised P&L includes the fees of both legs: for a closed '
  'position realised_pnl = sold_quote - bought_quote - fees exactly. positions__verify compares this table with a '
  'from-scratch recomputation.';
comment on column kapitaal.positions.entry_order_id is 'The buy order whose fill opened the position.';
comment on column kapitaal.positions.entry_regime is 'Regime recorded on the entry order; a change away from it can trigger a regime_change exit.';
comment on column kapitaal.positions.opened_at is 'filled_at of the opening fill.';
comment on column kapitaal.positions.closed_at is 'filled_at of the fill that brought qty to zero; null while open.';
comment on column kapitaal.positions.qty is 'Open quantity (base currency).';
comment on column kapitaal.positions.cost_basis is
  'Quote paid for the open quantity, fees excluded. A partial sell removes cost_basis * sold / qty; the sell that '
  'closes the position removes the rest, so nothing is lost to rounding.';
comment on column kapitaal.positions.avg_entry_price is
  'cost_basis / qty after the last buy (unchanged by sells; kept after closing). Exit thresholds are relative to it.';
comment on column kapitaal.positions.entry_fees_open is
  'Entry (buy) fees of the open quantity not yet charged to realised_pnl; released pro rata by sells like cost_basis.';
comment on column kapitaal.positions.fees is 'All fees of this position''s fills, both legs (quote currency).';
comment on column kapitaal.positions.realised_pnl is
  'Sum over sells of (price - average cost) * qty - exit fee - the entry fees of the sold quantity.';
comment on column kapitaal.positions.bought_quote is 'Sum of price * qty of the buys (quote, fees excluded).';
comment on column kapitaal.positions.sold_quote is 'Sum of price * qty of the sells matched to this position.';
comment on column kapitaal.positions.high_water_price is
  'Highest price seen while open: the first fill price, then raised by later buys and by position__exit_decision marks.';
comment on column kapitaal.positions.trail_armed is
  'True once high_water_price reached the trailing-stop arming level; from then on a retrace below the trail fires.';
--! EndIncluded execution/positions.sql
--! Included execution/fills.sql
-- The fills ledger: one row per exchange trade, never changed. A replayed fill (same exchange and trade id)
-- is recognised by order__record_fill and changes nothing.
create table if not exists kapitaal.fills (
  fill_id bigint generated always as identity primary key,
  exchange text not null check (exchange ~ '^[a-z][a-z0-9_]*$'),
  exchange_trade_id text not null check (exchange_trade_id <> ''),
  order_id bigint not null references kapitaal.orders (order_id) on delete restrict,
  account text not null,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  strategy text not null,
  price numeric not null check (price > 0),
  qty numeric not null check (qty > 0),
  fee numeric not null check (fee >= 0),
  liquidity text not null check (liquidity in ('maker', 'taker')),
  filled_at timestamptz not null,
  recorded_at timestamptz not null,
  position_id bigint references kapitaal.positions (position_id) on delete restrict,
  unmatched_qty numeric not null default 0 check (unmatched_qty >= 0 and unmatched_qty <= qty),
  data jsonb,
  constraint fills_exchange_trade_key unique (exchange, exchange_trade_id)
);
create index if not exists fills_order_idx on kapitaal.fills (order_id);
create index if not exists fills_key_idx on kapitaal.fills (account, symbol, strategy, fill_id);

comment on table kapitaal.fills is
  'Fills ledger: one row per exchange trade, unique per (exchange, exchange_trade_id), append-only. Positions, '
  'order fill totals and ledger cash are derived from it, in fill_id (recording) order.';
comment on column kapitaal.fills.exchange is 'Where the trade happened: kraken, sim, paper.';
comment on column kapitaal.fills.exchange_trade_id is 'The exchange''s trade id (Kraken trade_id / exec_id of a trade execution).';
comment on column kapitaal.fills.account is 'Copied from the order, like symbol, side and strategy, so the ledger reads on its own.';
comment on column kapitaal.fills.fee is 'Fee in quote currency (a fee charged in base must be converted before recording).';
comment on column kapitaal.fills.liquidity is 'maker or taker (Kraken liquidity_ind m/t).';
comment on column kapitaal.fills.filled_at is 'Exchange time of the trade.';
comment on column kapitaal.fills.recorded_at is 'When the engine booked it (p_now).';
comment on column kapitaal.fills.position_id is 'Position this fill opened, increased or reduced; null for a sell with no open position.';
comment on column kapitaal.fills.unmatched_qty is
  'Part of a sell that found no open quantity (e.g. base bought outside the engine): booked as cash, not as P&L.';

create or replace trigger _500_append_only
  before update or delete on kapitaal.fills
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.fills
  for each statement execute function kapitaal.tg__append_only();
--! EndIncluded execution/fills.sql
--! Included execution/capital_policy.sql
-- Capital policy per account: sizing mode, caps and fee rates. Plain rows a DBA can read and change.
create table if not exists kapitaal.capital_policy (
  account text primary key default 'default',
  mode text not null default 'fixed' check (mode in ('fixed', 'compounding')),
  fixed_equity numeric not null default 220 check (fixed_equity > 0),
  initial_cash numeric not null default 220 check (initial_cash >= 0),
  max_position_quote numeric check (max_position_quote > 0),
  max_position_pct numeric not null default 25 check (max_position_pct > 0 and max_position_pct <= 100),
  max_total_exposure_pct numeric not null default 90 check (max_total_exposure_pct > 0 and max_total_exposure_pct <= 100),
  maker_fee_rate numeric not null default 0.0025 check (maker_fee_rate >= 0 and maker_fee_rate < 1),
  taker_fee_rate numeric not null default 0.0040 check (taker_fee_rate >= 0 and taker_fee_rate < 1),
  max_snapshot_age interval not null default interval '60 seconds' check (max_snapshot_age > interval '0'),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.capital_policy is
  'How much capital an account may put at risk, used by capital__position_size and capital__snapshot. Percentages '
  'are in percent (25 = 25 %), fee rates are fractions (0.0025 = 0.25 %). Spot without leverage: exposure never '
  'exceeds 100 % of equity.';
comment on column kapitaal.capital_policy.mode is
  'fixed: sizes from fixed_equity whatever the P&L. compounding: sizes from the equity of the newest capital '
  'snapshot (cash + positions at market, realised P&L included), so size grows with profit and shrinks with loss.';
comment on column kapitaal.capital_policy.fixed_equity is 'Equity assumed in fixed mode (the old engine''s 220).';
comment on column kapitaal.capital_policy.initial_cash is
  'Quote cash at the start of the fills ledger; capital__snapshot derives cash from it and the fills when no exchange balance is given (paper).';
comment on column kapitaal.capital_policy.max_position_quote is 'Absolute cap on the exposure in one symbol (quote); null = only the percentage cap.';
comment on column kapitaal.capital_policy.max_position_pct is 'Cap on the exposure in one symbol, percent of the sizing equity.';
comment on column kapitaal.capital_policy.max_total_exposure_pct is
  'Cap on allocated_quote + reserved_quote + the new order, percent of the sizing equity.';
comment on column kapitaal.capital_policy.maker_fee_rate is 'Maker fee as a fraction (Kraken entry tier 0.25 %; PROTOCOL.md: read real fees at run time where possible).';
comment on column kapitaal.capital_policy.taker_fee_rate is 'Taker fee as a fraction (Kraken entry tier 0.40 %).';
comment on column kapitaal.capital_policy.max_snapshot_age is
  'Compounding mode sizes only from a capital snapshot at most this old (the boundary is still fresh); otherwise size 0.';
insert into kapitaal.capital_policy (account) values ('default') on conflict do nothing;
--! EndIncluded execution/capital_policy.sql
--! Included execution/capital_snapshots.sql
create table if not exists kapitaal.capital_snapshots (
  snapshot_id bigint generated always as identity primary key,
  account text not null,
  at timestamptz not null,
  mode text not null,
  cash numeric not null,
  cash_source text not null check (cash_source in ('ledger', 'exchange')),
  positions_value numeric not null,
  equity numeric not null,
  allocated_quote numeric not null,
  reserved_quote numeric not null,
  realised_pnl_total numeric not null,
  unrealised_pnl numeric not null,
  fees_total numeric not null,
  open_positions integer not null,
  marks jsonb not null,
  constraint capital_snapshots_equity check (equity = cash + positions_value)
);
create index if not exists capital_snapshots_account_at_idx on kapitaal.capital_snapshots (account, at desc, snapshot_id desc);

comment on table kapitaal.capital_snapshots is
  'Equity curve: cash plus open positions marked to market at one moment, with what is allocated and reserved. '
  'Written by capital__snapshot; compounding sizing reads the newest one.';
comment on column kapitaal.capital_snapshots.cash is 'Quote cash: the exchange balance given, or initial_cash + sells - buys - fees from the fills ledger.';
comment on column kapitaal.capital_snapshots.cash_source is 'exchange (balance passed in) or ledger (derived from the fills).';
comment on column kapitaal.capital_snapshots.positions_value is 'Sum over open positions of qty * mark.';
comment on column kapitaal.capital_snapshots.equity is 'cash + positions_value.';
comment on column kapitaal.capital_snapshots.allocated_quote is 'Sum of cost_basis over open positions at that moment (not a constant).';
comment on column kapitaal.capital_snapshots.reserved_quote is 'Unfilled rest of active entry orders at their limit/reference price.';
comment on column kapitaal.capital_snapshots.realised_pnl_total is 'Sum of realised_pnl over all positions of the account (fees included).';
comment on column kapitaal.capital_snapshots.unrealised_pnl is 'positions_value - cost_basis - entry fees of the open quantity (exit fees not deducted).';
comment on column kapitaal.capital_snapshots.fees_total is 'All fees in the fills ledger of the account.';
comment on column kapitaal.capital_snapshots.marks is 'The mark prices used, {symbol: price}.';
--! EndIncluded execution/capital_snapshots.sql
--! Included execution/exit_policy.sql
-- Exit rules per strategy; the 'default' row applies to strategies without their own row.
create table if not exists kapitaal.exit_policy (
  strategy text primary key,
  stop_loss_pct numeric check (stop_loss_pct > 0 and stop_loss_pct < 100),
  take_profit_pct numeric check (take_profit_pct > 0),
  trailing_arm_pct numeric check (trailing_arm_pct >= 0),
  trailing_retrace_pct numeric check (trailing_retrace_pct > 0 and trailing_retrace_pct < 100),
  max_hold interval check (max_hold > interval '0'),
  exit_regimes text[] not null default '{}',
  exit_on_regime_change boolean not null default false,
  updated_at timestamptz not null default now(),
  constraint exit_policy_trailing_pair check ((trailing_arm_pct is null) = (trailing_retrace_pct is null))
);
comment on table kapitaal.exit_policy is
  'Exit rules applied by position__exit_decision, per strategy (row ''default'' for the rest). Percentages are in '
  'percent of the position''s avg_entry_price (trailing retrace: of the high-water price); a null rule is off. '
  'Every threshold fires AT the boundary (inclusive).';
comment on column kapitaal.exit_policy.stop_loss_pct is 'stop_loss fires when mark <= avg_entry_price * (1 - stop_loss_pct/100).';
comment on column kapitaal.exit_policy.take_profit_pct is 'take_profit fires when mark >= avg_entry_price * (1 + take_profit_pct/100).';
comment on column kapitaal.exit_policy.trailing_arm_pct is
  'The trailing stop arms once high_water_price >= avg_entry_price * (1 + trailing_arm_pct/100); it stays armed.';
comment on column kapitaal.exit_policy.trailing_retrace_pct is
  'An armed trailing_stop fires when mark <= high_water_price * (1 - trailing_retrace_pct/100).';
comment on column kapitaal.exit_policy.max_hold is 'time_stop fires when p_now - opened_at >= max_hold.';
comment on column kapitaal.exit_policy.exit_regimes is 'regime_change fires when the pair''s current regime is one of these (e.g. CHAOS).';
comment on column kapitaal.exit_policy.exit_on_regime_change is
  'regime_change also fires when the current regime differs from the position''s entry_regime.';
insert into kapitaal.exit_policy (strategy, stop_loss_pct, take_profit_pct, trailing_arm_pct, trailing_retrace_pct,
                                  max_hold, exit_regimes, exit_on_regime_change)
values ('default', 2, 4, 1.5, 0.75, interval '4 hours', array['CHAOS'], false)
on conflict do nothing;
--! EndIncluded execution/exit_policy.sql
--! Included execution/order__transition.sql
create or replace function kapitaal.order__transition(
  p_order_id bigint,
  p_to_status text,
  p_exchange_order_id text default null,
  p_data jsonb default null,
  p_now timestamptz default now(),
  p_note text default null
)
returns table (order_id bigint, from_status text, to_status text, changed boolean)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_allowed text;
begin
  -- The row lock serialises every writer of this order (transitions, fills, submit starts).
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__transition: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  if not exists (select 1 from kapitaal.order_statuses s where s.status = p_to_status) then
    raise exception 'order__transition: unknown order status %', coalesce(quote_literal(p_to_status), 'NULL')
      using errcode = '22023';
  end if;
  if p_exchange_order_id is not null and v_order.exchange_order_id is not null
     and p_exchange_order_id <> v_order.exchange_order_id then
    raise exception 'order__transition: order % already has exchange order id %, refusing %',
      p_order_id, v_order.exchange_order_id, p_exchange_order_id using errcode = '23505';
  end if;

  if v_order.status = p_to_status then
    -- A replayed report: nothing changes, except learning a txid we did not know yet.
    if v_order.exchange_order_id is null and p_exchange_order_id is not null then
      update kapitaal.orders o set exchange_order_id = p_exchange_order_id, updated_at = p_now
       where o.order_id = p_order_id;
    end if;
    return query select p_order_id, v_order.status, p_to_status, false;
    return;
  end if;

  if not exists (select 1 from kapitaal.order_status_transitions t
                  where t.from_status = v_order.status and t.to_status = p_to_status) then
    select string_agg(t.to_status, ', ' order by t.to_status) into v_allowed
      from kapitaal.order_status_transitions t where t.from_status = v_order.status;
    raise exception 'order__transition: order % cannot go from % to %', p_order_id, v_order.status, p_to_status
      using errcode = '55000',
            hint = 'Allowed from ' || v_order.status || ': ' || coalesce(v_allowed, 'nothing (terminal status)') || '.';
  end if;

  update kapitaal.orders o
     set status = p_to_status,
         exchange_order_id = coalesce(o.exchange_order_id, p_exchange_order_id),
         updated_at = p_now
   where o.order_id = p_order_id;
  insert into kapitaal.order_events (order_id, from_status, to_status, at, exchange_order_id, data, note)
  values (p_order_id, v_order.status, p_to_status, p_now, coalesce(p_exchange_order_id, v_order.exchange_order_id),
          p_data, p_note);
  return query select p_order_id, v_order.status, p_to_status, true;
end
$$;
comment on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) is
  'Moves an order to p_to_status if order_status_transitions allows it, records the event and the exchange order '
  'id (txid). Locks the order row, so concurrent transitions serialise. A transition to the current status is a '
  'no-op (changed = false: replays are harmless); a transition not allowed raises SQLSTATE 55000 and changes '
  'nothing; a txid different from the recorded one raises 23505.';
--! EndIncluded execution/order__transition.sql
--! Included execution/order__create_intent.sql
create or replace function kapitaal.order__create_intent(
  p_client_order_id text,
  p_run_id bigint,
  p_symbol text,
  p_side text,
  p_order_type text,
  p_qty numeric,
  p_price numeric,
  p_strategy text,
  p_purpose text,
  p_reason text,
  p_evaluation_id bigint default null,
  p_generation_id bigint default null,
  p_post_only boolean default false,
  p_reference_price numeric default null,
  p_exit_trigger text default null,
  p_position_id bigint default null,
  p_regime text default null,
  p_account text default 'default',
  p_max_attempts integer default 25,
  p_now timestamptz default now()
)
returns table (order_id bigint, client_order_id text, status text, created boolean, job_id bigint)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_pos kapitaal.positions;
  v_pending bigint;
  v_job_id bigint;
begin
  if p_client_order_id is null then
    raise exception 'order__create_intent: client order id is required' using errcode = '22004';
  end if;

  -- Idempotent: the same client id is the same order, whatever happened since.
  select * into v_order from kapitaal.orders o where o.client_order_id = p_client_order_id;
  if not found then
    if p_purpose = 'exit' then
      select * into v_pos from kapitaal.positions p where p.position_id = p_position_id for update;
      if not found or v_pos.closed_at is not null then
        raise exception 'order__create_intent: exit for position % which is not open', p_position_id
          using errcode = '55000';
      end if;
      if (v_pos.account, v_pos.symbol, v_pos.strategy) is distinct from (p_account, p_symbol, p_strategy) then
        raise exception 'order__create_intent: exit order (%, %, %) does not match position % (%, %, %)',
          p_account, p_symbol, p_strategy, p_position_id, v_pos.account, v_pos.symbol, v_pos.strategy
          using errcode = '22023';
      end if;
      if p_qty > v_pos.qty then
        raise exception 'order__create_intent: exit quantity % exceeds position % quantity %', p_qty, p_position_id, v_pos.qty
          using errcode = '22023';
      end if;
      select o.order_id into v_pending from kapitaal.orders o
       where o.position_id = p_position_id and o.purpose = 'exit'
         and o.status in ('new', 'submitting', 'open', 'partially_filled')
       limit 1;
      if found then
        raise exception 'order__create_intent: position % already has exit order % in flight', p_position_id, v_pending
          using errcode = '55000', hint = 'Never two exits for one position: wait for or cancel the first.';
      end if;
    end if;

    insert into kapitaal.orders as o (client_order_id, account, run_id, evaluation_id, generation_id, symbol, side,
                                      order_type, post_only, price, reference_price, qty, strategy, purpose,
                                      exit_trigger, regime, position_id, reason, created_at, updated_at)
    values (p_client_order_id, p_account, p_run_id, p_evaluation_id, p_generation_id, p_symbol, p_side,
            p_order_type, coalesce(p_post_only, false), p_price, coalesce(p_reference_price, p_price), p_qty,
            p_strategy, p_purpose, p_exit_trigger, p_regime, p_position_id, p_reason, p_now, p_now)
    on conflict (client_order_id) do nothing
    returning * into v_order;

    if found then
      insert into kapitaal.order_events (order_id, from_status, to_status, at, data, note)
      values (v_order.order_id, null, 'new', p_now,
              jsonb_build_object('evaluation_id', p_evaluation_id, 'generation_id', p_generation_id),
              'intent: ' || p_reason);
      select (graphile_worker.add_job(
                'order__submit',
                json_build_object('order_id', v_order.order_id),
                job_key => 'order__submit:' || v_order.order_id,
                max_attempts => p_max_attempts)).id
        into v_job_id;
      return query select v_order.order_id, v_order.client_order_id, v_order.status, true, v_job_id;
      return;
    end if;
    -- A concurrent transaction inserted the same client id first; read what it committed.
    select * into v_order from kapitaal.orders o where o.client_order_id = p_client_order_id;
  end if;

  if (v_order.account, v_order.symbol, v_order.side, v_order.order_type, v_order.qty, v_order.price, v_order.purpose)
     is distinct from (p_account, p_symbol, p_side, p_order_type, p_qty, p_price, p_purpose) then
    raise exception 'order__create_intent: client order id % already belongs to order % (% % % % @ %), not to this intent (% % % % @ %)',
      p_client_order_id, v_order.order_id, v_order.side, v_order.order_type, v_order.qty, v_order.symbol, v_order.price,
      p_side, p_order_type, p_qty, p_symbol, p_price
      using errcode = '23505';
  end if;
  return query select v_order.order_id, v_order.client_order_id, v_order.status, false, null::bigint;
end
$$;
comment on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) is
  'Writes an order intent (status new, with a creation event) and queues its order__submit job '
  '(job_key order__submit:<order_id>) in the caller''s transaction: both or neither. Idempotent by client order '
  'id: a repeated call returns the existing order with created = false and queues nothing; the same id with '
  'different terms is an error. Exits must name an open position of the same account/symbol/strategy, not exceed '
  'its quantity, and find no other exit of it in flight.';
--! EndIncluded execution/order__create_intent.sql
--! Included execution/order__begin_submit.sql
create or replace function kapitaal.order__begin_submit(p_order_id bigint, p_now timestamptz default now())
returns table (proceed boolean, must_query_exchange boolean, status text, client_order_id text, submit_attempts integer)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__begin_submit: order % does not exist', p_order_id using errcode = 'P0002';
  end if;

  if v_order.status = 'new' then
    update kapitaal.orders o set submit_attempts = o.submit_attempts + 1 where o.order_id = p_order_id;
    perform kapitaal.order__transition(p_order_id, 'submitting', null, null, p_now, 'submit attempt 1');
    return query select true, false, 'submitting'::text, v_order.client_order_id, v_order.submit_attempts + 1;
  elsif v_order.status = 'submitting' then
    -- An earlier attempt committed 'submitting' and may have reached the exchange before it died.
    update kapitaal.orders o set submit_attempts = o.submit_attempts + 1, updated_at = p_now
     where o.order_id = p_order_id;
    insert into kapitaal.order_events (order_id, from_status, to_status, at, exchange_order_id, note)
    values (p_order_id, 'submitting', 'submitting', p_now, v_order.exchange_order_id,
            format('submit attempt %s: an earlier attempt may have reached the exchange; query client order id %s first',
                   v_order.submit_attempts + 1, v_order.client_order_id));
    return query select true, true, 'submitting'::text, v_order.client_order_id, v_order.submit_attempts + 1;
  else
    -- Already acknowledged or finished: submitting again could double the order.
    return query select false, false, v_order.status, v_order.client_order_id, v_order.submit_attempts;
  end if;
end
$$;
comment on function kapitaal.order__begin_submit(bigint, timestamptz) is
  'Start of the order__submit job, committed before any exchange call. new -> submitting: proceed, no query needed. '
  'Already submitting (an earlier attempt died after this point): proceed, but must_query_exchange = true, i.e. '
  'first look the client order id up on the exchange and only send when it is not there. Any later status: '
  'proceed = false, the order must not be sent again.';
--! EndIncluded execution/order__begin_submit.sql
--! Included execution/position__step.sql
create or replace function kapitaal.position__step(
  p_qty numeric,
  p_cost_basis numeric,
  p_entry_fees_open numeric,
  p_side text,
  p_fill_price numeric,
  p_fill_qty numeric,
  p_fill_fee numeric
)
returns table (qty numeric, cost_basis numeric, entry_fees_open numeric, matched_qty numeric, realised_delta numeric)
language sql
immutable
strict
parallel safe
as $$
  with m as (
    select case when p_side = 'buy' then p_fill_qty else least(p_fill_qty, p_qty) end as matched
  ), r as (
    -- What a sell takes out of the open cost and entry fees: pro rata, or everything when it closes.
    -- trim_scale only drops trailing zeros (same value, shorter to read).
    select m.matched,
           case when p_side = 'buy' or m.matched = 0 then 0::numeric
                when m.matched = p_qty then p_cost_basis
                else trim_scale(p_cost_basis * m.matched / p_qty) end as cost_out,
           case when p_side = 'buy' or m.matched = 0 then 0::numeric
                when m.matched = p_qty then p_entry_fees_open
                else trim_scale(p_entry_fees_open * m.matched / p_qty) end as fees_out
      from m
  )
  select trim_scale(case when p_side = 'buy' then p_qty + p_fill_qty else p_qty - r.matched end),
         trim_scale(case when p_side = 'buy' then p_cost_basis + p_fill_price * p_fill_qty else p_cost_basis - r.cost_out end),
         trim_scale(case when p_side = 'buy' then p_entry_fees_open + p_fill_fee else p_entry_fees_open - r.fees_out end),
         r.matched,
         trim_scale(case when p_side = 'buy' or r.matched = 0 then 0::numeric
                         else p_fill_price * r.matched - r.cost_out - r.fees_out - p_fill_fee end)
    from r
$$;
comment on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) is
  'The position arithmetic of one fill (average cost, fees on both legs), shared by order__record_fill and the '
  'positions__recompute oracle. Buy: qty, cost_basis and entry_fees_open grow. Sell: matched = least(fill, open '
  'qty); cost and entry fees leave pro rata (all of them when the sell closes the position); realised_delta = '
  'price * matched - cost out - entry fees out - sell fee. A sell that matches nothing realises nothing.';
--! EndIncluded execution/position__step.sql
--! Included execution/order__record_fill.sql
create or replace function kapitaal.order__record_fill(
  p_order_id bigint,
  p_exchange text,
  p_exchange_trade_id text,
  p_price numeric,
  p_qty numeric,
  p_fee numeric,
  p_liquidity text,
  p_filled_at timestamptz,
  p_data jsonb default null,
  p_now timestamptz default now()
)
returns table (fill_id bigint, is_new boolean, order_status text, position_id bigint)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_fill kapitaal.fills;
  v_pos kapitaal.positions;
  v_has_pos boolean;
  v_step record;
  v_position_id bigint;
  v_filled numeric;
  v_status text;
begin
  -- Serialises with transitions and other fills of this order.
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__record_fill: order % does not exist', p_order_id using errcode = 'P0002';
  end if;

  select * into v_fill from kapitaal.fills f where f.exchange = p_exchange and f.exchange_trade_id = p_exchange_trade_id;
  if found then
    if (v_fill.order_id, v_fill.price, v_fill.qty, v_fill.fee) is distinct from (p_order_id, p_price, p_qty, p_fee) then
      raise exception 'order__record_fill: % trade % is already booked as order % % @ % fee %, not order % % @ % fee %',
        p_exchange, p_exchange_trade_id, v_fill.order_id, v_fill.qty, v_fill.price, v_fill.fee,
        p_order_id, p_qty, p_price, p_fee using errcode = '23505';
    end if;
    return query select v_fill.fill_id, false, v_order.status, v_fill.position_id;
    return;
  end if;

  if p_price is null or p_price <= 0 or p_qty is null or p_qty <= 0 or p_fee is null or p_fee < 0 then
    raise exception 'order__record_fill: price and qty must be positive and fee not negative (got % @ %, fee %)',
      p_qty, p_price, p_fee using errcode = '22023';
  end if;
  if v_order.status in ('new', 'rejected') then
    raise exception 'order__record_fill: order % is %, it cannot have fills', p_order_id, v_order.status
      using errcode = '55000';
  end if;
  v_filled := v_order.filled_qty + p_qty;
  if v_filled > v_order.qty then
    raise exception 'order__record_fill: trade % would overfill order % (% + % > %)',
      p_exchange_trade_id, p_order_id, v_order.filled_qty, p_qty, v_order.qty using errcode = '23514';
  end if;

  -- One writer per position key: two orders of one key cannot both open a position.
  perform pg_advisory_xact_lock(hashtextextended(
    format('kapitaal.positions:%s:%s:%s', v_order.account, v_order.symbol, v_order.strategy), 0));
  select * into v_pos from kapitaal.positions p
   where p.account = v_order.account and p.symbol = v_order.symbol and p.strategy = v_order.strategy
     and p.closed_at is null
   for update;
  v_has_pos := found;

  if v_order.side = 'buy' or v_has_pos then
    select * into v_step from kapitaal.position__step(
      case when v_has_pos then v_pos.qty else 0 end,
      case when v_has_pos then v_pos.cost_basis else 0 end,
      case when v_has_pos then v_pos.entry_fees_open else 0 end,
      v_order.side, p_price, p_qty, p_fee);
  end if;

  if v_order.side = 'buy' and not v_has_pos then
    insert into kapitaal.positions as p (account, symbol, strategy, entry_order_id, opened_run_id, entry_regime,
                                         opened_at, qty, cost_basis, avg_entry_price, entry_fees_open, fees,
                                         realised_pnl, bought_qty, bought_quote, sold_qty, sold_quote,
                                         high_water_price, updated_at)
    values (v_order.account, v_order.symbol, v_order.strategy, v_order.order_id, v_order.run_id, v_order.regime,
            p_filled_at, v_step.qty, v_step.cost_basis, trim_scale(v_step.cost_basis / v_step.qty), v_step.entry_fees_open, p_fee,
            0, p_qty, p_price * p_qty, 0, 0, p_price, p_now)
    returning p.position_id into v_position_id;
  elsif v_order.side = 'buy' then
    update kapitaal.positions p
       set qty = v_step.qty, cost_basis = v_step.cost_basis, avg_entry_price = trim_scale(v_step.cost_basis / v_step.qty),
           entry_fees_open = v_step.entry_fees_open, fees = p.fees + p_fee,
           bought_qty = p.bought_qty + p_qty, bought_quote = p.bought_quote + p_price * p_qty,
           high_water_price = greatest(p.high_water_price, p_price), updated_at = p_now
     where p.position_id = v_pos.position_id;
    v_position_id := v_pos.position_id;
  elsif v_has_pos then
    update kapitaal.positions p
       set qty = v_step.qty, cost_basis = v_step.cost_basis, entry_fees_open = v_step.entry_fees_open,
           fees = p.fees + p_fee, realised_pnl = trim_scale(p.realised_pnl + v_step.realised_delta),
           sold_qty = p.sold_qty + v_step.matched_qty, sold_quote = p.sold_quote + p_price * v_step.matched_qty,
           closed_at = case when v_step.qty = 0 then p_filled_at end, updated_at = p_now
     where p.position_id = v_pos.position_id;
    v_position_id := v_pos.position_id;
  end if;

  insert into kapitaal.fills as f (exchange, exchange_trade_id, order_id, account, symbol, side, strategy, price, qty,
                                   fee, liquidity, filled_at, recorded_at, position_id, unmatched_qty, data)
  values (p_exchange, p_exchange_trade_id, p_order_id, v_order.account, v_order.symbol, v_order.side,
          v_order.strategy, p_price, p_qty, p_fee, p_liquidity, p_filled_at, p_now, v_position_id,
          case when v_position_id is null then p_qty else p_qty - coalesce(v_step.matched_qty, 0) end, p_data)
  returning * into v_fill;

  update kapitaal.orders o
     set filled_qty = v_filled,
         filled_quote = o.filled_quote + p_price * p_qty,
         fees = o.fees + p_fee,
         avg_fill_price = (o.filled_quote + p_price * p_qty) / v_filled,
         position_id = coalesce(o.position_id, v_position_id),
         updated_at = p_now
   where o.order_id = p_order_id;

  v_status := v_order.status;
  if not (select s.terminal from kapitaal.order_statuses s where s.status = v_order.status) then
    v_status := case when v_filled = v_order.qty then 'filled' else 'partially_filled' end;
    perform kapitaal.order__transition(
      p_order_id, v_status, null,
      jsonb_build_object('fill_id', v_fill.fill_id, 'exchange_trade_id', p_exchange_trade_id, 'price', p_price,
                         'qty', p_qty, 'fee', p_fee, 'liquidity', p_liquidity),
      p_now, format('fill %s of %s', v_filled, v_order.qty));
  end if;
  return query select v_fill.fill_id, true, v_status, v_position_id;
end
$$;
comment on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) is
  'Books one exchange trade of an order: appends it to the fills ledger, updates the order''s filled quantity, '
  'quote, fees and average price, moves the order to partially_filled or filled (a terminal order such as a '
  'cancelled one keeps its status), and applies it to the position of the order''s (account, symbol, strategy) '
  'with position__step. A replayed trade (same exchange and trade id, same terms) returns is_new = false and '
  'changes nothing; the same trade id with other terms, a fill of a new or rejected order, or an overfill raises.';
--! EndIncluded execution/order__record_fill.sql
--! Included execution/positions__recompute.sql
create or replace function kapitaal.positions__recompute(p_account text default null)
returns table (
  account text, symbol text, strategy text, ordinal integer, entry_order_id bigint, opened_at timestamptz,
  closed_at timestamptz, qty numeric, cost_basis numeric, avg_entry_price numeric, entry_fees_open numeric,
  fees numeric, realised_pnl numeric, bought_qty numeric, bought_quote numeric, sold_qty numeric, sold_quote numeric
)
language plpgsql
stable
as $$
declare
  v_key record;
  v_fill record;
  v_step record;
  v_open boolean;
begin
  for v_key in
    select distinct f.account, f.symbol, f.strategy from kapitaal.fills f
     where p_account is null or f.account = p_account
     order by 1, 2, 3
  loop
    v_open := false;
    ordinal := 0;
    for v_fill in
      select f.* from kapitaal.fills f
       where f.account = v_key.account and f.symbol = v_key.symbol and f.strategy = v_key.strategy
       order by f.fill_id
    loop
      if v_fill.side = 'sell' and not v_open then
        continue; -- nothing open: the sell is booked as unmatched cash
      end if;
      if not v_open then
        v_open := true;
        account := v_key.account; symbol := v_key.symbol; strategy := v_key.strategy;
        ordinal := ordinal + 1;
        entry_order_id := v_fill.order_id; opened_at := v_fill.filled_at; closed_at := null;
        qty := 0; cost_basis := 0; entry_fees_open := 0; fees := 0; realised_pnl := 0;
        bought_qty := 0; bought_quote := 0; sold_qty := 0; sold_quote := 0;
      end if;
      select * into v_step
        from kapitaal.position__step(qty, cost_basis, entry_fees_open, v_fill.side, v_fill.price, v_fill.qty, v_fill.fee);
      qty := v_step.qty;
      cost_basis := v_step.cost_basis;
      entry_fees_open := v_step.entry_fees_open;
      fees := fees + v_fill.fee;
      realised_pnl := trim_scale(realised_pnl + v_step.realised_delta);
      if v_fill.side = 'buy' then
        avg_entry_price := trim_scale(v_step.cost_basis / v_step.qty);
        bought_qty := bought_qty + v_fill.qty;
        bought_quote := bought_quote + v_fill.price * v_fill.qty;
      else
        sold_qty := sold_qty + v_step.matched_qty;
        sold_quote := sold_quote + v_fill.price * v_step.matched_qty;
        if qty = 0 then
          closed_at := v_fill.filled_at;
          v_open := false;
          return next;
        end if;
      end if;
    end loop;
    if v_open then
      return next;
    end if;
  end loop;
end
$$;
comment on function kapitaal.positions__recompute(text) is
  'The oracle: derives all positions from the fills ledger from scratch, replaying fills in fill_id order per '
  '(account, symbol, strategy) with the same position__step arithmetic. ordinal numbers the positions of one key '
  '(1 = first opened). Trailing-stop state (high water, armed) depends on marks and is not derived.';

create or replace function kapitaal.positions__verify(p_account text default null)
returns table (
  source text, account text, symbol text, strategy text, ordinal integer, entry_order_id bigint, opened_at timestamptz,
  closed_at timestamptz, qty numeric, cost_basis numeric, avg_entry_price numeric, entry_fees_open numeric,
  fees numeric, realised_pnl numeric, bought_qty numeric, bought_quote numeric, sold_qty numeric, sold_quote numeric
)
language sql
stable
as $$
  with kept as (
    select p.account, p.symbol, p.strategy,
           (row_number() over (partition by p.account, p.symbol, p.strategy order by p.position_id))::integer,
           p.entry_order_id, p.opened_at, p.closed_at, p.qty, p.cost_basis, p.avg_entry_price, p.entry_fees_open,
           p.fees, p.realised_pnl, p.bought_qty, p.bought_quote, p.sold_qty, p.sold_quote
      from kapitaal.positions p
     where p_account is null or p.account = p_account
  ), derived as (
    select * from kapitaal.positions__recompute(p_account)
  )
  (select 'positions_only', * from kept except select 'positions_only', * from derived)
  union all
  (select 'recomputed_only', * from derived except select 'recomputed_only', * from kept)
$$;
comment on function kapitaal.positions__verify(text) is
  'Compares the positions table with positions__recompute (the fills ledger replayed from scratch), value for '
  'value with exact numeric equality. No rows means they agree; positions_only / recomputed_only rows show the '
  'differences.';
--! EndIncluded execution/positions__recompute.sql
--! Included execution/capital__exposure.sql
create or replace function kapitaal.capital__exposure(p_account text default 'default', p_symbol text default null)
returns table (allocated_quote numeric, reserved_quote numeric)
language sql
stable
as $$
  select (select coalesce(sum(p.cost_basis), 0) from kapitaal.positions p
           where p.account = p_account and p.closed_at is null and (p_symbol is null or p.symbol = p_symbol)),
         (select coalesce(sum((o.qty - o.filled_qty) * coalesce(o.price, o.reference_price)), 0) from kapitaal.orders o
           where o.account = p_account and o.purpose = 'entry'
             and o.status in ('new', 'submitting', 'open', 'partially_filled')
             and (p_symbol is null or o.symbol = p_symbol))
$$;
comment on function kapitaal.capital__exposure(text, text) is
  'Capital in use by an account (optionally one symbol): allocated_quote = cost basis of the open positions, '
  'reserved_quote = unfilled rest of active entry orders at their limit (or reference) price.';
--! EndIncluded execution/capital__exposure.sql
--! Included execution/capital__snapshot.sql
create or replace function kapitaal.capital__snapshot(
  p_marks jsonb,
  p_cash numeric default null,
  p_now timestamptz default now(),
  p_account text default 'default'
)
returns kapitaal.capital_snapshots
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_policy kapitaal.capital_policy;
  v_missing text;
  v_cash numeric;
  v_snap kapitaal.capital_snapshots;
begin
  select * into v_policy from kapitaal.capital_policy c where c.account = p_account;
  if not found then
    raise exception 'capital__snapshot: no capital_policy row for account %', p_account using errcode = 'P0002';
  end if;
  if p_marks is null or jsonb_typeof(p_marks) <> 'object' then
    raise exception 'capital__snapshot: marks must be a JSON object {symbol: price}' using errcode = '22023';
  end if;
  -- Never value a position at a price we do not have.
  select string_agg(distinct p.symbol, ', ') into v_missing
    from kapitaal.positions p
   where p.account = p_account and p.closed_at is null
     and (not p_marks ? p.symbol or jsonb_typeof(p_marks -> p.symbol) not in ('number', 'string')
          or (p_marks ->> p.symbol) !~ '^[0-9]+(\.[0-9]+)?$' or (p_marks ->> p.symbol)::numeric <= 0);
  if v_missing is not null then
    raise exception 'capital__snapshot: no valid positive mark price for open position(s) in %', v_missing
      using errcode = '22023';
  end if;

  if p_cash is not null then
    v_cash := p_cash;
  else
    select v_policy.initial_cash
           + coalesce(sum(case when f.side = 'sell' then f.price * f.qty else -(f.price * f.qty) end - f.fee), 0)
      into v_cash
      from kapitaal.fills f where f.account = p_account;
  end if;

  insert into kapitaal.capital_snapshots as s (account, at, mode, cash, cash_source, positions_value, equity,
                                               allocated_quote, reserved_quote, realised_pnl_total, unrealised_pnl,
                                               fees_total, open_positions, marks)
  select p_account, p_now, v_policy.mode, v_cash, case when p_cash is null then 'ledger' else 'exchange' end,
         o.value, v_cash + o.value, o.cost, e.reserved_quote, r.realised, o.value - o.cost - o.entry_fees,
         r.fees, o.n, p_marks
    from (select coalesce(sum(p.qty * (p_marks ->> p.symbol)::numeric), 0) as value,
                 coalesce(sum(p.cost_basis), 0) as cost,
                 coalesce(sum(p.entry_fees_open), 0) as entry_fees,
                 count(*)::integer as n
            from kapitaal.positions p where p.account = p_account and p.closed_at is null) o,
         (select coalesce(sum(p.realised_pnl), 0) as realised,
                 (select coalesce(sum(f.fee), 0) from kapitaal.fills f where f.account = p_account) as fees
            from kapitaal.positions p where p.account = p_account) r,
         kapitaal.capital__exposure(p_account) e
  returning * into v_snap;
  return v_snap;
end
$$;
comment on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) is
  'Records the account''s equity at p_now: cash (p_cash, the exchange balance in quote, or derived from '
  'initial_cash and the fills ledger when null) plus open positions marked with p_marks {symbol: price}. Raises '
  'when an open position has no valid mark: equity is never computed from a missing price. With ledger cash, '
  'equity = initial_cash + realised_pnl_total + unrealised_pnl exactly (when every sell matched a position).';
--! EndIncluded execution/capital__snapshot.sql
--! Included execution/capital__position_size.sql
create or replace function kapitaal.capital__position_size(
  p_symbol text,
  p_price numeric,
  p_now timestamptz default now(),
  p_account text default 'default'
)
returns table (
  quote_size numeric, qty numeric, mode text, equity_basis numeric, allocated_quote numeric, reserved_quote numeric,
  symbol_exposure numeric, position_room numeric, total_room numeric, reason text
)
language plpgsql
stable
as $$
#variable_conflict use_column
declare
  v_policy kapitaal.capital_policy;
  v_equity numeric;
  v_total record;
  v_symbol record;
begin
  select * into v_policy from kapitaal.capital_policy c where c.account = p_account;
  if not found then
    return query select 0::numeric, 0::numeric, null::text, null::numeric, null::numeric, null::numeric,
                        null::numeric, null::numeric, null::numeric, 'no_capital_policy'::text;
    return;
  end if;
  select * into v_total from kapitaal.capital__exposure(p_account);
  select * into v_symbol from kapitaal.capital__exposure(p_account, p_symbol);

  if p_price is null or p_price <= 0 then
    return query select 0::numeric, 0::numeric, v_policy.mode, null::numeric, v_total.allocated_quote,
                        v_total.reserved_quote, v_symbol.allocated_quote + v_symbol.reserved_quote,
                        null::numeric, null::numeric, 'non_positive_price'::text;
    return;
  end if;

  if v_policy.mode = 'fixed' then
    v_equity := v_policy.fixed_equity;
  else
    select s.equity into v_equity from kapitaal.capital_snapshots s
     where s.account = p_account and s.at <= p_now and s.at >= p_now - v_policy.max_snapshot_age
     order by s.at desc, s.snapshot_id desc limit 1;
    if not found then
      return query select 0::numeric, 0::numeric, v_policy.mode, null::numeric, v_total.allocated_quote,
                          v_total.reserved_quote, v_symbol.allocated_quote + v_symbol.reserved_quote,
                          null::numeric, null::numeric, 'no_fresh_capital_snapshot'::text;
      return;
    end if;
  end if;
  if v_equity <= 0 then
    return query select 0::numeric, 0::numeric, v_policy.mode, v_equity, v_total.allocated_quote,
                        v_total.reserved_quote, v_symbol.allocated_quote + v_symbol.reserved_quote,
                        0::numeric, 0::numeric, 'non_positive_equity'::text;
    return;
  end if;

  return query
  with rooms as (
    select greatest(0, least(coalesce(v_policy.max_position_quote, v_equity * v_policy.max_position_pct / 100),
                             v_equity * v_policy.max_position_pct / 100)
                       - (v_symbol.allocated_quote + v_symbol.reserved_quote)) as position_room,
           greatest(0, v_equity * v_policy.max_total_exposure_pct / 100
                       - v_total.allocated_quote - v_total.reserved_quote) as total_room
  )
  select least(r.position_room, r.total_room),
         least(r.position_room, r.total_room) / p_price,
         v_policy.mode, v_equity, v_total.allocated_quote, v_total.reserved_quote,
         v_symbol.allocated_quote + v_symbol.reserved_quote,
         r.position_room, r.total_room,
         case when r.total_room = 0 then 'total_cap_reached'
              when r.position_room = 0 then 'position_cap_reached'
              when r.total_room < r.position_room then 'ok_total_cap'
              else 'ok_position_cap' end
    from rooms r;
end
$$;
comment on function kapitaal.capital__position_size(text, numeric, timestamptz, text) is
  'Quote size a new entry in p_symbol may take: least(position room, total room), where position room = '
  'least(max_position_quote, equity * max_position_pct %) - exposure in the symbol, and total room = equity * '
  'max_total_exposure_pct % - allocated_quote - reserved_quote (so allocated + reserved + new <= cap). Equity is '
  'fixed_equity in fixed mode and the newest capital snapshot at most max_snapshot_age old in compounding mode. '
  'qty = quote_size / p_price, not yet rounded to the lot (see order__conform_to_limits). reason: ok_position_cap '
  '/ ok_total_cap (which cap bound the size), or why it is 0: total_cap_reached, position_cap_reached, '
  'no_fresh_capital_snapshot, non_positive_equity, non_positive_price, no_capital_policy.';
--! EndIncluded execution/capital__position_size.sql
--! Included execution/order__conform_to_limits.sql
create or replace function kapitaal.order__conform_to_limits(
  p_side text,
  p_price numeric,
  p_qty numeric,
  p_price_increment numeric,
  p_qty_increment numeric,
  p_qty_min numeric,
  p_cost_min numeric,
  p_mode text default 'round'
)
returns table (ok boolean, price numeric, qty numeric, cost numeric, reason text)
language sql
immutable
parallel safe
as $$
  with c as (
    -- mod() on numeric is exact, so rounding never drifts across a tick boundary.
    select case when p_price_increment > 0 and p_price > 0 then
                  trim_scale(case p_side
                    when 'buy' then p_price - mod(p_price, p_price_increment)
                    when 'sell' then p_price - mod(p_price, p_price_increment)
                                     + case when mod(p_price, p_price_increment) = 0 then 0 else p_price_increment end
                  end)
           end as price,
           case when p_qty_increment > 0 and p_qty > 0 then trim_scale(p_qty - mod(p_qty, p_qty_increment)) end as qty
  ), r as (
    select c.price, c.qty, c.price * c.qty as cost,
           case
             when p_mode is null or p_mode not in ('round', 'strict') then 'invalid_mode'
             when p_side is null or p_side not in ('buy', 'sell') then 'invalid_side'
             when p_price_increment is null or p_qty_increment is null or p_qty_min is null or p_cost_min is null
               or p_price_increment <= 0 or p_qty_increment <= 0 or p_qty_min < 0 or p_cost_min < 0 then 'unknown_limits'
             when p_price is null or p_qty is null or p_price <= 0 or p_qty <= 0 then 'non_positive'
             when p_mode = 'strict' and c.price <> p_price then 'off_tick_price'
             when p_mode = 'strict' and c.qty <> p_qty then 'off_lot_qty'
             when c.price <= 0 then 'price_below_tick'
             when c.qty <= 0 or c.qty < p_qty_min then 'below_min_qty'
             when c.price * c.qty < p_cost_min then 'below_min_cost'
             else 'ok'
           end as reason
      from c
  )
  select r.reason = 'ok', r.price, r.qty, r.cost, r.reason from r
$$;
comment on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) is
  'Makes an order obey the pair''s exchange limits (run_pairs: price_increment, qty_increment, qty_min, cost_min) '
  'or says why it cannot. Never a worse price than intended: a buy price rounds DOWN to the tick, a sell price UP. '
  'The quantity rounds DOWN to the lot step (never more than sized). Then qty >= qty_min and price * qty >= '
  'cost_min must hold (after rounding). p_mode ''strict'' refuses off-tick prices and off-lot quantities instead '
  'of rounding. reason: ok, below_min_qty, below_min_cost, price_below_tick, non_positive, off_tick_price, '
  'off_lot_qty, unknown_limits (a limit missing or not positive), invalid_side, invalid_mode. For market orders '
  'pass the reference price: the cost check uses it.';
--! EndIncluded execution/order__conform_to_limits.sql
--! Included execution/position__exit_decision.sql
create or replace function kapitaal.position__exit_decision(
  p_position_id bigint,
  p_mark_price numeric,
  p_regime text default null,
  p_now timestamptz default now()
)
returns table (exit boolean, trigger text, details jsonb)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pos kapitaal.positions;
  v_policy kapitaal.exit_policy;
  v_high numeric;
  v_armed boolean;
  v_armed_at timestamptz;
  v_stop numeric;
  v_take numeric;
  v_arm numeric;
  v_trail numeric;
  v_fired text[] := '{}';
  v_pending bigint;
  v_trigger text;
  v_details jsonb;
begin
  if p_mark_price is null or p_mark_price <= 0 then
    raise exception 'position__exit_decision: mark price must be positive (got %)', p_mark_price using errcode = '22023';
  end if;
  select * into v_pos from kapitaal.positions p where p.position_id = p_position_id for update;
  if not found then
    raise exception 'position__exit_decision: position % does not exist', p_position_id using errcode = 'P0002';
  end if;
  if v_pos.closed_at is not null then
    return query select false, null::text, jsonb_build_object('position_id', p_position_id, 'reason', 'position_closed',
                                                              'closed_at', v_pos.closed_at);
    return;
  end if;
  select * into v_policy from kapitaal.exit_policy e where e.strategy in (v_pos.strategy, 'default')
   order by e.strategy = v_pos.strategy desc limit 1;
  if not found then
    raise exception 'position__exit_decision: no exit_policy row for strategy % and no default row', v_pos.strategy
      using errcode = 'P0002';
  end if;

  -- Trailing state first: the mark raises the high-water mark, which may arm the trail.
  v_high := greatest(v_pos.high_water_price, p_mark_price);
  v_arm := v_pos.avg_entry_price * (1 + v_policy.trailing_arm_pct / 100);
  v_armed := v_pos.trail_armed or (v_arm is not null and v_high >= v_arm);
  v_armed_at := case when v_pos.trail_armed then v_pos.trail_armed_at when v_armed then p_now end;
  if v_high <> v_pos.high_water_price or v_armed <> v_pos.trail_armed then
    update kapitaal.positions p
       set high_water_price = v_high, trail_armed = v_armed, trail_armed_at = v_armed_at, updated_at = p_now
     where p.position_id = p_position_id;
  end if;

  v_stop := v_pos.avg_entry_price * (1 - v_policy.stop_loss_pct / 100);
  v_take := v_pos.avg_entry_price * (1 + v_policy.take_profit_pct / 100);
  v_trail := case when v_armed then v_high * (1 - v_policy.trailing_retrace_pct / 100) end;

  -- Every rule is inclusive: it fires at exactly its threshold. Order = priority of the reported trigger.
  if p_mark_price <= v_stop then v_fired := v_fired || 'stop_loss'::text; end if;
  if p_mark_price <= v_trail then v_fired := v_fired || 'trailing_stop'::text; end if;
  if p_mark_price >= v_take then v_fired := v_fired || 'take_profit'::text; end if;
  if p_now - v_pos.opened_at >= v_policy.max_hold then v_fired := v_fired || 'time_stop'::text; end if;
  if p_regime = any (v_policy.exit_regimes)
     or (v_policy.exit_on_regime_change and v_pos.entry_regime is not null and p_regime is not null
         and p_regime <> v_pos.entry_regime) then
    v_fired := v_fired || 'regime_change'::text;
  end if;
  v_trigger := v_fired[1];

  select o.order_id into v_pending from kapitaal.orders o
   where o.position_id = p_position_id and o.purpose = 'exit'
     and o.status in ('new', 'submitting', 'open', 'partially_filled')
   order by o.order_id limit 1;

  v_details := jsonb_build_object(
    'position_id', p_position_id, 'strategy', v_pos.strategy, 'policy', v_policy.strategy,
    'mark_price', p_mark_price, 'avg_entry_price', v_pos.avg_entry_price, 'qty', v_pos.qty,
    'stop_loss_price', v_stop, 'take_profit_price', v_take,
    'high_water_price', v_high, 'trail_arm_price', v_arm, 'trail_armed', v_armed, 'trail_stop_price', v_trail,
    'held', p_now - v_pos.opened_at, 'max_hold', v_policy.max_hold,
    'regime', p_regime, 'entry_regime', v_pos.entry_regime, 'exit_regimes', to_jsonb(v_policy.exit_regimes),
    'fired', to_jsonb(v_fired), 'pending_exit_order_id', v_pending);
  if v_pending is not null then
    -- Never two exits for one position: the one in flight decides.
    return query select false, null::text, v_details || jsonb_build_object('reason', 'exit_order_in_flight',
                                                                           'would_trigger', v_trigger);
    return;
  end if;
  return query select v_trigger is not null, v_trigger,
                      v_details || jsonb_build_object('reason', coalesce(v_trigger, 'hold'));
end
$$;
comment on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) is
  'Decides whether an open position must exit at p_mark_price, with the pair''s current regime at p_now, under its '
  'strategy''s exit_policy (or ''default''). First raises high_water_price and arms the trailing stop (both '
  'persisted), then checks, each inclusive of its threshold: stop_loss (mark <= entry * (1 - sl%)), trailing_stop '
  '(armed and mark <= high water * (1 - retrace%)), take_profit (mark >= entry * (1 + tp%)), time_stop (held >= '
  'max_hold), regime_change (regime in exit_regimes, or differs from entry_regime when exit_on_regime_change). '
  'trigger is the first that fired in that order; details lists all thresholds and every rule that fired. Returns '
  'exit = false while an exit order of the position is in flight, or when the position is closed.';
--! EndIncluded execution/position__exit_decision.sql
--! Included execution/open_positions.sql
create or replace view kapitaal.open_positions as
select p.position_id, p.account, p.symbol, p.strategy, p.opened_at, p.qty, p.avg_entry_price, p.cost_basis,
       p.entry_fees_open, p.fees, p.realised_pnl, p.high_water_price, p.trail_armed, p.entry_regime,
       p.entry_order_id,
       m.mark_price, m.marked_at,
       p.qty * m.mark_price as market_value,
       p.qty * m.mark_price - p.cost_basis - p.entry_fees_open as unrealised_pnl,
       p.qty * m.mark_price - p.cost_basis - p.entry_fees_open - p.qty * m.mark_price * cp.taker_fee_rate
         as unrealised_pnl_after_exit_fee,
       x.order_id as exit_order_id, x.status as exit_order_status
  from kapitaal.positions p
  left join lateral (
    select (s.marks ->> p.symbol)::numeric as mark_price, s.at as marked_at
      from kapitaal.capital_snapshots s
     where s.account = p.account and s.marks ? p.symbol
     order by s.at desc, s.snapshot_id desc limit 1) m on true
  left join kapitaal.capital_policy cp on cp.account = p.account
  left join lateral (
    select o.order_id, o.status from kapitaal.orders o
     where o.position_id = p.position_id and o.purpose = 'exit'
       and o.status in ('new', 'submitting', 'open', 'partially_filled')
     order by o.order_id limit 1) x on true
 where p.closed_at is null;
comment on view kapitaal.open_positions is
  'Open positions marked at the newest mark price recorded for the symbol (capital_snapshots.marks): market value, '
  'unrealised P&L (value - cost basis - entry fees of the open quantity) and the same after a taker exit fee, '
  'trailing-stop state and the exit order in flight, if any. For other marks use open_positions__marked.';

create or replace function kapitaal.open_positions__marked(p_marks jsonb, p_account text default 'default')
returns table (position_id bigint, symbol text, strategy text, qty numeric, avg_entry_price numeric,
               mark_price numeric, market_value numeric, unrealised_pnl numeric)
language sql
stable
as $$
  select p.position_id, p.symbol, p.strategy, p.qty, p.avg_entry_price, (p_marks ->> p.symbol)::numeric,
         p.qty * (p_marks ->> p.symbol)::numeric,
         p.qty * (p_marks ->> p.symbol)::numeric - p.cost_basis - p.entry_fees_open
    from kapitaal.positions p
   where p.account = p_account and p.closed_at is null
   order by p.position_id
$$;
comment on function kapitaal.open_positions__marked(jsonb, text) is
  'Open positions of an account marked with the given prices {symbol: price}: market value and unrealised P&L '
  '(null where no mark is given).';
--! EndIncluded execution/open_positions.sql
--! Included execution/order_status.sql
create or replace view kapitaal.order_status as
select o.order_id, o.client_order_id, o.exchange_order_id, o.account, o.symbol, o.side, o.order_type, o.post_only,
       o.price, o.qty, o.filled_qty, o.avg_fill_price, o.fees, o.status, s.terminal, o.purpose, o.strategy,
       o.exit_trigger, o.position_id, o.evaluation_id, o.generation_id, o.submit_attempts, o.reason,
       o.created_at, o.updated_at,
       e.event_id as last_event_id, e.from_status as last_from_status, e.at as last_event_at, e.note as last_event_note,
       (select count(*) from kapitaal.fills f where f.order_id = o.order_id) as fill_count
  from kapitaal.orders o
  join kapitaal.order_statuses s on s.status = o.status
  left join lateral (
    select ev.event_id, ev.from_status, ev.at, ev.note from kapitaal.order_events ev
     where ev.order_id = o.order_id order by ev.event_id desc limit 1) e on true;
comment on view kapitaal.order_status is
  'Every order with its current status, whether that is terminal, its fill totals and its last event '
  '(order_events). Filter on terminal = false for the orders still working.';
--! EndIncluded execution/order_status.sql
--! Included execution/fills_ledger.sql
create or replace view kapitaal.fills_ledger as
select f.fill_id, f.filled_at, f.account, f.symbol, f.side, f.strategy, f.price, f.qty, f.price * f.qty as notional,
       f.fee, f.liquidity,
       case when f.side = 'sell' then f.price * f.qty else -(f.price * f.qty) end - f.fee as cash_delta,
       f.order_id, o.client_order_id, o.purpose, o.exit_trigger, f.position_id, f.unmatched_qty,
       f.exchange, f.exchange_trade_id, f.recorded_at
  from kapitaal.fills f
  join kapitaal.orders o on o.order_id = f.order_id;
comment on view kapitaal.fills_ledger is
  'The fills ledger with its cash effect: cash_delta = proceeds - fee for sells, -(cost + fee) for buys; summed '
  'per account it is the ledger cash change since initial_cash.';
--! EndIncluded execution/fills_ledger.sql
--! Included execution/grants.sql
-- Least privilege for execution objects (decision cluster). Tables are written only through the
-- security-definer functions; kapitaal_execution calls them, kapitaal_readonly reads, the ingest writer gets nothing.
revoke all on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance, kapitaal.orders,
  kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy, kapitaal.capital_snapshots,
  kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status, kapitaal.fills_ledger
  from public, kapitaal_ingest_writer;

grant select on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance,
  kapitaal.orders, kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy,
  kapitaal.capital_snapshots, kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status,
  kapitaal.fills_ledger
  to kapitaal_execution, kapitaal_readonly;

-- Append-only ledgers: nobody updates or deletes, not even the owner's grantees (the trigger also refuses).
revoke update, delete, truncate on kapitaal.order_events, kapitaal.fills from kapitaal_execution, kapitaal_readonly;

-- Writers (security definer): execution only.
revoke all on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) from public;
revoke all on function kapitaal.order__begin_submit(bigint, timestamptz) from public;
revoke all on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) from public;
revoke all on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) from public;
revoke all on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) from public;
revoke all on function kapitaal.tg__append_only() from public;
grant execute on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.order__begin_submit(bigint, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) to kapitaal_execution;

-- Readers: pure or read-only functions, for execution and for a DBA with the read-only role.
revoke all on function kapitaal.order__client_id(text, bigint, text) from public;
revoke all on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) from public;
revoke all on function kapitaal.positions__recompute(text) from public;
revoke all on function kapitaal.positions__verify(text) from public;
revoke all on function kapitaal.capital__exposure(text, text) from public;
revoke all on function kapitaal.capital__position_size(text, numeric, timestamptz, text) from public;
revoke all on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) from public;
revoke all on function kapitaal.open_positions__marked(jsonb, text) from public;
grant execute on function kapitaal.order__client_id(text, bigint, text),
  kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric),
  kapitaal.positions__recompute(text),
  kapitaal.positions__verify(text),
  kapitaal.capital__exposure(text, text),
  kapitaal.capital__position_size(text, numeric, timestamptz, text),
  kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text),
  kapitaal.open_positions__marked(jsonb, text)
  to kapitaal_execution, kapitaal_readonly;
--! EndIncluded execution/grants.sql

--! split: 600-exchange.sql
--! Included exchange/kraken_nonces.sql
-- Last Kraken REST nonce per API key, shared by every process that uses the key.
create table if not exists kapitaal.kraken_nonces (
  key_id text primary key check (key_id ~ '^sha256:[0-9a-f]{64}$'),
  last_nonce bigint not null check (last_nonce > 0),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.kraken_nonces is
  'Last nonce issued per Kraken API key, so nonces stay strictly increasing across restarts and across processes '
  'sharing a key. Written only by kraken_nonce__next(). Holds a hash of the key, never the key or secret.';
comment on column kapitaal.kraken_nonces.key_id is 'sha256:<hex> of the API key (src/exchange/nonce.ts apiKeyId); not reversible.';
comment on column kapitaal.kraken_nonces.last_nonce is 'The last nonce handed out: microseconds since the epoch, or last+1 when the clock lags.';
comment on column kapitaal.kraken_nonces.updated_at is 'When the last nonce was handed out (database clock).';
--! EndIncluded exchange/kraken_nonces.sql
--! Included exchange/kraken_nonce__next.sql
-- Next nonce for a key: greatest(epoch µs, last + 1), under the row lock that the upsert takes, so
-- two sessions never get the same or a decreasing nonce.
create or replace function kapitaal.kraken_nonce__next(
  p_key_id text,
  p_now timestamptz default clock_timestamp()
)
returns bigint
language sql
volatile
security definer
set search_path = pg_catalog, kapitaal
as $$
  insert into kapitaal.kraken_nonces as n (key_id, last_nonce, updated_at)
  values (p_key_id, (floor(extract(epoch from p_now) * 1000) * 1000)::bigint, p_now)
  on conflict (key_id) do update
    set last_nonce = greatest((floor(extract(epoch from p_now) * 1000) * 1000)::bigint, n.last_nonce + 1),
        updated_at = p_now
  returning n.last_nonce
$$;
comment on function kapitaal.kraken_nonce__next(text, timestamptz) is
  'Returns the next Kraken REST nonce for the key with this id (sha256:<hex> of the API key): '
  'greatest(epoch milliseconds × 1000, last nonce + 1). Concurrency-safe: the upsert locks the key''s row, so '
  'concurrent callers get distinct, increasing nonces. p_now exists for tests; leave it to the default.';
--! EndIncluded exchange/kraken_nonce__next.sql
--! Included exchange/grants.sql
-- Least privilege for the exchange objects: the nonce table is private; execution calls the function.
revoke all on kapitaal.kraken_nonces from public;
revoke all on function kapitaal.kraken_nonce__next(text, timestamptz) from public;
grant execute on function kapitaal.kraken_nonce__next(text, timestamptz) to kapitaal_execution;
grant select on kapitaal.kraken_nonces to kapitaal_readonly;
--! EndIncluded exchange/grants.sql

--! split: 700-strategy.sql
--! Included strategy/strategy_policy.sql
-- Strategy policy: one row per strategy with its entry mechanics and the coefficients of its
-- expected-edge model (docs/STRATEGIES.md explains every number). Plain rows a DBA can read and
-- change with psql; defaults are inserted with `on conflict do nothing`, so re-running the
-- migration never overwrites a value an operator changed. Fee rates are NOT here: they come
-- from capital_policy (one place for the account's fees).
create table if not exists kapitaal.strategy_policy (
  strategy text primary key check (strategy in ('liquidity', 'momentum', 'volume')),
  enabled boolean not null default true,
  entry_liquidity text not null check (entry_liquidity in ('maker', 'taker')),
  order_type text not null check (order_type in ('limit', 'market')),
  post_only boolean not null default false,
  route_type text not null,
  adverse_selection_bps numeric not null default 0 check (adverse_selection_bps >= 0),
  -- liquidity (maker at the touch)
  microprice_weight numeric check (microprice_weight >= 0),
  reversion_weight numeric check (reversion_weight >= 0),
  fill_horizon interval check (fill_horizon > interval '0'),
  improve_after_wait interval check (improve_after_wait >= interval '0'),
  -- momentum
  continuation numeric check (continuation >= 0),
  -- volume
  flow_bps numeric check (flow_bps >= 0),
  min_surge numeric check (min_surge >= 0),
  surge_cap numeric check (surge_cap > 0),
  description text not null,
  updated_at timestamptz not null default now(),
  constraint strategy_policy_post_only_is_maker check (not post_only or (entry_liquidity = 'maker' and order_type = 'limit')),
  constraint strategy_policy_maker_is_limit check (entry_liquidity = 'taker' or order_type = 'limit'),
  constraint strategy_policy_params check (
    case strategy
      when 'liquidity' then entry_liquidity = 'maker' and microprice_weight is not null and reversion_weight is not null
                            and fill_horizon is not null and improve_after_wait is not null
      when 'momentum' then continuation is not null
      when 'volume' then flow_bps is not null and min_surge is not null and surge_cap is not null
    end)
);

comment on table kapitaal.strategy_policy is
  'Per strategy (liquidity, momentum, volume): how it enters (maker/taker, order type, route type for the freshness '
  'gate) and the coefficients of its expected-edge model used by strategy__proposals. All edges are in bps of mid: '
  'net_edge = expected_move - entry_cost - exit_cost - fees - adverse_selection. Fee rates come from capital_policy.';
comment on column kapitaal.strategy_policy.enabled is 'Disabled strategies still get proposals (so a DBA sees them) but with reason strategy_disabled, never selected.';
comment on column kapitaal.strategy_policy.entry_liquidity is
  'maker: the entry rests in the book (maker fee, fill uncertain, scored as net edge x fill probability); taker: the '
  'entry crosses the spread at best_ask (taker fee, fill probability 1). Exits are always assumed taker.';
comment on column kapitaal.strategy_policy.order_type is 'Order type of the entry as orders.order_type understands it (limit or market).';
comment on column kapitaal.strategy_policy.post_only is 'Entry limit order carries Kraken oflags=post (never takes liquidity).';
comment on column kapitaal.strategy_policy.route_type is
  'Route type in route_freshness_policy whose freshness verdict (apply_route_freshness_filter) gates this strategy.';
comment on column kapitaal.strategy_policy.adverse_selection_bps is
  'Cost in bps subtracted from the net edge of every proposal: for a maker bid, the expected loss from being filled '
  'preferentially when the price is about to fall through our level (and from waiting in the queue).';
comment on column kapitaal.strategy_policy.microprice_weight is
  'Liquidity: weight of the top-of-book microprice tilt ((microprice - mid) / mid, bps) in the expected move.';
comment on column kapitaal.strategy_policy.reversion_weight is
  'Liquidity: fraction of the last minute''s dip (max(-ret_1m_bps, 0)) expected to revert in a range.';
comment on column kapitaal.strategy_policy.fill_horizon is
  'Liquidity: how long the maker bid may rest; fill probability = sell flow in this horizon / (that flow + queue ahead + own size).';
comment on column kapitaal.strategy_policy.improve_after_wait is
  'Liquidity: bid one tick above the best bid (alone at a new level, queue ahead 0) when the expected wait for the '
  'queue at the touch (queue ahead in quote / sell flow per second) exceeds this and the spread is at least two ticks.';
comment on column kapitaal.strategy_policy.continuation is
  'Momentum: fraction of the 5-minute return expected to continue, scaled by trend_strength_5m (only up-moves: long only).';
comment on column kapitaal.strategy_policy.flow_bps is
  'Volume: expected move in bps per unit of flow imbalance (2 x buy share - 1) and per unit of surge (capped by surge_cap).';
comment on column kapitaal.strategy_policy.min_surge is
  'Volume: no signal unless the last minute''s quote volume is at least this multiple of the 5-minute per-minute average.';
comment on column kapitaal.strategy_policy.surge_cap is 'Volume: the surge multiple used in the edge is capped at this.';

insert into kapitaal.strategy_policy
  (strategy, entry_liquidity, order_type, post_only, route_type, adverse_selection_bps,
   microprice_weight, reversion_weight, fill_horizon, improve_after_wait, continuation, flow_bps, min_surge, surge_cap,
   description)
values
  ('liquidity', 'maker', 'limit', true, 'maker_entry', 3,
   1, 0.5, interval '60 seconds', interval '30 seconds', null, null, null, null,
   'Queue-aware maker entry: a post-only bid at the best bid (or one tick above when the queue is long and the spread '
   'allows), expecting the microprice tilt and part of the last minute''s dip to revert.'),
  ('momentum', 'taker', 'market', false, 'taker_entry', 0,
   null, null, null, null, 0.5, null, null, null,
   'Taker entry in the direction of a TREND: buys at the ask when the 5-minute move is up and straight, expecting '
   'part of it to continue.'),
  ('volume', 'taker', 'market', false, 'taker_entry', 0,
   null, null, null, null, null, 40, 1.5, 3,
   'Taker entry following a trade-flow surge with buyers dominating: last minute''s volume well above the 5-minute '
   'average and more quote bought than sold.')
on conflict do nothing;
--! EndIncluded strategy/strategy_policy.sql
--! Included strategy/strategy_regime_eligibility.sql
-- Which strategy may open new positions in which regime. One row per (regime, strategy);
-- defaults inserted with `on conflict do nothing` so operator changes survive re-migration.
create table if not exists kapitaal.strategy_regime_eligibility (
  regime text not null check (regime in ('RANGE', 'TREND', 'HIGH_VOLATILITY', 'LOW_LIQUIDITY', 'CHAOS')),
  strategy text not null references kapitaal.strategy_policy (strategy) on delete cascade,
  eligible boolean not null,
  signal_factor numeric not null default 1 check (signal_factor > 0 and signal_factor <= 1),
  note text not null,
  primary key (regime, strategy)
);
comment on table kapitaal.strategy_regime_eligibility is
  'Strategy fan-out per regime: a proposal of a strategy in a regime whose row is not eligible (or missing) gets '
  'reason regime_ineligible and is never selected. A null (not yet established) regime counts as not ready.';
comment on column kapitaal.strategy_regime_eligibility.signal_factor is
  'Multiplier on the expected move (the signal) of an eligible strategy in this regime, e.g. 0.5 = reduced '
  'confidence for momentum in HIGH_VOLATILITY. Costs and fees are not scaled. Ignored for ineligible rows.';
comment on column kapitaal.strategy_regime_eligibility.note is 'Why this strategy is (not) eligible in this regime.';

insert into kapitaal.strategy_regime_eligibility (regime, strategy, eligible, signal_factor, note) values
  ('RANGE', 'liquidity', true, 1, 'Range-bound, quiet book: resting bids at the touch get filled by oscillation.'),
  ('RANGE', 'momentum', false, 1, 'No directional move to follow in a range.'),
  ('RANGE', 'volume', true, 1, 'Flow surges can start a move out of a range.'),
  ('TREND', 'liquidity', false, 1, 'A resting bid in a trend is filled mostly when the trend turns against it (adverse selection).'),
  ('TREND', 'momentum', true, 1, 'The regime momentum is made for.'),
  ('TREND', 'volume', true, 1, 'Flow confirms or starts legs of a trend.'),
  ('HIGH_VOLATILITY', 'liquidity', false, 1, 'Queue position is worthless when the price jumps levels.'),
  ('HIGH_VOLATILITY', 'momentum', true, 0.5, 'Only momentum, with its expected move halved (moves revert more often).'),
  ('HIGH_VOLATILITY', 'volume', false, 1, 'Flow signals are noise in violent markets.'),
  ('LOW_LIQUIDITY', 'liquidity', false, 1, 'Nothing new in thin or wide markets (design: LOW_LIQUIDITY trades nothing new).'),
  ('LOW_LIQUIDITY', 'momentum', false, 1, 'Nothing new in thin or wide markets.'),
  ('LOW_LIQUIDITY', 'volume', false, 1, 'Nothing new in thin or wide markets.'),
  ('CHAOS', 'liquidity', false, 1, 'Nothing new on missing, stale or corrupt data or extreme volatility (design: CHAOS trades nothing new).'),
  ('CHAOS', 'momentum', false, 1, 'Nothing new in CHAOS.'),
  ('CHAOS', 'volume', false, 1, 'Nothing new in CHAOS.')
on conflict do nothing;
--! EndIncluded strategy/strategy_regime_eligibility.sql
--! Included strategy/strategy__proposals.sql
-- Strategy fan-out: per symbol of a run and per strategy one entry proposal with its expected
-- edge after fees, its fill probability, the gates it fails and every input that went into it.
-- Reads run_symbol_state (directly and through strategy_readiness / apply_route_freshness_filter),
-- run_pairs (price tick and pair status, exchange reference data of the same run) and the policy
-- tables; never raw data. Size is not decided here (capital__position_size does that).
drop function if exists kapitaal.strategy__proposals(bigint, timestamptz, numeric, text);
create function kapitaal.strategy__proposals(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns table (
  run_id bigint,
  generation_id bigint,
  symbol text,
  strategy text,
  regime text,
  side text,
  entry_liquidity text,
  order_type text,
  post_only boolean,
  entry_price numeric,
  queue_ahead_qty numeric,
  expected_move_bps numeric,
  entry_cost_bps numeric,
  exit_cost_bps numeric,
  gross_edge_bps numeric,
  fee_bps numeric,
  adverse_selection_bps numeric,
  net_edge_bps numeric,
  fill_probability numeric,
  score numeric,
  data_ok boolean,
  selectable boolean,
  reason text,
  gates text[],
  inputs jsonb
)
language sql
stable
as $$
  with fees as (
    select f.maker_fee_rate, f.taker_fee_rate, f.source
      from (select c.maker_fee_rate, c.taker_fee_rate, 'capital_policy:' || c.account as source, 1 as pref
              from kapitaal.capital_policy c where c.account = p_account
            union all
            select 0.0025, 0.0040, 'built_in_default', 2) f
     order by f.pref
     limit 1
  ),
  base as (
    select s.*, p.strategy, p.enabled, p.entry_liquidity, p.order_type, p.post_only, p.route_type,
           p.adverse_selection_bps, p.microprice_weight, p.reversion_weight, p.fill_horizon, p.improve_after_wait,
           p.continuation, p.flow_bps, p.min_surge, p.surge_cap,
           e.eligible, coalesce(e.signal_factor, 1) as signal_factor,
           rd.ready, rd.detail as readiness_detail,
           rf.exec_allowed, rf.reason as route_reason, rf.marker as route_marker,
           rp.price_increment as tick, rp.status as pair_status,
           fees.maker_fee_rate, fees.taker_fee_rate, fees.source as fee_source
      from kapitaal.run_symbol_state s
     cross join kapitaal.strategy_policy p
     cross join fees
      left join kapitaal.strategy_regime_eligibility e on e.regime = s.regime and e.strategy = p.strategy
      left join kapitaal.strategy_readiness(p_run_id, p_now) rd on rd.symbol = s.symbol and rd.strategy = p.strategy
      left join kapitaal.apply_route_freshness_filter(p_run_id, p_now) rf
             on rf.symbol = s.symbol and rf.route_type = p.route_type
      left join kapitaal.run_pairs rp on rp.run_id = s.run_id and rp.symbol = s.symbol
     where s.run_id = p_run_id
  ),
  -- market quantities shared by all strategies
  m as (
    select b.*,
           case when b.mid > 0 then (b.microprice - b.mid) / b.mid * 10000 end as tilt_bps,
           b.quote_volume_5m - b.buy_quote_volume_5m as sell_quote_5m,
           (b.quote_volume_5m - b.buy_quote_volume_5m) / 300 as sell_quote_per_s,
           case when b.quote_volume_5m > 0 then 2 * b.buy_quote_volume_5m / b.quote_volume_5m - 1 end as flow_imbalance,
           case when b.quote_volume_5m > 0 then b.quote_volume_1m * 5 / b.quote_volume_5m end as surge,
           b.l3_bid_touch_qty * b.best_bid as touch_queue_quote
      from base b
  ),
  -- maker entry: stay at the touch or improve by one tick
  q as (
    select m.*,
           case when m.entry_liquidity = 'maker' and m.sell_quote_per_s > 0
                then m.touch_queue_quote / m.sell_quote_per_s end as touch_wait_s,
           m.tick is not null and m.best_bid + m.tick < m.best_ask as can_improve
      from m
  ),
  d as (
    select q.*,
           q.entry_liquidity = 'maker' and q.can_improve and q.touch_queue_quote > 0
             and (q.touch_wait_s is null or q.touch_wait_s > extract(epoch from q.improve_after_wait)) as improve
      from q
  ),
  ent as (
    select d.*,
           case when d.entry_liquidity = 'taker' then d.best_ask
                when d.improve then d.best_bid + d.tick
                else d.best_bid end as px,
           case when d.entry_liquidity = 'taker' then null
                when d.improve then 0::numeric
                else d.l3_bid_touch_qty end as q_ahead,
           case d.strategy
             when 'liquidity' then
               (d.microprice_weight * d.tilt_bps + d.reversion_weight * greatest(-d.ret_1m_bps, 0)) * d.signal_factor
             when 'momentum' then
               case when d.ret_5m_bps > 0 and d.trend_strength_5m > 0
                    then d.continuation * d.ret_5m_bps * d.trend_strength_5m * d.signal_factor
                    when d.ret_5m_bps is not null and d.trend_strength_5m is not null then 0 end
             when 'volume' then
               case when d.surge >= d.min_surge and d.flow_imbalance > 0
                    then d.flow_bps * d.flow_imbalance * least(d.surge, d.surge_cap) * d.signal_factor
                    when d.surge is not null and d.flow_imbalance is not null then 0 end
           end as move_raw,
           case d.strategy
             when 'momentum' then
               case when not (d.ret_5m_bps > 0 and d.trend_strength_5m > 0)
                    then format('no_signal: ret_5m %s bps, trend_strength_5m %s (long only: needs an up-move)',
                                d.ret_5m_bps, d.trend_strength_5m) end
             when 'volume' then
               case when d.surge is null or d.flow_imbalance is null
                    then 'no_signal: no trades in 5 m'
                    when d.surge < d.min_surge
                    then format('no_signal: surge %s < %s', round(d.surge, 4), d.min_surge)
                    when d.flow_imbalance <= 0
                    then format('no_signal: flow imbalance %s <= 0 (sellers dominate)', round(d.flow_imbalance, 4)) end
           end as no_signal,
           (case when d.entry_liquidity = 'maker' then d.maker_fee_rate else d.taker_fee_rate end + d.taker_fee_rate)
             * 10000 as fee_raw
      from d
  ),
  x as (
    select t.*,
           case when t.mid > 0 then (t.px - t.mid) / t.mid * 10000 end as entry_cost_raw,
           case when t.mid > 0 then (t.mid - t.best_bid) / t.mid * 10000 end as exit_cost_raw,
           case when t.entry_liquidity = 'taker' then 1::numeric
                when t.sell_quote_per_s is null or t.q_ahead is null or t.px is null then null
                when t.sell_quote_per_s <= 0 then 0::numeric
                else t.sell_quote_per_s * extract(epoch from t.fill_horizon)
                     / (t.sell_quote_per_s * extract(epoch from t.fill_horizon) + t.q_ahead * t.px
                        + greatest(coalesce(p_size_quote, 0), 0))
           end as fill_raw
      from ent t
  ),
  y as (
    select x.*,
           round(x.move_raw, 6) as move,
           round(x.entry_cost_raw, 6) as entry_cost,
           round(x.exit_cost_raw, 6) as exit_cost,
           round(x.move_raw - x.entry_cost_raw - x.exit_cost_raw, 6) as gross,
           round(x.fee_raw, 6) as fee,
           round(x.move_raw - x.entry_cost_raw - x.exit_cost_raw - x.fee_raw - x.adverse_selection_bps, 6) as net,
           round(x.fill_raw, 6) as fill
      from x
  ),
  g as (
    select y.*,
           round(y.net * y.fill, 6) as sc,
           y.regime is not null and y.ready is true and y.exec_allowed is true as data_ok,
           array_remove(array[
             case when not y.enabled then 'strategy_disabled' end,
             case when y.regime is null then 'not_ready: REGIME_NOT_ESTABLISHED: no effective regime yet'
                  when y.eligible is not true then format('regime_ineligible: %s', y.regime) end,
             case when y.ready is null then format('not_ready: NO_READINESS_POLICY for %s', y.strategy)
                  when not y.ready then 'not_ready: ' || y.readiness_detail end,
             case when y.exec_allowed is null then format('route_stale: route type %s not enabled', y.route_type)
                  when not y.exec_allowed then 'route_stale: ' || y.route_reason end,
             case when y.pair_status is not null
                   and not (y.pair_status in ('online', 'limit_only') and y.order_type = 'limit'
                            or y.pair_status = 'online'
                            or y.pair_status = 'post_only' and y.post_only)
                  then format('pair_not_tradable: status %s', y.pair_status) end,
             case when y.net is null then 'no_signal: inputs missing (book, microprice or returns)'
                  else y.no_signal end,
             case when y.net <= 0
                  then format('net_edge_not_positive: %s bps = gross %s - fees %s - adverse selection %s',
                              y.net, y.gross, y.fee, y.adverse_selection_bps) end,
             case when y.net > 0 and y.fill is null then 'fill_probability_unknown: no trade flow or queue data'
                  when y.net > 0 and y.fill <= 0 then 'fill_probability_zero: no sell flow to fill a bid' end
           ], null) as gates
      from y
  )
  select g.run_id, g.generation_id, g.symbol, g.strategy, g.regime, 'buy'::text, g.entry_liquidity, g.order_type,
         g.post_only, g.px, g.q_ahead, g.move, g.entry_cost, g.exit_cost, g.gross, g.fee, g.adverse_selection_bps,
         g.net, g.fill, g.sc, g.data_ok, cardinality(g.gates) = 0, g.gates[1], g.gates,
         jsonb_build_object(
           'state', jsonb_build_object(
             'generation_id', g.generation_id, 'refreshed_at', g.refreshed_at, 'regime', g.regime,
             'mid', g.mid, 'best_bid', g.best_bid, 'best_ask', g.best_ask, 'spread_bps', g.spread_bps,
             'microprice', g.microprice, 'book_imbalance', g.book_imbalance,
             'l3_bid_touch_qty', g.l3_bid_touch_qty, 'l3_bid_touch_orders', g.l3_bid_touch_orders,
             'ret_1m_bps', g.ret_1m_bps, 'ret_5m_bps', g.ret_5m_bps, 'vol_5m_bps', g.vol_5m_bps,
             'trend_strength_5m', g.trend_strength_5m, 'quote_volume_1m', g.quote_volume_1m,
             'quote_volume_5m', g.quote_volume_5m, 'buy_quote_volume_5m', g.buy_quote_volume_5m,
             'ask_depth_10bps_quote', g.ask_depth_10bps_quote),
           'derived', jsonb_build_object(
             'microprice_tilt_bps', round(g.tilt_bps, 6), 'flow_imbalance', round(g.flow_imbalance, 6),
             'surge', round(g.surge, 6), 'sell_quote_per_s', round(g.sell_quote_per_s, 6),
             'touch_queue_quote', g.touch_queue_quote, 'touch_wait_s', round(g.touch_wait_s, 3),
             'tick', g.tick, 'can_improve', g.can_improve, 'improved_one_tick', g.improve,
             'queue_ahead_quote', g.q_ahead * g.px, 'size_quote', p_size_quote),
           'policy', jsonb_build_object(
             'signal_factor', g.signal_factor, 'regime_eligible', g.eligible,
             'microprice_weight', g.microprice_weight, 'reversion_weight', g.reversion_weight,
             'fill_horizon_s', extract(epoch from g.fill_horizon), 'improve_after_wait_s', extract(epoch from g.improve_after_wait),
             'continuation', g.continuation, 'flow_bps', g.flow_bps, 'min_surge', g.min_surge, 'surge_cap', g.surge_cap,
             'adverse_selection_bps', g.adverse_selection_bps),
           'fees', jsonb_build_object(
             'maker_fee_rate', g.maker_fee_rate, 'taker_fee_rate', g.taker_fee_rate, 'source', g.fee_source,
             'entry', g.entry_liquidity, 'exit', 'taker'),
           'gates', jsonb_build_object(
             'readiness', g.readiness_detail, 'route_type', g.route_type, 'route', g.route_reason,
             'route_marker', g.route_marker, 'pair_status', g.pair_status),
           'now', p_now)
    from g
   order by g.symbol, g.strategy
$$;
comment on function kapitaal.strategy__proposals(bigint, timestamptz, numeric, text) is
  'Strategy fan-out of a run: per symbol in run_symbol_state and per strategy in strategy_policy one long entry '
  'proposal (side buy) with entry price (liquidity: best bid, or best bid + one tick when the touch queue is long and '
  'the spread is at least two ticks; momentum/volume: best ask), expected move, gross edge (move - entry cost - taker '
  'exit cost, bps of mid), fees (entry maker or taker + exit taker, rates from capital_policy of p_account), net edge '
  '(gross - fees - adverse selection), fill probability (maker: sell flow over fill_horizon / (flow + queue ahead + '
  'p_size_quote); taker: 1) and score = net edge x fill probability. gates lists every reason it may not be selected '
  '(strategy_disabled, regime_ineligible, not_ready, route_stale, pair_not_tradable, no_signal, net_edge_not_positive, '
  'fill_probability_zero); reason is the first; selectable when there is none. inputs holds every number used. '
  'Writes nothing.';
--! EndIncluded strategy/strategy__proposals.sql
--! Included strategy/strategy__rank.sql
-- Competitive scoring: every proposal of a run (all strategies, all pairs) in one ranking by
-- score = net edge x fill probability. Strategy competes against strategy, across pairs.
drop function if exists kapitaal.strategy__rank(bigint, timestamptz, numeric, text);
create function kapitaal.strategy__rank(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns table (
  rank integer,
  selected boolean,
  run_id bigint,
  generation_id bigint,
  symbol text,
  strategy text,
  regime text,
  side text,
  entry_liquidity text,
  order_type text,
  post_only boolean,
  entry_price numeric,
  queue_ahead_qty numeric,
  expected_move_bps numeric,
  gross_edge_bps numeric,
  fee_bps numeric,
  net_edge_bps numeric,
  fill_probability numeric,
  score numeric,
  data_ok boolean,
  selectable boolean,
  reason text,
  gates text[],
  inputs jsonb
)
language sql
stable
as $$
  with p as (
    select pr.*,
           row_number() over (order by pr.selectable desc, pr.score desc nulls last, pr.net_edge_bps desc nulls last,
                                       pr.symbol, pr.strategy)::integer as rk
      from kapitaal.strategy__proposals(p_run_id, p_now, p_size_quote, p_account) pr
  ),
  w as (select p.* from p where p.rk = 1 and p.selectable)
  select p.rk, p.rk = 1 and p.selectable, p.run_id, p.generation_id, p.symbol, p.strategy, p.regime, p.side,
         p.entry_liquidity, p.order_type, p.post_only, p.entry_price, p.queue_ahead_qty, p.expected_move_bps,
         p.gross_edge_bps, p.fee_bps, p.net_edge_bps, p.fill_probability, p.score, p.data_ok, p.selectable,
         case when not p.selectable then p.reason
              when p.rk = 1 then format('selected: best score %s of %s selectable proposals', p.score,
                                        (select count(*) from p p2 where p2.selectable))
              else format('lower_score_than %s/%s: score %s < %s', w.strategy, w.symbol, p.score, w.score)
         end,
         p.gates, p.inputs
    from p
    left join w on true
   order by p.rk
$$;
comment on function kapitaal.strategy__rank(bigint, timestamptz, numeric, text) is
  'All proposals of strategy__proposals in one ranking across strategies and pairs: selectable ones first, by score '
  '(net edge bps x fill probability) descending, ties by net edge, symbol, strategy. Rank 1, if selectable, is '
  'selected; every other proposal says why it lost: lower_score_than <strategy>/<symbol> (selectable but beaten) or '
  'its first gate (regime_ineligible, not_ready: ..., route_stale: ..., net_edge_not_positive, ...). Writes nothing.';
--! EndIncluded strategy/strategy__rank.sql
--! Included strategy/strategy__select_top.sql
-- Top-1 per evaluation: the winner of strategy__rank, or one row saying why there is none.
drop function if exists kapitaal.strategy__select_top(bigint, timestamptz, numeric, text);
create function kapitaal.strategy__select_top(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns table (
  outcome text,
  run_id bigint,
  generation_id bigint,
  symbol text,
  strategy text,
  regime text,
  side text,
  entry_liquidity text,
  order_type text,
  post_only boolean,
  entry_price numeric,
  queue_ahead_qty numeric,
  gross_edge_bps numeric,
  fee_bps numeric,
  net_edge_bps numeric,
  fill_probability numeric,
  score numeric,
  proposals integer,
  selectable_proposals integer,
  reason text,
  inputs jsonb
)
language sql
stable
as $$
  with r as (
    select * from kapitaal.strategy__rank(p_run_id, p_now, p_size_quote, p_account)
  ),
  c as (
    select count(*)::integer as n, count(*) filter (where r.selectable)::integer as n_sel,
           count(*) filter (where r.data_ok)::integer as n_data_ok,
           max(r.generation_id) as generation_id
      from r
  )
  select 'selected', r.run_id, r.generation_id, r.symbol, r.strategy, r.regime, r.side, r.entry_liquidity,
         r.order_type, r.post_only, r.entry_price, r.queue_ahead_qty, r.gross_edge_bps, r.fee_bps, r.net_edge_bps,
         r.fill_probability, r.score, c.n, c.n_sel, r.reason, r.inputs
    from r cross join c
   where r.selected
  union all
  select case when c.n_data_ok = 0 then 'data_blocked' else 'economically_empty' end,
         p_run_id, c.generation_id, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
         c.n, 0,
         case when c.n = 0 then 'data_blocked: no run_symbol_state rows for this run'
              when c.n_data_ok = 0 then format('data_blocked: none of %s proposals passed readiness, regime and route freshness', c.n)
              else format('economically_empty: %s proposals, %s with usable data, none with positive net edge after fees '
                          'in an eligible regime', c.n, c.n_data_ok) end,
         jsonb_build_object('reasons', (select jsonb_object_agg(x.k, x.n) from (
           select split_part(r.reason, ':', 1) as k, count(*) as n from r group by 1) x), 'now', p_now)
    from c
   where c.n_sel = 0
$$;
comment on function kapitaal.strategy__select_top(bigint, timestamptz, numeric, text) is
  'Exactly one row: the rank-1 selectable proposal of strategy__rank (outcome selected), or no winner with outcome '
  'data_blocked (no state, or no proposal with a regime, ready data and a fresh route) or economically_empty (data '
  'usable but nothing with positive net edge after fees in an eligible regime); inputs then counts the losers per '
  'reason. Writes nothing; evaluation_rankings__record stores the whole ranking.';
--! EndIncluded strategy/strategy__select_top.sql
--! Included strategy/evaluation_rankings.sql
-- Every proposal an evaluation ranked, with its rank and why it lost. Append-only record of
-- the competitive scoring; written only by evaluation_rankings__record.
create table if not exists kapitaal.evaluation_rankings (
  evaluation_id bigint not null,
  symbol text not null,
  strategy text not null,
  rank integer not null check (rank >= 1),
  score numeric,
  net_edge_bps numeric,
  selected boolean not null,
  reason text not null,
  inputs jsonb not null,
  run_id bigint not null,
  generation_id bigint,
  regime text,
  side text not null,
  entry_liquidity text not null,
  order_type text not null,
  post_only boolean not null,
  entry_price numeric,
  queue_ahead_qty numeric,
  gross_edge_bps numeric,
  fee_bps numeric,
  fill_probability numeric,
  selectable boolean not null,
  gates text[] not null,
  recorded_at timestamptz not null,
  primary key (evaluation_id, symbol, strategy),
  constraint evaluation_rankings_selected_is_selectable check (not selected or selectable),
  constraint evaluation_rankings_selected_is_rank_1 check (not selected or rank = 1)
);
create unique index if not exists evaluation_rankings_rank_idx on kapitaal.evaluation_rankings (evaluation_id, rank);
create unique index if not exists evaluation_rankings_one_selected_idx on kapitaal.evaluation_rankings (evaluation_id)
  where selected;
create index if not exists evaluation_rankings_run_idx on kapitaal.evaluation_rankings (run_id, evaluation_id);

comment on table kapitaal.evaluation_rankings is
  'The competitive scoring of one evaluation: every proposal (symbol x strategy) with its rank, score, net edge, '
  'whether it was selected and why it lost, and all inputs. No foreign key to evaluations (the decision layer''s '
  'table): join `evaluation_rankings r join evaluations e on e.evaluation_id = r.evaluation_id`; the decision layer''s '
  'evaluation_candidates (what passed its fan-out) has the same key: `left join evaluation_candidates c using '
  '(evaluation_id, symbol, strategy)`. At most one selected row per evaluation. Append-only.';
comment on column kapitaal.evaluation_rankings.evaluation_id is 'Id of the evaluation (evaluations.evaluation_id) that ranked these proposals.';
comment on column kapitaal.evaluation_rankings.rank is '1 = best; selectable proposals rank before blocked ones (strategy__rank).';
comment on column kapitaal.evaluation_rankings.score is 'net_edge_bps x fill_probability: what strategies and pairs compete on.';
comment on column kapitaal.evaluation_rankings.net_edge_bps is 'Expected edge after fees and adverse selection, bps of mid.';
comment on column kapitaal.evaluation_rankings.selected is 'The top-1 proposal of the evaluation (at most one per evaluation).';
comment on column kapitaal.evaluation_rankings.reason is
  'selected: ..., lower_score_than <strategy>/<symbol>: ..., or the first gate that blocked it (regime_ineligible, '
  'not_ready, route_stale, pair_not_tradable, no_signal, net_edge_not_positive, ...).';
comment on column kapitaal.evaluation_rankings.inputs is 'Every state value, derived number, policy coefficient and fee rate the proposal used.';
comment on column kapitaal.evaluation_rankings.generation_id is 'State generation the proposal read (run_symbol_state.generation_id).';
comment on column kapitaal.evaluation_rankings.gross_edge_bps is 'Expected move - entry cost - taker exit cost, bps of mid, before fees.';
comment on column kapitaal.evaluation_rankings.fee_bps is 'Round-trip fee: entry fee rate (maker or taker) + taker exit fee rate, in bps.';
comment on column kapitaal.evaluation_rankings.fill_probability is 'Maker: estimated probability that the bid fills within fill_horizon; taker: 1.';
comment on column kapitaal.evaluation_rankings.selectable is 'No gate blocked it (it could have won with the best score).';
comment on column kapitaal.evaluation_rankings.gates is 'Every gate that blocked it, in order; reason starts with the first.';
comment on column kapitaal.evaluation_rankings.recorded_at is 'p_now of the recording (the evaluation''s time).';
--! EndIncluded strategy/evaluation_rankings.sql
--! Included strategy/evaluation_rankings__record.sql
-- Stores the whole ranking of strategy__rank for an evaluation. Idempotent per evaluation id.
drop function if exists kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text);
create function kapitaal.evaluation_rankings__record(
  p_evaluation_id bigint,
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns setof kapitaal.evaluation_rankings
language plpgsql
volatile
as $$
begin
  if p_evaluation_id is null or p_run_id is null then
    raise exception 'evaluation_rankings__record: evaluation id and run id are required (got %, %)',
      p_evaluation_id, p_run_id using errcode = '22004';
  end if;
  -- One recording per evaluation even when two sessions try at once: the second returns the first's rows.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.evaluation_rankings', p_evaluation_id));
  if not exists (select 1 from kapitaal.evaluation_rankings c where c.evaluation_id = p_evaluation_id) then
    insert into kapitaal.evaluation_rankings
      (evaluation_id, symbol, strategy, rank, score, net_edge_bps, selected, reason, inputs, run_id, generation_id,
       regime, side, entry_liquidity, order_type, post_only, entry_price, queue_ahead_qty, gross_edge_bps, fee_bps,
       fill_probability, selectable, gates, recorded_at)
    select p_evaluation_id, r.symbol, r.strategy, r.rank, r.score, r.net_edge_bps, r.selected, r.reason, r.inputs,
           r.run_id, r.generation_id, r.regime, r.side, r.entry_liquidity, r.order_type, r.post_only, r.entry_price,
           r.queue_ahead_qty, r.gross_edge_bps, r.fee_bps, r.fill_probability, r.selectable, r.gates, p_now
      from kapitaal.strategy__rank(p_run_id, p_now, p_size_quote, p_account) r;
  end if;
  return query
    select c.* from kapitaal.evaluation_rankings c where c.evaluation_id = p_evaluation_id order by c.rank;
end
$$;
comment on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text) is
  'Stores every proposal of strategy__rank(p_run_id, p_now, p_size_quote, p_account) with its rank, score, selection '
  'and loss reason under p_evaluation_id (an id the decision layer''s evaluation created; no foreign key) and returns '
  'the stored rows by rank. Idempotent: a second call for the same evaluation id (also concurrently, serialised by an '
  'advisory lock) stores nothing and returns the first recording. A run without state stores no rows.';
--! EndIncluded strategy/evaluation_rankings__record.sql
--! Included strategy/grants.sql
-- Least privilege for the strategy layer. Roles come from migrations/roles.sql.
-- Execution (the evaluation runs as it): reads policies and rankings, runs the scoring, appends rankings.
-- Read-only: reads everything and may run the read-only scoring functions to explain a decision.
revoke all on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text) from public;

grant select on kapitaal.strategy_policy, kapitaal.strategy_regime_eligibility, kapitaal.evaluation_rankings
  to kapitaal_execution, kapitaal_readonly;
grant insert on kapitaal.evaluation_rankings to kapitaal_execution;
grant execute on function
  kapitaal.strategy__proposals(bigint, timestamptz, numeric, text),
  kapitaal.strategy__rank(bigint, timestamptz, numeric, text),
  kapitaal.strategy__select_top(bigint, timestamptz, numeric, text)
  to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text)
  to kapitaal_execution;
--! EndIncluded strategy/grants.sql

--! split: 800-orders.sql
--! Included orders/order_policy.sql
-- Placement and execution rules per strategy (row 'default' for the rest): how long a maker entry may
-- wait before the fallback decides, whether it may fall back to taker, and how fresh a mark the exit loop
-- needs. Plain rows a DBA can read and change; defaults are inserted once.
create table if not exists kapitaal.order_policy (
  strategy text primary key,
  maker_wait interval not null default interval '30 seconds' check (maker_wait >= interval '0'),
  maker_fallback_to_taker boolean not null default true,
  maker_fallback_window interval not null default interval '5 minutes' check (maker_fallback_window > interval '0'),
  exit_mark_max_age interval not null default interval '30 seconds' check (exit_mark_max_age > interval '0'),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.order_policy is
  'Execution rules per strategy (row ''default'' applies to strategies without their own row), used by '
  'order__maker_fallback_decision and exits__scan.';
comment on column kapitaal.order_policy.maker_wait is
  'A post-only (maker) entry still unfilled this long after its intent is cancelled; it then falls back to a taker '
  'order only when the edge recomputed from current state still pays the taker fee.';
comment on column kapitaal.order_policy.maker_fallback_to_taker is 'false: an expired maker entry is only cancelled, never replaced by a taker order.';
comment on column kapitaal.order_policy.maker_fallback_window is
  'A maker entry cancelled longer ago than this (e.g. by the exchange) gets no taker fallback any more: its decision is too old.';
comment on column kapitaal.order_policy.exit_mark_max_age is
  'exits__scan skips a position (outcome stale_mark, with the age) when its newest run_symbol_state row was refreshed '
  'longer ago than this: never exit on a stale mark.';
insert into kapitaal.order_policy (strategy) values ('default') on conflict do nothing;

create or replace function kapitaal.order_policy__for(p_strategy text)
returns kapitaal.order_policy
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select p.* from kapitaal.order_policy p
   where p.strategy in (p_strategy, 'default')
   order by (p.strategy = p_strategy) desc
   limit 1
$$;
comment on function kapitaal.order_policy__for(text) is 'The order_policy row of a strategy, or the ''default'' row.';
--! EndIncluded orders/order_policy.sql
--! Included orders/evaluation_placements.sql
-- What execution did with each evaluation that had candidates: the order it placed, or why it placed
-- nothing. One row per evaluation (the primary key makes evaluation__place_orders idempotent).
create table if not exists kapitaal.evaluation_placements (
  evaluation_id bigint primary key,
  run_id bigint,
  generation_id bigint,
  symbol text,
  strategy text,
  outcome text not null check (outcome in ('placed', 'no_candidate', 'unknown_pair', 'pair_not_tradable',
                                           'no_room', 'below_minimum', 'invalid_price')),
  marker text not null,
  reason text not null check (btrim(reason) <> ''),
  order_id bigint references kapitaal.orders (order_id) on delete restrict,
  client_order_id text,
  details jsonb not null,
  decided_at timestamptz not null,
  created_at timestamptz not null default clock_timestamp(),
  constraint evaluation_placements_order_iff_placed check ((outcome = 'placed') = (order_id is not null))
);
create index if not exists evaluation_placements_decided_idx on kapitaal.evaluation_placements (decided_at);
comment on table kapitaal.evaluation_placements is
  'The execution side of an evaluation with candidates (evaluation__place_orders): the entry order it created '
  '(outcome placed) or why nothing was placed (no_candidate, unknown_pair, pair_not_tradable, no_room, below_minimum, '
  'invalid_price), with every number used in details (ranking row, sizing, pair limits, conformed terms). No '
  'foreign key to evaluations (decision layer); join on evaluation_id.';
comment on column kapitaal.evaluation_placements.marker is
  'Log marker: ORDER_INTENT_CREATED, CAPITAL_NO_ROOM or ORDER_LIMITS_REJECTED.';
comment on column kapitaal.evaluation_placements.details is
  'ranking (the selected evaluation_rankings row), sizing (capital__position_size), limits (run_pairs row) and '
  'conformed (order__conform_to_limits) as JSON.';
--! EndIncluded orders/evaluation_placements.sql
--! Included orders/evaluation__place_orders.sql
-- The placement glue between an evaluation and the order book: top-1 candidate -> size -> pair limits
-- -> order intent (plus its submit job), all in the evaluation's transaction.
create or replace function kapitaal.evaluation__place_orders(
  p_evaluation_id bigint,
  p_run_id bigint,
  p_generation_id bigint,
  p_now timestamptz
)
returns kapitaal.evaluation_placements
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_done kapitaal.evaluation_placements;
  v_top kapitaal.evaluation_rankings;
  v_pair kapitaal.run_pairs;
  v_size record;
  v_lim record;
  v_order_id bigint;
  v_intent_client text;
  v_job_id bigint;
  v_created boolean;
  v_price numeric;
  v_outcome text;
  v_marker text;
  v_reason text;
  v_client_id text;
  v_details jsonb;
  v_generation bigint;
begin
  if p_evaluation_id is null then
    raise exception 'evaluation__place_orders: evaluation id is required' using errcode = '22004';
  end if;
  -- One decision per evaluation, also when two sessions place the same evaluation at once.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.evaluation_placements', p_evaluation_id));
  select * into v_done from kapitaal.evaluation_placements p where p.evaluation_id = p_evaluation_id;
  if found then
    return v_done;
  end if;

  select * into v_top from kapitaal.evaluation_rankings r
   where r.evaluation_id = p_evaluation_id and r.selected;
  v_generation := coalesce(v_top.generation_id, p_generation_id);
  v_details := jsonb_build_object('ranking', to_jsonb(v_top), 'now', p_now);

  if v_top.evaluation_id is null then
    v_outcome := 'no_candidate';
    v_marker := 'ORDER_LIMITS_REJECTED';
    v_reason := format('NO_CANDIDATE: evaluation %s has no selected proposal in evaluation_rankings', p_evaluation_id);
  else
    select * into v_pair from kapitaal.run_pairs rp where rp.run_id = p_run_id and rp.symbol = v_top.symbol;
    v_details := v_details || jsonb_build_object('limits', to_jsonb(v_pair));
    v_price := v_top.entry_price;
    if v_pair.symbol is null then
      v_outcome := 'unknown_pair';
      v_marker := 'ORDER_LIMITS_REJECTED';
      v_reason := format('UNKNOWN_PAIR: %s has no run_pairs row for run %s on this cluster; never send an order with unverified limits',
                         v_top.symbol, p_run_id);
    elsif not (v_pair.status = 'online'
               or (v_pair.status = 'post_only' and v_top.post_only)
               or (v_pair.status = 'limit_only' and v_top.order_type = 'limit')) then
      v_outcome := 'pair_not_tradable';
      v_marker := 'ORDER_LIMITS_REJECTED';
      v_reason := format('PAIR_NOT_TRADABLE: %s is %s, a %s%s entry is not accepted', v_top.symbol, v_pair.status,
                         v_top.order_type, case when v_top.post_only then ' post-only' else '' end);
    elsif v_price is null or v_price <= 0 then
      v_outcome := 'invalid_price';
      v_marker := 'ORDER_LIMITS_REJECTED';
      v_reason := format('INVALID_PRICE: proposal %s/%s has entry price %s', v_top.strategy, v_top.symbol, coalesce(v_price::text, 'null'));
    else
      select * into v_size from kapitaal.capital__position_size(v_top.symbol, v_price, p_now);
      v_details := v_details || jsonb_build_object('sizing', to_jsonb(v_size));
      if coalesce(v_size.qty, 0) <= 0 then
        v_outcome := 'no_room';
        v_marker := 'CAPITAL_NO_ROOM';
        v_reason := format('NO_ROOM: %s for %s (equity basis %s, allocated %s, reserved %s, position room %s, total room %s)',
                           v_size.reason, v_top.symbol, v_size.equity_basis, v_size.allocated_quote, v_size.reserved_quote,
                           v_size.position_room, v_size.total_room);
      else
        select * into v_lim from kapitaal.order__conform_to_limits('buy', v_price, v_size.qty, v_pair.price_increment,
                                                                   v_pair.qty_increment, v_pair.qty_min, v_pair.cost_min);
        v_details := v_details || jsonb_build_object('conformed', to_jsonb(v_lim));
        if not v_lim.ok then
          v_outcome := 'below_minimum';
          v_marker := 'ORDER_LIMITS_REJECTED';
          v_reason := format('LIMITS_%s: %s %s @ %s sized %s quote (%s) fails %s limits (qty_min %s, cost_min %s, tick %s, lot %s)',
                             upper(v_lim.reason), v_top.symbol, trim_scale(v_size.qty), v_price, v_size.quote_size, v_size.reason,
                             v_top.symbol, v_pair.qty_min, v_pair.cost_min, v_pair.price_increment, v_pair.qty_increment);
        else
          v_client_id := kapitaal.order__client_id('entry', p_evaluation_id, '0');
          v_reason := format('%s %s entry on %s (%s): %s; net edge %s bps after fees %s bps, fill probability %s; size %s quote (%s) -> %s @ %s',
                             v_top.strategy, v_top.order_type, v_top.symbol, coalesce(v_top.regime, 'no regime'), v_top.reason,
                             v_top.net_edge_bps, v_top.fee_bps, v_top.fill_probability, round(v_size.quote_size, 8), v_size.reason,
                             trim_scale(v_lim.qty), trim_scale(v_lim.price));
          select i.order_id, i.client_order_id, i.job_id, i.created into v_order_id, v_intent_client, v_job_id, v_created
            from kapitaal.order__create_intent(
            p_client_order_id => v_client_id,
            p_run_id => p_run_id,
            p_symbol => v_top.symbol,
            p_side => 'buy',
            p_order_type => v_top.order_type,
            p_qty => trim_scale(v_lim.qty),
            p_price => case when v_top.order_type = 'limit' then trim_scale(v_lim.price) end,
            p_strategy => v_top.strategy,
            p_purpose => 'entry',
            p_reason => v_reason,
            p_evaluation_id => p_evaluation_id,
            p_generation_id => v_generation,
            p_post_only => v_top.post_only,
            p_reference_price => trim_scale(v_lim.price),
            p_regime => v_top.regime,
            p_now => p_now) i;
          v_outcome := 'placed';
          v_marker := 'ORDER_INTENT_CREATED';
          v_details := v_details || jsonb_build_object('job_id', v_job_id, 'created', v_created);
        end if;
      end if;
    end if;
  end if;

  insert into kapitaal.evaluation_placements (evaluation_id, run_id, generation_id, symbol, strategy, outcome, marker,
                                              reason, order_id, client_order_id, details, decided_at)
  values (p_evaluation_id, p_run_id, v_generation, v_top.symbol, v_top.strategy, v_outcome, v_marker, v_reason,
          v_order_id, v_intent_client, v_details, p_now)
  returning * into v_done;
  return v_done;
end
$$;
comment on function kapitaal.evaluation__place_orders(bigint, bigint, bigint, timestamptz) is
  'Execution of one evaluation, in the caller''s (the evaluation''s) transaction: takes the selected top-1 row of '
  'evaluation_rankings, sizes it with capital__position_size, conforms it to the pair''s run_pairs limits of p_run_id '
  '(unknown pair: nothing placed) and writes the entry intent with order__create_intent, whose submit job is queued in '
  'the same transaction. The client order id is order__client_id(''entry'', evaluation id, ''0''): a second call for '
  'the same evaluation returns the first decision and can never create a second order. Every outcome, including why '
  'nothing was placed, is stored in evaluation_placements.';

-- The hook evaluation__run calls (to_regprocedure('kapitaal.evaluation__place_orders(bigint)')).
create or replace function kapitaal.evaluation__place_orders(p_evaluation_id bigint)
returns kapitaal.evaluation_placements
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_eval kapitaal.evaluations;
begin
  select * into v_eval from kapitaal.evaluations e where e.evaluation_id = p_evaluation_id;
  if not found then
    raise exception 'evaluation__place_orders: no evaluation %', p_evaluation_id using errcode = 'P0002';
  end if;
  return kapitaal.evaluation__place_orders(p_evaluation_id, v_eval.run_id, v_eval.generation_id, v_eval.evaluated_at);
end
$$;
comment on function kapitaal.evaluation__place_orders(bigint) is
  'The execution hook of evaluation__run: evaluation__place_orders(evaluation id, its run, its generation, its '
  'evaluated_at as p_now).';
--! EndIncluded orders/evaluation__place_orders.sql
--! Included orders/order__submit_begin.sql
-- First step of the order__submit job: the generation gate for entries that were never sent, then
-- order__begin_submit. Committed before any exchange call.
create or replace function kapitaal.order__submit_begin(p_order_id bigint, p_now timestamptz default now())
returns table (
  action text,
  order_id bigint,
  status text,
  client_order_id text,
  exchange_order_id text,
  symbol text,
  side text,
  order_type text,
  post_only boolean,
  price text,
  qty text,
  purpose text,
  submit_attempts integer,
  gate_allowed boolean,
  reason text,
  marker text
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_gate record;
  v_begin record;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__submit_begin: order % does not exist', p_order_id using errcode = 'P0002';
  end if;

  gate_allowed := true;
  if v_order.purpose = 'entry' and v_order.status in ('new', 'submitting') then
    -- State-first contract, rule 4: an entry goes out only while the decision cluster still shows the
    -- generation its decision read. Exits reduce risk and are not gated (their mark must be fresh instead).
    select * into v_gate from kapitaal.generation_gate__check(v_order.run_id, v_order.generation_id, p_now);
    gate_allowed := v_gate.allowed;
    reason := v_gate.reason;
    if not v_gate.allowed then
      marker := v_gate.marker;
    end if;
    if not v_gate.allowed and v_order.status = 'new' then
      perform kapitaal.order__transition(
        p_order_id, 'rejected', null,
        jsonb_build_object('gate', to_jsonb(v_gate), 'run_id', v_order.run_id, 'generation_id', v_order.generation_id),
        p_now, 'EXECUTION_BLOCKED_GENERATION_MISMATCH: ' || v_gate.reason || '; nothing was sent');
      return query select 'blocked'::text, v_order.order_id, 'rejected'::text, v_order.client_order_id,
                          v_order.exchange_order_id, v_order.symbol, v_order.side, v_order.order_type, v_order.post_only,
                          trim_scale(v_order.price)::text, trim_scale(v_order.qty)::text, v_order.purpose,
                          v_order.submit_attempts, false, v_gate.reason, v_gate.marker;
      return;
    end if;
  end if;

  select * into v_begin from kapitaal.order__begin_submit(p_order_id, p_now);
  action := case when not v_begin.proceed then 'done'
                 when v_begin.must_query_exchange then 'query_first'
                 else 'send' end;
  if action = 'done' then
    reason := format('order is %s: never sent again', v_begin.status);
  elsif action = 'query_first' then
    marker := coalesce(marker, 'ORDER_SUBMIT_RECOVERY_QUERY');
    reason := format('attempt %s: an earlier attempt may have reached the exchange; ask for client order id %s first%s',
                     v_begin.submit_attempts, v_order.client_order_id,
                     case when gate_allowed then '' else '; the gate now blocks, so send nothing if the exchange does not know it' end);
  end if;
  return query select action, v_order.order_id, v_begin.status, v_order.client_order_id, v_order.exchange_order_id,
                      v_order.symbol, v_order.side, v_order.order_type, v_order.post_only, trim_scale(v_order.price)::text,
                      trim_scale(v_order.qty)::text, v_order.purpose, v_begin.submit_attempts, gate_allowed, reason, marker;
end
$$;
comment on function kapitaal.order__submit_begin(bigint, timestamptz) is
  'Start of the order__submit job (commit it before calling the exchange). For an entry still new it first checks '
  'generation_gate__check(run_id, generation_id, p_now): blocked -> the order is rejected with the gate''s reason '
  '(action blocked, marker EXECUTION_BLOCKED_GENERATION_MISMATCH) and nothing is ever sent. Otherwise '
  'order__begin_submit: action send (new -> submitting), query_first (an earlier attempt may have reached the exchange: '
  'look up the client order id and send only if unknown and gate_allowed), or done (already acknowledged or final: '
  'never send again). Prices and quantities are returned as exact text without trailing zeros.';
--! EndIncluded orders/order__submit_begin.sql
--! Included orders/order__apply_exchange_state.sql
-- What the exchange says about one of our orders, applied to the OrderTracker. Fills are booked by
-- order__record_fill (they move an order to partially_filled/filled); this function records the
-- acknowledgement and the exchange's final verdicts (cancelled, expired, rejected).
create or replace function kapitaal.order__apply_exchange_state(
  p_order_id bigint,
  p_exchange_status text,
  p_exchange_order_id text,
  p_data jsonb default null,
  p_now timestamptz default now(),
  p_note text default null
)
returns table (order_id bigint, from_status text, to_status text, changed boolean, note text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_to text;
  v_t record;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__apply_exchange_state: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  if p_exchange_status not in ('new', 'open', 'partially_filled', 'filled', 'cancelled', 'rejected', 'expired') then
    raise exception 'order__apply_exchange_state: unknown exchange status %', p_exchange_status using errcode = '22023';
  end if;
  -- Working or filled on the exchange: acknowledged. The fills themselves come from the fills ledger.
  v_to := case when p_exchange_status in ('new', 'open', 'partially_filled', 'filled') then 'open' else p_exchange_status end;

  if v_to = 'open' and v_order.status in ('open', 'partially_filled', 'filled') then
    -- Already past the acknowledgement: only learn the txid if we did not know it.
    v_to := v_order.status;
  end if;
  if v_order.status = v_to or exists (select 1 from kapitaal.order_status_transitions t
                                       where t.from_status = v_order.status and t.to_status = v_to) then
    select * into v_t from kapitaal.order__transition(p_order_id, v_to, p_exchange_order_id, p_data, p_now,
                                                      coalesce(p_note, 'exchange reports ' || p_exchange_status));
    return query select p_order_id, v_t.from_status, v_t.to_status, v_t.changed, coalesce(p_note, 'exchange reports ' || p_exchange_status);
  else
    -- e.g. the exchange says cancelled for an order our ledger has filled: keep ours, say so.
    return query select p_order_id, v_order.status, v_order.status, false,
                        format('exchange reports %s, order is %s here: no transition %s -> %s; left as is',
                               p_exchange_status, v_order.status, v_order.status, v_to);
  end if;
end
$$;
comment on function kapitaal.order__apply_exchange_state(bigint, text, text, jsonb, timestamptz, text) is
  'Applies the exchange''s status of an order (our vocabulary: new/open/partially_filled/filled map to the '
  'acknowledgement open; cancelled, rejected, expired are final) through order__transition, learning the txid. Fills '
  'are not booked here: order__record_fill moves orders to partially_filled/filled. A status the transition table '
  'does not allow from the current one (e.g. cancelled after filled) changes nothing and says why in note.';
--! EndIncluded orders/order__apply_exchange_state.sql
--! Included orders/exchange_fills.sql
-- Fill reconciliation state: where each venue's fill feed was read up to, and every fill the venue
-- reported (the inbox), matched to our orders by exchange order id or client order id. The cursor and
-- the inbox rows of one page commit together, so a crash can lose neither; booking a fill
-- (order__record_fill) is idempotent per trade id, so a replay is harmless.
create table if not exists kapitaal.exchange_fill_cursors (
  venue text primary key,
  cursor text,
  fills_seen bigint not null default 0,
  polls bigint not null default 0,
  last_poll_at timestamptz,
  last_fill_at timestamptz,
  updated_at timestamptz not null default now()
);
comment on table kapitaal.exchange_fill_cursors is
  'Per venue (e.g. paper:<session>, simulator:<url>, kraken:<account>): the opaque Exchange.fillsSince cursor up to '
  'which fills are stored in exchange_fill_inbox. Advanced only in the transaction that stores the fills it covers.';

create table if not exists kapitaal.exchange_fill_inbox (
  venue text not null,
  exchange text not null check (exchange in ('kraken', 'sim', 'paper')),
  trade_id text not null,
  exchange_order_id text not null,
  client_order_id text,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  price numeric not null,
  qty numeric not null,
  fee numeric not null,
  liquidity text not null check (liquidity in ('maker', 'taker')),
  filled_at timestamptz not null,
  data jsonb not null,
  received_at timestamptz not null,
  inbox_seq bigint generated always as identity,
  order_id bigint references kapitaal.orders (order_id) on delete restrict,
  fill_id bigint,
  matched_at timestamptz,
  attempts integer not null default 0,
  last_error text,
  primary key (exchange, trade_id)
);
create index if not exists exchange_fill_inbox_unmatched_idx on kapitaal.exchange_fill_inbox (inbox_seq) where matched_at is null;
comment on table kapitaal.exchange_fill_inbox is
  'Every fill the exchange reported, as reported (decimal text kept exactly), and which order and fills-ledger row it '
  'became. Unmatched rows (matched_at null) wait for their order (e.g. its txid is learnt by the submit recovery) or '
  'carry last_error; fills__match retries them.';
comment on column kapitaal.exchange_fill_inbox.exchange is 'The fills ledger''s exchange name: kraken (live), sim (simulator), paper.';
comment on column kapitaal.exchange_fill_inbox.attempts is 'How often fills__match tried to book it.';

create or replace function kapitaal.fills__ingest(
  p_venue text,
  p_exchange text,
  p_fills jsonb,
  p_prev_cursor text,
  p_next_cursor text,
  p_now timestamptz default now()
)
returns table (stored integer, duplicates integer, cursor_advanced boolean)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_total integer := coalesce(jsonb_array_length(p_fills), 0);
  v_stored integer;
  v_cur kapitaal.exchange_fill_cursors;
begin
  insert into kapitaal.exchange_fill_cursors (venue) values (p_venue) on conflict do nothing;
  select * into v_cur from kapitaal.exchange_fill_cursors c where c.venue = p_venue for update;

  insert into kapitaal.exchange_fill_inbox (venue, exchange, trade_id, exchange_order_id, client_order_id, symbol, side,
                                            price, qty, fee, liquidity, filled_at, data, received_at)
  select p_venue, p_exchange, f->>'tradeId', f->>'exchangeOrderId', nullif(f->>'clientOrderId', ''), f->>'symbol',
         f->>'side', (f->>'price')::numeric, (f->>'qty')::numeric, (f->>'fee')::numeric, f->>'liquidity',
         (f->>'time')::timestamptz, f, p_now
    from jsonb_array_elements(coalesce(p_fills, '[]'::jsonb)) f
  on conflict (exchange, trade_id) do nothing;
  get diagnostics v_stored = row_count;

  stored := v_stored;
  duplicates := v_total - v_stored;
  -- Two pollers of one venue: only the one that read the stored cursor moves it (the other's fills are
  -- stored all the same); a stale poller can never move the cursor backwards.
  cursor_advanced := v_cur.cursor is not distinct from p_prev_cursor;
  update kapitaal.exchange_fill_cursors c
     set cursor = case when cursor_advanced then p_next_cursor else c.cursor end,
         fills_seen = c.fills_seen + v_stored,
         polls = c.polls + 1,
         last_poll_at = p_now,
         last_fill_at = case when v_stored > 0 then p_now else c.last_fill_at end,
         updated_at = p_now
   where c.venue = p_venue;
  return next;
end
$$;
comment on function kapitaal.fills__ingest(text, text, jsonb, text, text, timestamptz) is
  'Stores one fillsSince page (JSON array of Exchange Fill objects) in exchange_fill_inbox (idempotent per exchange '
  'and trade id) and moves the venue''s cursor from p_prev_cursor to p_next_cursor in the same transaction; if the '
  'stored cursor is no longer p_prev_cursor (another poller moved it) the fills are stored but the cursor stays.';

create or replace function kapitaal.fills__match(
  p_exchange text,
  p_limit integer default 100,
  p_after_seq bigint default 0,
  p_now timestamptz default now()
)
returns table (inbox_seq bigint, trade_id text, order_id bigint, fill_id bigint, is_new boolean, order_status text, outcome text, note text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_in kapitaal.exchange_fill_inbox;
  v_order kapitaal.orders;
  v_fill record;
begin
  for v_in in
    select * from kapitaal.exchange_fill_inbox i
     where i.exchange = p_exchange and i.matched_at is null and i.inbox_seq > coalesce(p_after_seq, 0)
     order by i.inbox_seq
     limit p_limit
     for update skip locked
  loop
    select * into v_order from kapitaal.orders o
     where o.exchange_order_id = v_in.exchange_order_id
        or (v_in.client_order_id is not null and o.client_order_id = v_in.client_order_id
            and (o.exchange_order_id is null or o.exchange_order_id = v_in.exchange_order_id))
     order by (o.exchange_order_id = v_in.exchange_order_id) desc nulls last
     limit 1;
    if v_order.order_id is null then
      update kapitaal.exchange_fill_inbox i set attempts = i.attempts + 1,
             last_error = 'no order with this exchange order id or client order id (yet)'
       where i.exchange = v_in.exchange and i.trade_id = v_in.trade_id;
      return query select v_in.inbox_seq, v_in.trade_id, null::bigint, null::bigint, false, null::text, 'unmatched'::text,
                          'no order with exchange order id ' || v_in.exchange_order_id || ' or client order id '
                          || coalesce(v_in.client_order_id, '(none)');
      continue;
    end if;
    begin
      if v_order.exchange_order_id is null then
        -- The fill proves the exchange has the order: learn its txid (a same-status transition does only that).
        perform kapitaal.order__transition(v_order.order_id, v_order.status, v_in.exchange_order_id, null, p_now,
                                           'txid learnt from fill ' || v_in.trade_id);
      end if;
      select * into v_fill from kapitaal.order__record_fill(v_order.order_id, v_in.exchange, v_in.trade_id, v_in.price,
                                                            v_in.qty, v_in.fee, v_in.liquidity, v_in.filled_at, v_in.data, p_now);
      update kapitaal.exchange_fill_inbox i
         set order_id = v_order.order_id, fill_id = v_fill.fill_id, matched_at = p_now, attempts = i.attempts + 1,
             last_error = null
       where i.exchange = v_in.exchange and i.trade_id = v_in.trade_id;
      return query select v_in.inbox_seq, v_in.trade_id, v_order.order_id, v_fill.fill_id, v_fill.is_new, v_fill.order_status,
                          case when v_fill.is_new then 'recorded' else 'replay' end, null::text;
    exception when others then
      -- One bad fill (e.g. for a rejected order) must not stop the others: keep it unmatched with the error.
      update kapitaal.exchange_fill_inbox i set attempts = i.attempts + 1, last_error = sqlstate || ': ' || sqlerrm
       where i.exchange = v_in.exchange and i.trade_id = v_in.trade_id;
      return query select v_in.inbox_seq, v_in.trade_id, v_order.order_id, null::bigint, false, v_order.status, 'error'::text,
                          sqlstate || ': ' || sqlerrm;
    end;
  end loop;
end
$$;
comment on function kapitaal.fills__match(text, integer, bigint, timestamptz) is
  'Books up to p_limit unmatched inbox fills of p_exchange after inbox_seq p_after_seq, oldest first, each with order__record_fill (idempotent '
  'per trade id) after finding its order by exchange order id, else by client order id (learning the txid). A fill '
  'without an order stays unmatched; an error (e.g. a fill for a rejected order) is kept in last_error; neither '
  'stops the rest. Rows locked by a concurrent matcher are skipped.';
--! EndIncluded orders/exchange_fills.sql
--! Included orders/exits__scan.sql
-- The exit loop's SQL: every open position against a fresh mark from run_symbol_state, through
-- position__exit_decision; a trigger becomes an exit intent on the same DB-first path as entries.
create table if not exists kapitaal.exit_scan_decisions (
  decision_id bigint generated always as identity primary key,
  scanned_at timestamptz not null,
  position_id bigint not null references kapitaal.positions (position_id) on delete restrict,
  symbol text not null,
  outcome text not null check (outcome in ('exit_created', 'exit_exists', 'in_flight', 'no_mark', 'stale_mark',
                                           'unknown_pair', 'below_minimum')),
  exit_trigger text,
  mark_price numeric,
  regime text,
  state_run_id bigint,
  state_generation_id bigint,
  order_id bigint references kapitaal.orders (order_id) on delete restrict,
  reason text not null,
  details jsonb not null
);
create index if not exists exit_scan_decisions_position_idx on kapitaal.exit_scan_decisions (position_id, decision_id);
create index if not exists exit_scan_decisions_scanned_idx on kapitaal.exit_scan_decisions (scanned_at);
comment on table kapitaal.exit_scan_decisions is
  'Every exits__scan verdict other than hold: an exit order created (or found from an earlier scan), an exit already '
  'in flight, or why a position could not be judged or exited (no mark, stale mark, unknown pair limits, below the '
  'pair''s minimum), with position__exit_decision''s details. Holds are returned by exits__scan but not stored.';

create or replace function kapitaal.exits__scan(p_now timestamptz default now(), p_account text default 'default')
returns table (position_id bigint, symbol text, outcome text, exit_trigger text, mark_price numeric, order_id bigint,
               client_order_id text, created boolean, reason text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pos kapitaal.positions;
  v_st kapitaal.run_symbol_state;
  v_pol kapitaal.order_policy;
  v_pair kapitaal.run_pairs;
  v_exit boolean;
  v_trigger text;
  v_details jsonb;
  v_lim record;
  v_lim_json jsonb;
  v_order_id bigint;
  v_client_id text;
  v_created boolean;
  v_attempt integer;
  v_client text;
  v_outcome text;
  v_reason text;
  v_age interval;
  v_ref numeric;
  v_reason_text text;
begin
  -- One scan at a time per account: two scans must not race for the same exit attempt.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.exits__scan:' || p_account, 0));
  for v_pos in
    select * from kapitaal.positions p where p.account = p_account and p.closed_at is null order by p.position_id
  loop
    v_pol := kapitaal.order_policy__for(v_pos.strategy);
    v_exit := false; v_trigger := null; v_details := null; v_lim_json := null;
    v_order_id := null; v_client_id := null; v_created := false;
    v_outcome := null;
    -- The newest state of the symbol on this (decision) cluster, whatever run it belongs to.
    select * into v_st from kapitaal.run_symbol_state s where s.symbol = v_pos.symbol
     order by s.refreshed_at desc, s.run_id desc limit 1;
    v_age := p_now - v_st.refreshed_at;
    if v_st.symbol is null or v_st.mid is null or v_st.mid <= 0 then
      v_outcome := 'no_mark';
      v_reason := format('NO_MARK: no run_symbol_state row with a mid for %s on this cluster', v_pos.symbol);
    elsif v_age > v_pol.exit_mark_max_age then
      v_outcome := 'stale_mark';
      v_reason := format('STALE_MARK: newest state of %s (run %s, generation %s) was refreshed %s ago > %s; not judged on it',
                         v_pos.symbol, v_st.run_id, v_st.generation_id, v_age, v_pol.exit_mark_max_age);
    else
      select d.exit, d.trigger, d.details into v_exit, v_trigger, v_details
        from kapitaal.position__exit_decision(v_pos.position_id, v_st.mid, v_st.regime, p_now) d;
      if not v_exit then
        if v_details->>'reason' = 'exit_order_in_flight' then
          v_outcome := 'in_flight';
          v_reason := format('IN_FLIGHT: exit order %s of position %s is working (would trigger: %s)',
                             v_details->>'exit_order_id', v_pos.position_id, coalesce(v_details->>'would_trigger', 'nothing'));
        else
          -- hold: returned, not stored
          return query select v_pos.position_id, v_pos.symbol, 'hold'::text, null::text, v_st.mid, null::bigint,
                              null::text, false, coalesce(v_details->>'reason', 'no exit rule fired');
          continue;
        end if;
      else
        select * into v_pair from kapitaal.run_pairs rp where rp.run_id = v_st.run_id and rp.symbol = v_pos.symbol;
        v_ref := coalesce(v_st.best_bid, v_st.mid);
        if v_pair.symbol is null then
          v_outcome := 'unknown_pair';
          v_reason := format('UNKNOWN_PAIR: %s exit of position %s wanted, but %s has no run_pairs row for run %s: never send unverified',
                             v_trigger, v_pos.position_id, v_pos.symbol, v_st.run_id);
        else
          select * into v_lim from kapitaal.order__conform_to_limits('sell', v_ref, v_pos.qty, v_pair.price_increment,
                                                                     v_pair.qty_increment, v_pair.qty_min, v_pair.cost_min);
          v_lim_json := to_jsonb(v_lim);
          if not v_lim.ok then
            v_outcome := 'below_minimum';
            v_reason := format('LIMITS_%s: %s exit of position %s: %s %s @ %s fails the limits (qty_min %s, cost_min %s, lot %s)',
                               upper(v_lim.reason), v_trigger, v_pos.position_id, trim_scale(v_pos.qty), v_pos.symbol,
                               v_ref, v_pair.qty_min, v_pair.cost_min, v_pair.qty_increment);
          else
            -- Deterministic per (position, exit attempt): a rerun of the same scan finds the same order.
            select count(*) + 1 into v_attempt from kapitaal.orders o
             where o.position_id = v_pos.position_id and o.purpose = 'exit';
            v_client := kapitaal.order__client_id('exit', v_pos.position_id, 'attempt:' || v_attempt);
            v_reason_text := format('%s exit of position %s (%s %s, avg entry %s) at mark %s, regime %s: %s',
                                    v_trigger, v_pos.position_id, trim_scale(v_pos.qty), v_pos.symbol,
                                    trim_scale(v_pos.avg_entry_price), v_st.mid, coalesce(v_st.regime, 'unknown'),
                                    coalesce(v_details->>'reason', v_trigger));
            select i.order_id, i.client_order_id, i.created into v_order_id, v_client_id, v_created
              from kapitaal.order__create_intent(
              p_client_order_id => v_client,
              p_run_id => v_st.run_id,
              p_symbol => v_pos.symbol,
              p_side => 'sell',
              p_order_type => 'market',
              p_qty => trim_scale(v_lim.qty),
              p_price => null,
              p_strategy => v_pos.strategy,
              p_purpose => 'exit',
              p_reason => v_reason_text,
              p_generation_id => v_st.generation_id,
              p_reference_price => v_ref,
              p_exit_trigger => v_trigger,
              p_position_id => v_pos.position_id,
              p_regime => v_st.regime,
              p_account => p_account,
              p_now => p_now) i;
            v_outcome := case when v_created then 'exit_created' else 'exit_exists' end;
            v_reason := v_reason_text;
          end if;
        end if;
      end if;
    end if;

    insert into kapitaal.exit_scan_decisions (scanned_at, position_id, symbol, outcome, exit_trigger, mark_price, regime,
                                              state_run_id, state_generation_id, order_id, reason, details)
    values (p_now, v_pos.position_id, v_pos.symbol, v_outcome, v_trigger, v_st.mid, v_st.regime, v_st.run_id,
            v_st.generation_id, v_order_id, v_reason,
            jsonb_build_object('decision', v_details, 'state_refreshed_at', v_st.refreshed_at, 'mark_age', v_age,
                               'max_mark_age', v_pol.exit_mark_max_age, 'conformed', v_lim_json));
    return query select v_pos.position_id, v_pos.symbol, v_outcome, v_trigger, v_st.mid, v_order_id,
                        v_client_id, v_created, v_reason;
  end loop;
end
$$;
comment on function kapitaal.exits__scan(timestamptz, text) is
  'The exit loop (task exits__scan): for every open position of the account takes the mark (mid) and regime from '
  'the newest run_symbol_state row of its symbol on this cluster, skips it when that row is older than '
  'order_policy.exit_mark_max_age (stale_mark) or has no mid (no_mark), calls position__exit_decision, and for a '
  'trigger writes a market sell of the whole position (conformed to run_pairs limits) with order__create_intent, '
  'purpose exit, exit_trigger and position_id, client id order__client_id(''exit'', position, ''attempt:N''): one '
  'exit per position even when scanned twice (the second finds it in flight). Serialised per account. Every verdict '
  'but hold is stored in exit_scan_decisions.';
--! EndIncluded orders/exits__scan.sql
--! Included orders/order__maker_fallback.sql
-- Maker fallback: a post-only entry still unfilled after order_policy.maker_wait is cancelled, and the
-- unfilled rest goes out as a taker order only when the edge, recomputed from current state, still
-- pays the taker fee on entry (and on the exit, as every proposal assumes).
create table if not exists kapitaal.maker_fallbacks (
  order_id bigint primary key references kapitaal.orders (order_id) on delete restrict,
  decided_at timestamptz not null,
  action text not null check (action in ('taker', 'cancel')),
  reason text not null,
  details jsonb not null,
  fallback_order_id bigint references kapitaal.orders (order_id) on delete restrict,
  constraint maker_fallbacks_order_iff_taker check ((action = 'taker') = (fallback_order_id is not null))
);
comment on table kapitaal.maker_fallbacks is
  'What became of each maker (post-only) entry that did not fill in time: replaced by a taker order (action taker, '
  'fallback_order_id) or only cancelled, with the recomputed taker edge and every input in details. One row per maker order.';

create or replace function kapitaal.order__maker_fallback_decision(p_order_id bigint, p_now timestamptz default now())
returns table (action text, reason text, details jsonb)
language plpgsql
stable
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_pol kapitaal.order_policy;
  v_prop record;
  v_st kapitaal.run_symbol_state;
  v_taker numeric;
  v_rest numeric;
  v_age interval;
  v_entry_cost numeric;
  v_fee numeric;
  v_net numeric;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id;
  if not found then
    raise exception 'order__maker_fallback_decision: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  v_pol := kapitaal.order_policy__for(v_order.strategy);
  v_age := p_now - v_order.created_at;
  v_rest := v_order.qty - v_order.filled_qty;
  details := jsonb_build_object('order_id', p_order_id, 'status', v_order.status, 'age', v_age,
                                'maker_wait', v_pol.maker_wait, 'unfilled_qty', v_rest);
  if v_order.purpose <> 'entry' or not v_order.post_only then
    action := 'none'; reason := 'NOT_MAKER: only post-only entries have a maker fallback';
    return next; return;
  end if;
  if v_rest <= 0 or v_order.status = 'filled' then
    action := 'none'; reason := 'FILLED: nothing left to fall back with';
    return next; return;
  end if;
  if v_order.status in ('new', 'submitting') then
    action := 'wait'; reason := format('NOT_WORKING: order is %s', v_order.status);
    return next; return;
  end if;
  if v_order.status in ('open', 'partially_filled') and v_age < v_pol.maker_wait then
    action := 'wait';
    reason := format('MAKER_WAITING: %s of %s waited', v_age, v_pol.maker_wait);
    return next; return;
  end if;
  if not v_pol.maker_fallback_to_taker then
    action := 'cancel';
    reason := format('MAKER_WAIT_EXPIRED: unfilled after %s; taker fallback disabled for %s', v_age, v_order.strategy);
    return next; return;
  end if;

  select * into v_st from kapitaal.run_symbol_state s where s.run_id = v_order.run_id and s.symbol = v_order.symbol;
  select p.* into v_prop from kapitaal.strategy__proposals(v_order.run_id, p_now) p
   where p.symbol = v_order.symbol and p.strategy = v_order.strategy;
  select c.taker_fee_rate into v_taker from kapitaal.capital_policy c where c.account = v_order.account;
  v_taker := coalesce(v_taker, 0.0040);
  if v_prop.symbol is null or v_st.symbol is null or not v_prop.data_ok or v_st.mid is null or v_st.best_ask is null then
    action := 'cancel';
    reason := format('MAKER_WAIT_EXPIRED: unfilled after %s; current state of %s is not usable for a taker decision (%s)',
                     v_age, v_order.symbol, coalesce(v_prop.reason, 'no state row for run ' || v_order.run_id));
    details := details || jsonb_build_object('proposal_reason', v_prop.reason, 'data_ok', v_prop.data_ok);
    return next; return;
  end if;
  -- The proposal's own model, with a taker entry: move - entry cost at the ask - exit cost - taker fee on
  -- both legs - adverse selection.
  v_entry_cost := (v_st.best_ask - v_st.mid) / v_st.mid * 10000;
  v_fee := 2 * v_taker * 10000;
  v_net := round(v_prop.expected_move_bps - v_entry_cost - v_prop.exit_cost_bps - v_fee - v_prop.adverse_selection_bps, 6);
  details := details || jsonb_build_object(
    'generation_id', v_st.generation_id, 'mid', v_st.mid, 'best_ask', v_st.best_ask,
    'expected_move_bps', v_prop.expected_move_bps, 'taker_entry_cost_bps', round(v_entry_cost, 6),
    'exit_cost_bps', v_prop.exit_cost_bps, 'taker_fee_bps', v_fee, 'adverse_selection_bps', v_prop.adverse_selection_bps,
    'taker_net_edge_bps', v_net, 'maker_net_edge_bps', v_prop.net_edge_bps, 'taker_fee_rate', v_taker);
  if v_net > 0 then
    action := 'cancel_and_taker';
    reason := format('MAKER_FALLBACK_TAKER: unfilled after %s; taker edge %s bps = move %s - entry %s - exit %s - fees %s - adverse %s > 0',
                     v_age, v_net, v_prop.expected_move_bps, round(v_entry_cost, 6), v_prop.exit_cost_bps, v_fee,
                     v_prop.adverse_selection_bps);
  else
    action := 'cancel';
    reason := format('MAKER_FALLBACK_CANCEL: unfilled after %s; taker edge %s bps = move %s - entry %s - exit %s - fees %s - adverse %s does not pay the taker fee',
                     v_age, v_net, v_prop.expected_move_bps, round(v_entry_cost, 6), v_prop.exit_cost_bps, v_fee,
                     v_prop.adverse_selection_bps);
  end if;
  return next;
end
$$;
comment on function kapitaal.order__maker_fallback_decision(bigint, timestamptz) is
  'For a post-only entry: wait (younger than order_policy.maker_wait, or not working yet), none (filled / not a maker '
  'entry), cancel, or cancel_and_taker. The taker case requires the edge recomputed from the current state of the '
  'order''s run (strategy__proposals: expected move, exit cost, adverse selection; run_symbol_state: ask and mid; '
  'capital_policy taker fee on entry and exit) to be positive. Reads only; order__maker_fallback acts.';

create or replace function kapitaal.order__maker_fallback(p_order_id bigint, p_now timestamptz default now())
returns kapitaal.maker_fallbacks
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_done kapitaal.maker_fallbacks;
  v_order kapitaal.orders;
  v_dec record;
  v_pol kapitaal.order_policy;
  v_st kapitaal.run_symbol_state;
  v_pair kapitaal.run_pairs;
  v_lim record;
  v_action text;
  v_reason text;
  v_details jsonb;
  v_new_id bigint;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__maker_fallback: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  select * into v_done from kapitaal.maker_fallbacks m where m.order_id = p_order_id;
  if found then
    return v_done;
  end if;
  if v_order.status not in ('cancelled', 'expired') then
    raise exception 'order__maker_fallback: order % is %; cancel it on the exchange first', p_order_id, v_order.status
      using errcode = '55000';
  end if;
  select * into v_dec from kapitaal.order__maker_fallback_decision(p_order_id, p_now);
  if v_dec.action = 'none' or v_dec.action = 'wait' then
    return null;
  end if;
  v_pol := kapitaal.order_policy__for(v_order.strategy);
  v_action := 'cancel';
  v_reason := v_dec.reason;
  v_details := v_dec.details;
  if v_dec.action = 'cancel_and_taker' then
    if p_now - v_order.updated_at > v_pol.maker_fallback_window then
      v_reason := format('MAKER_FALLBACK_TOO_LATE: cancelled %s ago > %s; %s', p_now - v_order.updated_at,
                         v_pol.maker_fallback_window, v_dec.reason);
    else
      select * into v_st from kapitaal.run_symbol_state s where s.run_id = v_order.run_id and s.symbol = v_order.symbol;
      select * into v_pair from kapitaal.run_pairs rp where rp.run_id = v_order.run_id and rp.symbol = v_order.symbol;
      if v_pair.symbol is null then
        v_reason := format('UNKNOWN_PAIR: %s; but %s has no run_pairs row for run %s', v_dec.reason, v_order.symbol, v_order.run_id);
      else
        select * into v_lim from kapitaal.order__conform_to_limits('buy', v_st.best_ask, v_order.qty - v_order.filled_qty,
                                                                   v_pair.price_increment, v_pair.qty_increment,
                                                                   v_pair.qty_min, v_pair.cost_min);
        v_details := v_details || jsonb_build_object('conformed', to_jsonb(v_lim));
        if not v_lim.ok then
          v_reason := format('LIMITS_%s: %s; but the unfilled rest %s fails the pair limits', upper(v_lim.reason), v_dec.reason,
                             trim_scale(v_order.qty - v_order.filled_qty));
        else
          select i.order_id into v_new_id
            from kapitaal.order__create_intent(
              p_client_order_id => kapitaal.order__client_id('maker_fallback', p_order_id, '0'),
              p_run_id => v_order.run_id,
              p_symbol => v_order.symbol,
              p_side => 'buy',
              p_order_type => 'market',
              p_qty => trim_scale(v_lim.qty),
              p_price => null,
              p_strategy => v_order.strategy,
              p_purpose => 'entry',
              p_reason => format('taker fallback of maker order %s: %s', p_order_id, v_dec.reason),
              p_evaluation_id => v_order.evaluation_id,
              p_generation_id => v_st.generation_id,
              p_reference_price => v_st.best_ask,
              p_regime => v_st.regime,
              p_account => v_order.account,
              p_now => p_now) i;
          v_action := 'taker';
        end if;
      end if;
    end if;
  end if;
  insert into kapitaal.maker_fallbacks (order_id, decided_at, action, reason, details, fallback_order_id)
  values (p_order_id, p_now, v_action, v_reason, v_details, v_new_id)
  returning * into v_done;
  return v_done;
end
$$;
comment on function kapitaal.order__maker_fallback(bigint, timestamptz) is
  'After the maker entry was cancelled (or expired) on the exchange: decides again (order__maker_fallback_decision) '
  'and, when the taker edge still pays, writes a market buy of the unfilled rest (conformed to the pair''s limits) '
  'with client id order__client_id(''maker_fallback'', order id, ''0'') through order__create_intent; otherwise '
  'records the cancel with its reason. One row per maker order in maker_fallbacks (idempotent). Raises 55000 while '
  'the order is still working.';
--! EndIncluded orders/order__maker_fallback.sql
--! Included orders/orders__to_reconcile.sql
-- The orders the reconcile task asks the exchange about.
create or replace function kapitaal.orders__to_reconcile(p_now timestamptz default now(), p_stuck_after interval default interval '2 minutes')
returns table (order_id bigint, client_order_id text, exchange_order_id text, status text, symbol text, post_only boolean,
               purpose text, maker_action text, maker_reason text)
language sql
stable
security definer
set search_path = kapitaal, pg_temp
as $$
  select o.order_id, o.client_order_id, o.exchange_order_id, o.status, o.symbol, o.post_only, o.purpose,
         d.action, d.reason
    from kapitaal.orders o
    left join lateral (
      select * from kapitaal.order__maker_fallback_decision(o.order_id, p_now)
       where o.post_only and o.purpose = 'entry') d on true
   where o.status in ('open', 'partially_filled')
      -- A submit that stopped half-way (its job gave up): the exchange may have the order.
      or (o.status = 'submitting' and o.updated_at < p_now - p_stuck_after)
      -- Maker entries cancelled without a fallback decision yet.
      or (o.post_only and o.purpose = 'entry' and o.status in ('cancelled', 'expired') and o.filled_qty < o.qty
          and o.updated_at >= p_now - (kapitaal.order_policy__for(o.strategy)).maker_fallback_window
          and not exists (select 1 from kapitaal.maker_fallbacks m where m.order_id = o.order_id))
   order by o.order_id
$$;
comment on function kapitaal.orders__to_reconcile(timestamptz, interval) is
  'Orders whose status the reconcile task syncs with the exchange: working ones (open, partially_filled), submits '
  'stuck in submitting longer than p_stuck_after, and recently cancelled maker entries without a maker_fallbacks '
  'row; for maker entries with the maker fallback decision (wait, cancel, cancel_and_taker, none).';
--! EndIncluded orders/orders__to_reconcile.sql
--! Included orders/execution_jobs__ensure.sql
-- Starts the execution cadences (each task re-queues itself with its job key afterwards).
create or replace function kapitaal.execution_jobs__ensure(p_now timestamptz default now())
returns table (task text, job_id bigint, run_at timestamptz)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_task text;
  v_id bigint;
  v_run_at timestamptz;
begin
  foreach v_task in array array['order__reconcile', 'exits__scan'] loop
    -- preserve_run_at: an existing pending cycle keeps its schedule; a missing one starts now.
    select j.id, j.run_at into v_id, v_run_at
      from graphile_worker.add_job(v_task, '{}'::json, job_key => v_task, run_at => p_now,
                                   max_attempts => 3, job_key_mode => 'preserve_run_at') j;
    return query select v_task, v_id, v_run_at;
  end loop;
end
$$;
comment on function kapitaal.execution_jobs__ensure(timestamptz) is
  'Queues the execution cadence jobs order__reconcile and exits__scan (job key = task name) unless one is pending '
  '(its run_at is kept). Each run re-queues itself with run_at = now + cadence. Safe to call on every start.';
--! EndIncluded orders/execution_jobs__ensure.sql
--! Included orders/grants.sql
-- Least privilege for the placement glue: tables are written only through these security-definer functions.
revoke all on kapitaal.order_policy, kapitaal.evaluation_placements, kapitaal.exchange_fill_cursors,
  kapitaal.exchange_fill_inbox, kapitaal.exit_scan_decisions, kapitaal.maker_fallbacks
  from public, kapitaal_ingest_writer;
grant select on kapitaal.order_policy, kapitaal.evaluation_placements, kapitaal.exchange_fill_cursors,
  kapitaal.exchange_fill_inbox, kapitaal.exit_scan_decisions, kapitaal.maker_fallbacks
  to kapitaal_execution, kapitaal_readonly;

revoke all on function kapitaal.evaluation__place_orders(bigint, bigint, bigint, timestamptz),
  kapitaal.evaluation__place_orders(bigint),
  kapitaal.order__submit_begin(bigint, timestamptz),
  kapitaal.order__apply_exchange_state(bigint, text, text, jsonb, timestamptz, text),
  kapitaal.fills__ingest(text, text, jsonb, text, text, timestamptz),
  kapitaal.fills__match(text, integer, bigint, timestamptz),
  kapitaal.exits__scan(timestamptz, text),
  kapitaal.order__maker_fallback(bigint, timestamptz),
  kapitaal.execution_jobs__ensure(timestamptz),
  kapitaal.orders__to_reconcile(timestamptz, interval),
  kapitaal.order__maker_fallback_decision(bigint, timestamptz),
  kapitaal.order_policy__for(text)
  from public;
grant execute on function kapitaal.evaluation__place_orders(bigint, bigint, bigint, timestamptz),
  kapitaal.evaluation__place_orders(bigint),
  kapitaal.order__submit_begin(bigint, timestamptz),
  kapitaal.order__apply_exchange_state(bigint, text, text, jsonb, timestamptz, text),
  kapitaal.fills__ingest(text, text, jsonb, text, text, timestamptz),
  kapitaal.fills__match(text, integer, bigint, timestamptz),
  kapitaal.exits__scan(timestamptz, text),
  kapitaal.order__maker_fallback(bigint, timestamptz),
  kapitaal.execution_jobs__ensure(timestamptz),
  kapitaal.orders__to_reconcile(timestamptz, interval)
  to kapitaal_execution;
grant execute on function kapitaal.order__maker_fallback_decision(bigint, timestamptz), kapitaal.order_policy__for(text)
  to kapitaal_execution, kapitaal_readonly;
--! EndIncluded orders/grants.sql

--! split: 900-validation.sql
--! Included validation/validation__ingest_proofs.sql
create or replace function kapitaal.validation__ingest_proofs(
  p_now timestamptz default now(),
  p_max_age interval default interval '30 seconds'
)
returns table (proof text, ok boolean, detail text)
language sql
stable
as $$
  with run as (
    select r.* from kapitaal.ingest_runs r where r.status = 'running' order by r.run_id desc limit 1
  ), epoch as (
    select e.* from kapitaal.ingest_epochs e join run using (run_id) order by e.epoch desc limit 1
  ), gen as (
    select g.* from kapitaal.state_generations g join run using (run_id) order by g.generation_id desc limit 1
  )
  select 'bootstrap.run',
         exists (select 1 from run where heartbeat_at >= p_now - p_max_age),
         coalesce((select format('run %s, heartbeat %s s ago, parent %s', run_id,
                                 round(extract(epoch from p_now - heartbeat_at)::numeric, 1), coalesce(parent_run_id::text, 'none'))
                     from run), 'no running ingest run')
  union all
  select 'bootstrap.epoch',
         exists (select 1 from epoch where published_at >= p_now - p_max_age),
         coalesce((select format('epoch %s at %s: %s symbols, %s with a valid book; rows ticker %s trade %s l2 %s l3 %s',
                                 epoch, published_at, symbols, symbols_book_valid, ticker_rows, trade_rows, l2_rows, l3_rows)
                     from epoch), 'no epoch published')
  union all
  select 'bootstrap.state',
         exists (select 1 from gen where refreshed_at >= p_now - p_max_age),
         coalesce((select format('generation %s refreshed %s s ago over %s symbols', generation_id,
                                 round(extract(epoch from p_now - refreshed_at)::numeric, 1), symbols) from gen),
                  'no state generation')
$$;
comment on function kapitaal.validation__ingest_proofs(timestamptz, interval) is
  'Bootstrap proof on the ingest cluster: a running ingest run with a fresh heartbeat, a recent epoch and a recent '
  'state generation. One row per check with ok and the facts behind it (used by `kapitaal validate`).';
--! EndIncluded validation/validation__ingest_proofs.sql
--! Included validation/validation__decision_proofs.sql
create or replace function kapitaal.validation__decision_proofs(
  p_now timestamptz default now(),
  p_window interval default interval '10 minutes'
)
returns table (proof text, ok boolean, detail text)
language sql
stable
as $$
  with attach as (
    select * from kapitaal.execution_attach__resolve(p_now)
  ), evals as (
    select e.outcome, count(*) as n from kapitaal.evaluations e
     where e.evaluated_at >= p_now - p_window group by e.outcome
  ), closed as (
    -- A position opened and closed by fills of our own orders; its P&L must equal
    -- what the fills say: sells - buys - all fees, to the last decimal.
    select p.position_id, p.symbol, p.realised_pnl,
           sum(case f.side when 'sell' then f.price * f.qty else -(f.price * f.qty) end) - sum(f.fee) as from_fills,
           count(*) as fills
      from kapitaal.positions p
      join kapitaal.fills f on f.position_id = p.position_id
     where p.closed_at is not null
     group by p.position_id, p.symbol, p.realised_pnl
  )
  select 'attach',
         coalesce((select attached from attach), false),
         coalesce((select case when attached then format('bound to run %s epoch %s (%s symbols)', run_id, epoch, snapshot_symbols)
                               else 'attach blocked: ' || reason end from attach), 'no attach answer')
  union all
  select 'evaluation',
         exists (select 1 from evals),
         coalesce((select string_agg(format('%s %s', outcome, n), ', ' order by outcome) from evals),
                  'no evaluation in the window')
  union all
  select 'lifecycle',
         exists (select 1 from closed where realised_pnl = from_fills)
           and not exists (select 1 from closed where realised_pnl <> from_fills)
           and not exists (select 1 from kapitaal.positions__verify()),
         coalesce((select format('%s closed positions, P&L equals fills minus fees for %s; e.g. position %s %s: %s',
                                 count(*), count(*) filter (where realised_pnl = from_fills),
                                 min(position_id), min(symbol), (array_agg(realised_pnl order by position_id))[1])
                     from closed having count(*) > 0),
                  'no position opened and closed yet')
$$;
comment on function kapitaal.validation__decision_proofs(timestamptz, interval) is
  'Attach, evaluation and lifecycle proofs on the decision cluster: execution is bound to a live run, evaluations '
  'were stored (by outcome: economically_empty is not data_blocked is not attach_blocked), and a position was '
  'opened and closed with realised P&L equal to its fills minus fees and positions equal to their recomputation.';
--! EndIncluded validation/validation__decision_proofs.sql
--! Included validation/grants.sql
grant execute on function kapitaal.validation__ingest_proofs(timestamptz, interval) to kapitaal_readonly, kapitaal_execution;
grant execute on function kapitaal.validation__decision_proofs(timestamptz, interval) to kapitaal_readonly, kapitaal_execution;
--! EndIncluded validation/grants.sql
