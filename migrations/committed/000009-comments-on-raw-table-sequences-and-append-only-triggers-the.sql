--! Previous: sha1:8889369c7284500248e77d7a9bcda4b90af908d8
--! Hash: sha1:522f5f02f092aeda90d9582286b2bde4475b4225
--! Message: Comments on raw-table sequences and append-only triggers; the sync payload carries server_version_num and the sync refuses a different major version

--! split: 1-current.sql
-- Enter migration here

--! split: 3-comments.sql
--! Included schema/raw_ticker_samples.sql
-- Raw Kraken WS v2 `ticker` messages, one row per symbol per message.
create sequence if not exists kapitaal.ticker_samples_seq cache 1000;
comment on sequence kapitaal.ticker_samples_seq is
  'Default of ticker_samples.seq (raw ticker rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
create table if not exists kapitaal.ticker_samples (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.ticker_samples_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  bid numeric not null,
  bid_qty numeric not null,
  ask numeric not null,
  ask_qty numeric not null,
  last numeric not null,
  volume numeric not null,
  vwap numeric,
  low numeric,
  high numeric,
  change numeric,
  change_pct numeric,
  exchange_ts timestamptz,
  received_at timestamptz not null
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.ticker_samples_symbol_time_idx;
create index if not exists ticker_samples_txid_idx on kapitaal.ticker_samples (txid);

comment on table kapitaal.ticker_samples is
  'Raw WS v2 ticker rows as Kraken sent them. Partitioned by run_id: one partition per ingest run.';
comment on column kapitaal.ticker_samples.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.ticker_samples.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.ticker_samples.volume is 'Base-currency volume over the last 24 h, as sent by Kraken.';
comment on column kapitaal.ticker_samples.vwap is 'Volume-weighted average price over the last 24 h.';
comment on column kapitaal.ticker_samples.change_pct is 'Price change over 24 h in percent.';
comment on column kapitaal.ticker_samples.exchange_ts is 'Kraken''s timestamp of the update, when the message carries one.';
comment on column kapitaal.ticker_samples.received_at is 'When the collector received the message (engine clock).';
--! EndIncluded schema/raw_ticker_samples.sql
--! Included schema/raw_trade_samples.sql
-- Raw Kraken WS v2 `trade` messages, one row per trade.
create sequence if not exists kapitaal.trade_samples_seq cache 1000;
comment on sequence kapitaal.trade_samples_seq is
  'Default of trade_samples.seq (raw trade rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
create table if not exists kapitaal.trade_samples (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.trade_samples_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  price numeric not null check (price > 0),
  qty numeric not null check (qty > 0),
  ord_type text not null check (ord_type in ('market', 'limit')),
  trade_id bigint not null,
  exchange_ts timestamptz not null,
  received_at timestamptz not null
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.trade_samples_symbol_time_idx;
create index if not exists trade_samples_txid_idx on kapitaal.trade_samples (txid);

comment on table kapitaal.trade_samples is
  'Raw WS v2 trades as Kraken sent them. Partitioned by run_id: one partition per ingest run.';
comment on column kapitaal.trade_samples.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.trade_samples.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.trade_samples.side is 'Side of the taker (the aggressor).';
comment on column kapitaal.trade_samples.ord_type is 'Order type of the taker: market or limit.';
comment on column kapitaal.trade_samples.trade_id is 'Kraken''s per-book trade sequence; the collector drops repeats after a reconnect.';
comment on column kapitaal.trade_samples.exchange_ts is 'Kraken''s time of the trade.';
comment on column kapitaal.trade_samples.received_at is 'When the collector received the message (engine clock).';
--! EndIncluded schema/raw_trade_samples.sql
--! Included schema/raw_l2_snap_metrics.sql
-- Samples of the collector's verified L2 book (WS v2 `book` channel).
create sequence if not exists kapitaal.l2_snap_metrics_seq cache 1000;
comment on sequence kapitaal.l2_snap_metrics_seq is
  'Default of l2_snap_metrics.seq (raw L2 rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
create table if not exists kapitaal.l2_snap_metrics (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.l2_snap_metrics_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  depth smallint not null check (depth in (10, 25, 100, 500, 1000)),
  is_snapshot boolean not null,
  bid_px numeric[] not null,
  bid_qty numeric[] not null,
  ask_px numeric[] not null,
  ask_qty numeric[] not null,
  checksum bigint not null,
  checksum_ok boolean not null,
  updates_applied integer not null default 1 check (updates_applied >= 0),
  exchange_ts timestamptz,
  received_at timestamptz not null,
  check (cardinality(bid_px) = cardinality(bid_qty) and cardinality(ask_px) = cardinality(ask_qty))
) partition by range (run_id);
create index if not exists l2_snap_metrics_symbol_time_idx on kapitaal.l2_snap_metrics (symbol, received_at);
create index if not exists l2_snap_metrics_txid_idx on kapitaal.l2_snap_metrics (txid);

comment on table kapitaal.l2_snap_metrics is
  'The collector''s L2 book per symbol after applying a message and verifying its checksum: the top levels as '
  'arrays (best first), from which SQL derives spread, depth in price bands, imbalance and microprice. '
  'Partitioned by run_id.';
comment on column kapitaal.l2_snap_metrics.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.l2_snap_metrics.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.l2_snap_metrics.depth is 'Subscribed book depth.';
comment on column kapitaal.l2_snap_metrics.is_snapshot is 'True for a book snapshot (after subscribe or resubscribe), false for updates.';
comment on column kapitaal.l2_snap_metrics.bid_px is 'Bid prices, best (highest) first, up to the stored level count.';
comment on column kapitaal.l2_snap_metrics.bid_qty is 'Bid quantities (base currency) matching bid_px.';
comment on column kapitaal.l2_snap_metrics.ask_px is 'Ask prices, best (lowest) first.';
comment on column kapitaal.l2_snap_metrics.ask_qty is 'Ask quantities (base currency) matching ask_px.';
comment on column kapitaal.l2_snap_metrics.checksum is 'CRC32 checksum Kraken sent with the message.';
comment on column kapitaal.l2_snap_metrics.checksum_ok is
  'Whether the local book matched Kraken''s checksum. False marks the symbol''s book invalid until the next snapshot.';
comment on column kapitaal.l2_snap_metrics.updates_applied is 'Book messages folded into this sample since the previous one (the collector may sample).';
comment on column kapitaal.l2_snap_metrics.exchange_ts is 'Kraken''s timestamp of the last applied message.';
comment on column kapitaal.l2_snap_metrics.received_at is 'When the collector received the last applied message (engine clock).';
--! EndIncluded schema/raw_l2_snap_metrics.sql
--! Included schema/raw_l3_queue_metrics.sql
-- Samples of the collector's verified L3 (order-level) book (WS v2 `level3` channel).
create sequence if not exists kapitaal.l3_queue_metrics_seq cache 1000;
comment on sequence kapitaal.l3_queue_metrics_seq is
  'Default of l3_queue_metrics.seq (raw L3 rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
create table if not exists kapitaal.l3_queue_metrics (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.l3_queue_metrics_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  bid_px numeric[] not null,
  bid_qty numeric[] not null,
  bid_orders integer[] not null,
  ask_px numeric[] not null,
  ask_qty numeric[] not null,
  ask_orders integer[] not null,
  adds integer not null default 0 check (adds >= 0),
  modifies integer not null default 0 check (modifies >= 0),
  deletes integer not null default 0 check (deletes >= 0),
  added_qty numeric not null default 0,
  removed_qty numeric not null default 0,
  touch_adds integer not null default 0,
  touch_deletes integer not null default 0,
  checksum bigint not null,
  checksum_ok boolean not null,
  exchange_ts timestamptz,
  received_at timestamptz not null,
  check (cardinality(bid_px) = cardinality(bid_qty) and cardinality(bid_px) = cardinality(bid_orders)),
  check (cardinality(ask_px) = cardinality(ask_qty) and cardinality(ask_px) = cardinality(ask_orders))
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.l3_queue_metrics_symbol_time_idx;
create index if not exists l3_queue_metrics_txid_idx on kapitaal.l3_queue_metrics (txid);

comment on table kapitaal.l3_queue_metrics is
  'Queue facts from the collector''s L3 book per symbol: per price level (best first) the total quantity and the '
  'number of resting orders, and the order flow since the previous sample. The queue ahead of a new order at '
  'price p is the quantity at p and better. Partitioned by run_id.';
comment on column kapitaal.l3_queue_metrics.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.l3_queue_metrics.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.l3_queue_metrics.bid_orders is 'Number of resting orders at each bid level of bid_px.';
comment on column kapitaal.l3_queue_metrics.ask_orders is 'Number of resting orders at each ask level of ask_px.';
comment on column kapitaal.l3_queue_metrics.adds is 'Orders added since the previous sample of this symbol.';
comment on column kapitaal.l3_queue_metrics.modifies is 'Orders whose quantity changed (partly filled) since the previous sample.';
comment on column kapitaal.l3_queue_metrics.deletes is 'Orders removed (filled or cancelled) since the previous sample.';
comment on column kapitaal.l3_queue_metrics.added_qty is 'Quantity added by new orders since the previous sample.';
comment on column kapitaal.l3_queue_metrics.removed_qty is 'Quantity removed by modifies and deletes since the previous sample.';
comment on column kapitaal.l3_queue_metrics.touch_adds is 'Adds at the best bid or ask (queue growth at the touch).';
comment on column kapitaal.l3_queue_metrics.touch_deletes is 'Deletes at the best bid or ask (queue consumption at the touch).';
comment on column kapitaal.l3_queue_metrics.checksum is 'CRC32 checksum Kraken sent with the last applied message.';
comment on column kapitaal.l3_queue_metrics.checksum_ok is 'Whether the local L3 book matched the checksum.';
comment on column kapitaal.l3_queue_metrics.exchange_ts is 'Kraken''s timestamp of the last applied event.';
comment on column kapitaal.l3_queue_metrics.received_at is 'When the collector received the last applied message (engine clock).';
--! EndIncluded schema/raw_l3_queue_metrics.sql
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
comment on trigger _500_append_only on kapitaal.order_events is
  'Refuses UPDATE and DELETE of order_events rows (tg__append_only, SQLSTATE 42501): the ledger only grows.';
comment on trigger _501_append_only_truncate on kapitaal.order_events is
  'Refuses TRUNCATE of order_events (tg__append_only, SQLSTATE 42501), which row triggers do not see.';
--! EndIncluded execution/order_events.sql
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
comment on trigger _500_append_only on kapitaal.fills is
  'Refuses UPDATE and DELETE of fills rows (tg__append_only, SQLSTATE 42501): the ledger only grows.';
comment on trigger _501_append_only_truncate on kapitaal.fills is
  'Refuses TRUNCATE of fills (tg__append_only, SQLSTATE 42501), which row triggers do not see.';
--! EndIncluded execution/fills.sql

--! split: 4-sync-version.sql
--! Included decision/state__sync_payload.sql
-- json, not jsonb: the document is only ever sent as text, and json_agg of the wide state rows
-- costs a third of jsonb_agg(to_jsonb(...)) (numerics are copied as text, no key sorting).
drop function if exists kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer);
create function kapitaal.state__sync_payload(
  p_run_id bigint,
  p_after_generation bigint default null,
  p_after_epoch bigint default null,
  p_pairs_after timestamptz default null,
  p_max_epochs integer default 100
)
returns json
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
  select json_build_object(
    'run_id', p_run_id,
    'read_at', clock_timestamp(),
    -- The decision side checks it: state digests only compare within one PostgreSQL major version.
    'server_version_num', current_setting('server_version_num')::integer,
    'newest_generation_id', (select g.generation_id from g),
    'runs', (select json_agg(r order by r.run_id)
               from kapitaal.ingest_runs r where r.run_id in (select l.run_id from lineage l)),
    'pairs', (select json_agg(p order by p.symbol)
                from kapitaal.run_pairs p
               where p.run_id = p_run_id and (p_pairs_after is null or p.updated_at >= p_pairs_after)),
    'epochs', (select json_agg(e order by e.epoch) from e),
    'snapshots', (select json_agg(s order by s.epoch, s.symbol)
                    from kapitaal.ingest_snapshots s join e on s.run_id = e.run_id and s.epoch = e.epoch),
    'more_epochs', exists (select 1 from kapitaal.ingest_epochs ie
                            where ie.run_id = p_run_id and ie.epoch > coalesce((select max(e.epoch) from e), p_after_epoch, 0)),
    'generation', (select row_to_json(gn) from gn),
    'state', case when exists (select 1 from gn) then
               coalesce((select json_agg(s order by s.symbol)
                           from kapitaal.run_symbol_state s where s.run_id = p_run_id), '[]'::json)
             end
  )
$$;
comment on function kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer) is
  'Ingest side of the sync: one json document with what the decision cluster lacks of a run (its cursor from '
  'state__sync_cursor): the run and its lineage (ingest_runs), changed run_pairs, up to p_max_epochs new epochs with '
  'their snapshots, and the newest generation with all its run_symbol_state rows when it is newer than '
  'p_after_generation (older generations are skipped: each generation is the complete state). Read in one snapshot, '
  'so the state rows are exactly those of the generation. Columns are generic (row_to_json of the row). json, not jsonb: it is '
  'sent as text and read by sync_run_symbol_state_to_decision(jsonb).';
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
  v_ingest_major integer := (p_payload->>'server_version_num')::integer / 10000;
  v_local_major integer := current_setting('server_version_num')::integer / 10000;
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

  -- Said plainly before any digest is compared: hash_record_extended (the digest's row hash) is only
  -- stable within one major version, so across majors every generation would fail to verify.
  if v_ingest_major is not null and v_ingest_major <> v_local_major then
    raise exception 'sync_run_symbol_state_to_decision: the ingest cluster runs PostgreSQL % and this decision cluster PostgreSQL %; state digests only compare within one major version, so no generation can verify here',
      v_ingest_major, v_local_major
      using errcode = '0A000', hint = 'Run both clusters on the same PostgreSQL major version.';
  end if;

  -- The whole generation in this transaction: the run's rows are replaced by the generation's
  -- (every refresh rewrites all rows of a run anyway), verified, then the generation row is added
  -- last (its trigger records visibility and enqueues the evaluation, both as of the commit).
  -- Generic: the table's own row type, no column list.
  delete from kapitaal.run_symbol_state s where s.run_id = v_run;
  insert into kapitaal.run_symbol_state
  select * from jsonb_populate_recordset(null::kapitaal.run_symbol_state,
                                         coalesce(nullif(p_payload->'state', 'null'::jsonb), '[]'::jsonb));

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
  insert into kapitaal.state_generations
  select * from jsonb_populate_record(null::kapitaal.state_generations, v_gen);
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
