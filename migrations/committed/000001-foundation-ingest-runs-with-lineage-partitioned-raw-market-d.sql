--! Previous: -
--! Hash: sha1:3faf58c8291cc35cd40c9b7d3c17013b483f51f7
--! Message: foundation: ingest runs with lineage, partitioned raw market-data tables, retention, grants

--! split: 100-foundation.sql
--! Included schema/schema.sql
create schema if not exists kapitaal;
comment on schema kapitaal is
  'KapitaalBot engine: ingest runs, raw market data, per-symbol state, decisions and orders. '
  'Tables are read by views and written by the functions here; see docs/SQL_API.md.';
--! EndIncluded schema/schema.sql
--! Included schema/ingest_runs.sql
create table if not exists kapitaal.ingest_runs (
  run_id bigint generated always as identity primary key,
  parent_run_id bigint references kapitaal.ingest_runs (run_id) on delete set null,
  status text not null default 'running'
    check (status in ('running', 'ended', 'failed', 'abandoned')),
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  ended_at timestamptz,
  end_reason text,
  config jsonb not null,
  config_hash text not null,
  code_version text not null,
  host text not null,
  pid integer,
  partitions_dropped_at timestamptz,
  constraint ingest_runs_ended_iff_final check ((status = 'running') = (ended_at is null))
);
create index if not exists ingest_runs_config_hash_idx on kapitaal.ingest_runs (config_hash, run_id desc);
create index if not exists ingest_runs_status_idx on kapitaal.ingest_runs (status) where status = 'running';

comment on table kapitaal.ingest_runs is
  'One row per persistent ingest run (`kapitaal ingest`). A run owns one partition of each raw table.';
comment on column kapitaal.ingest_runs.run_id is 'Run identity; also the partition key of every raw table.';
comment on column kapitaal.ingest_runs.parent_run_id is
  'Lineage: the previous run with the same config_hash (the run this one continues), or null for the first.';
comment on column kapitaal.ingest_runs.status is
  'running while the process lives; ended (clean stop), failed (stopped by an error) or abandoned (heartbeat lost, closed by a successor).';
comment on column kapitaal.ingest_runs.heartbeat_at is 'Last sign of life; execution attaches only to runs with a fresh heartbeat.';
comment on column kapitaal.ingest_runs.end_reason is 'Why the run ended, in plain words (signal, error message).';
comment on column kapitaal.ingest_runs.config is 'The ingest configuration the run started with (never contains secrets).';
comment on column kapitaal.ingest_runs.config_hash is 'md5 of config as jsonb text: runs with the same hash form one lineage.';
comment on column kapitaal.ingest_runs.code_version is 'Version of the engine (package version and git commit when known).';
comment on column kapitaal.ingest_runs.host is 'Host name of the machine that ran the ingest process.';
comment on column kapitaal.ingest_runs.pid is 'Operating-system process id of the ingest process.';
comment on column kapitaal.ingest_runs.partitions_dropped_at is 'When retention dropped this run''s raw partitions (the run row stays for lineage).';
--! EndIncluded schema/ingest_runs.sql
--! Included schema/raw_ticker_samples.sql
-- Raw Kraken WS v2 `ticker` messages, one row per symbol per message.
create sequence if not exists kapitaal.ticker_samples_seq cache 1000;
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
create index if not exists ticker_samples_symbol_time_idx on kapitaal.ticker_samples (symbol, received_at);
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
create index if not exists trade_samples_symbol_time_idx on kapitaal.trade_samples (symbol, received_at);
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
create index if not exists l3_queue_metrics_symbol_time_idx on kapitaal.l3_queue_metrics (symbol, received_at);
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
--! Included ingest/raw_tables.sql
create or replace function kapitaal.raw_tables()
returns text[]
language sql
immutable
parallel safe
as $$
  select array['ticker_samples', 'trade_samples', 'l2_snap_metrics', 'l3_queue_metrics']
$$;
comment on function kapitaal.raw_tables() is
  'The raw market-data tables, each partitioned by run_id with one partition per ingest run.';
--! EndIncluded ingest/raw_tables.sql
--! Included ingest/ingest_run__create_partitions.sql
create or replace function kapitaal.ingest_run__create_partitions(p_run_id bigint)
returns setof regclass
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_table text;
  v_partition text;
begin
  if p_run_id is null or p_run_id <= 0 then
    raise exception 'ingest_run__create_partitions: run_id must be a positive run id, got %', p_run_id
      using errcode = '22023';
  end if;
  -- Two callers for the same run queue here; the second finds the partitions made.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_run__create_partitions', p_run_id));
  foreach v_table in array kapitaal.raw_tables() loop
    v_partition := format('%s_r%s', v_table, p_run_id);
    if to_regclass(format('kapitaal.%I', v_partition)) is null then
      execute format(
        'create table kapitaal.%I partition of kapitaal.%I for values from (%s) to (%s)',
        v_partition, v_table, p_run_id, p_run_id + 1);
      execute format('comment on table kapitaal.%I is %L', v_partition,
        format('Partition of %s for ingest run %s.', v_table, p_run_id));
    end if;
    return next format('kapitaal.%I', v_partition)::regclass;
  end loop;
end
$$;
comment on function kapitaal.ingest_run__create_partitions(bigint) is
  'Creates the partition of every raw table for one ingest run and returns them. Idempotent; concurrent calls for '
  'the same run are serialised by an advisory lock, so both succeed and one set of partitions exists.';
--! EndIncluded ingest/ingest_run__create_partitions.sql
--! Included ingest/ingest_run__start.sql
create or replace function kapitaal.ingest_run__start(
  p_config jsonb,
  p_code_version text,
  p_host text,
  p_pid integer default null,
  p_now timestamptz default now()
)
returns kapitaal.ingest_runs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_hash text := md5(p_config::text);
  v_run kapitaal.ingest_runs;
begin
  if p_config is null or jsonb_typeof(p_config) <> 'object' then
    raise exception 'ingest_run__start: config must be a JSON object' using errcode = '22023';
  end if;
  -- Serialise starts of one lineage so two runs never claim the same parent.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_run__start:' || v_hash, 0));
  insert into ingest_runs (parent_run_id, started_at, heartbeat_at, config, config_hash, code_version, host, pid)
  values (
    (select r.run_id from ingest_runs r where r.config_hash = v_hash order by r.run_id desc limit 1),
    p_now, p_now, p_config, v_hash, p_code_version, p_host, p_pid)
  returning * into v_run;
  perform ingest_run__create_partitions(v_run.run_id);
  return v_run;
end
$$;
comment on function kapitaal.ingest_run__start(jsonb, text, text, integer, timestamptz) is
  'Starts an ingest run: a new run_id whose parent is the newest earlier run with the same configuration hash, '
  'and its raw-table partitions, in one transaction.';
--! EndIncluded ingest/ingest_run__start.sql
--! Included ingest/ingest_run__heartbeat.sql
create or replace function kapitaal.ingest_run__heartbeat(p_run_id bigint, p_now timestamptz default now())
returns boolean
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  update ingest_runs set heartbeat_at = greatest(heartbeat_at, p_now)
  where run_id = p_run_id and status = 'running'
  returning true
$$;
comment on function kapitaal.ingest_run__heartbeat(bigint, timestamptz) is
  'Records that a running ingest run is alive. Returns null when the run is not running any more '
  '(it was ended or abandoned), which tells the process to stop.';
--! EndIncluded ingest/ingest_run__heartbeat.sql
--! Included ingest/ingest_run__end.sql
create or replace function kapitaal.ingest_run__end(
  p_run_id bigint,
  p_status text default 'ended',
  p_reason text default null,
  p_now timestamptz default now()
)
returns kapitaal.ingest_runs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_run kapitaal.ingest_runs;
begin
  if p_status not in ('ended', 'failed', 'abandoned') then
    raise exception 'ingest_run__end: status must be ended, failed or abandoned, got %', p_status
      using errcode = '22023';
  end if;
  update ingest_runs
     set status = p_status, ended_at = p_now, end_reason = p_reason, heartbeat_at = greatest(heartbeat_at, p_now)
   where run_id = p_run_id and status = 'running'
  returning * into v_run;
  if not found then
    select * into v_run from ingest_runs where run_id = p_run_id;
    if not found then
      raise exception 'ingest_run__end: no ingest run %', p_run_id using errcode = 'P0002';
    end if;
  end if;
  return v_run;
end
$$;
comment on function kapitaal.ingest_run__end(bigint, text, text, timestamptz) is
  'Ends a running ingest run with a final status, time and reason. Ending a run that already ended changes nothing '
  'and returns it as it is.';
--! EndIncluded ingest/ingest_run__end.sql
--! Included ingest/ingest_runs__drop_expired_partitions.sql
create or replace function kapitaal.ingest_runs__drop_expired_partitions(
  p_keep interval,
  p_now timestamptz default now()
)
returns table (run_id bigint, dropped text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_run bigint;
  v_table text;
  v_partition regclass;
begin
  if p_keep is null or p_keep < interval '0' then
    raise exception 'ingest_runs__drop_expired_partitions: keep must be a positive interval, got %', p_keep
      using errcode = '22023';
  end if;
  -- One maintainer at a time; a second concurrent call waits, then finds nothing left to drop.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_runs__drop_expired_partitions', 0));
  for v_run in
    select r.run_id from ingest_runs r
     where r.status <> 'running' and r.ended_at < p_now - p_keep and r.partitions_dropped_at is null
     order by r.run_id
  loop
    foreach v_table in array raw_tables() loop
      v_partition := to_regclass(format('kapitaal.%I', format('%s_r%s', v_table, v_run)));
      if v_partition is not null then
        run_id := v_run;
        dropped := v_partition::text;
        execute format('alter table kapitaal.%I detach partition %s', v_table, v_partition);
        execute format('drop table %s', v_partition);
        return next;
      end if;
    end loop;
    update ingest_runs set partitions_dropped_at = p_now where ingest_runs.run_id = v_run;
  end loop;
end
$$;
comment on function kapitaal.ingest_runs__drop_expired_partitions(interval, timestamptz) is
  'Retention: detaches and drops the raw partitions of runs that ended more than p_keep before p_now. Running runs '
  'are never touched; the run rows stay for lineage, with partitions_dropped_at set.';
--! EndIncluded ingest/ingest_runs__drop_expired_partitions.sql
--! Included grants/ingest_grants.sql
-- Least privilege for the foundation's objects. Group roles come from migrations/roles.sql.
-- The ingest writer appends raw rows and manages its runs through the functions.
grant usage on schema kapitaal to kapitaal_ingest_writer, kapitaal_execution, kapitaal_readonly;

revoke all on function kapitaal.ingest_run__create_partitions(bigint) from public;
revoke all on function kapitaal.ingest_run__start(jsonb, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.ingest_run__heartbeat(bigint, timestamptz) from public;
revoke all on function kapitaal.ingest_run__end(bigint, text, text, timestamptz) from public;
revoke all on function kapitaal.ingest_runs__drop_expired_partitions(interval, timestamptz) from public;
grant execute on function kapitaal.ingest_run__create_partitions(bigint) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_run__start(jsonb, text, text, integer, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_run__heartbeat(bigint, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_run__end(bigint, text, text, timestamptz) to kapitaal_ingest_writer;
grant execute on function kapitaal.ingest_runs__drop_expired_partitions(interval, timestamptz) to kapitaal_ingest_writer;

grant select, insert on kapitaal.ticker_samples, kapitaal.trade_samples, kapitaal.l2_snap_metrics,
  kapitaal.l3_queue_metrics to kapitaal_ingest_writer;
grant usage on sequence kapitaal.ticker_samples_seq, kapitaal.trade_samples_seq, kapitaal.l2_snap_metrics_seq,
  kapitaal.l3_queue_metrics_seq to kapitaal_ingest_writer;
grant select on kapitaal.ingest_runs to kapitaal_ingest_writer;

-- Execution attaches to live runs; it never reads raw tables (state-first contract).
grant select on kapitaal.ingest_runs to kapitaal_execution;

-- Read-only: everything in the schema, now and later.
grant select on all tables in schema kapitaal to kapitaal_readonly;
alter default privileges in schema kapitaal grant select on tables to kapitaal_readonly;
--! EndIncluded grants/ingest_grants.sql
