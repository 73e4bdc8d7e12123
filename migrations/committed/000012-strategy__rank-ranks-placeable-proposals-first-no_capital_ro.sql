--! Previous: sha1:0a9df26a81038272d38419f61c47c497fd4490f6
--! Hash: sha1:b39409c65f9b2e8fd3c5dfb17503a917ac9c1484
--! Message: strategy__rank ranks placeable proposals first (no_capital_room); comments on every table column

--! split: 1-current.sql
-- Enter migration here

--! split: 3-rank-capital.sql
--! Included strategy/strategy__rank.sql
-- Competitive scoring: every proposal of a run (all strategies, all pairs) in one ranking by
-- score = net edge x fill probability. Strategy competes against strategy, across pairs; among the
-- selectable proposals those that capital and the pair's limits allow to place come first.
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
  with pr as (
    select x.*,
           row_number() over (order by x.selectable desc, x.score desc nulls last, x.net_edge_bps desc nulls last,
                                       x.symbol, x.strategy) as by_score
      from kapitaal.strategy__proposals(p_run_id, p_now, p_size_quote, p_account) x
  ),
  -- Capital room of the 20 best selectable proposals (sized and conformed exactly as evaluation__place_orders
  -- will): a pair already held at its cap must not stay top-1 forever while the next best could trade.
  -- The WHERE inside the lateral only reads the outer row, so the sizing (~0.15 ms a call) is not called for
  -- the others; beyond the 20th the room is unknown, and placement still checks it.
  sized as (
    select pr.*, cs.room_ok, cs.room_detail
      from pr
      left join lateral (
        select l.ok as room_ok,
               jsonb_build_object('quote_size', z.quote_size, 'qty', l.qty, 'sizing', z.reason, 'limits', l.reason,
                                  'position_room', z.position_room, 'total_room', z.total_room,
                                  'qty_min', rp.qty_min, 'cost_min', rp.cost_min) as room_detail
          from kapitaal.run_pairs rp
         cross join lateral kapitaal.capital__position_size(pr.symbol, pr.entry_price, p_now, p_account) z
         cross join lateral kapitaal.order__conform_to_limits(pr.side, pr.entry_price, z.qty, rp.price_increment,
                                                              rp.qty_increment, rp.qty_min, rp.cost_min) l
         where pr.selectable and pr.by_score <= 20 and rp.run_id = pr.run_id and rp.symbol = pr.symbol
      ) cs on true
  ),
  p as (
    select sz.*,
           -- Without a run_pairs row the room is unknown (placement then refuses: UNKNOWN_PAIR): not demoted here.
           row_number() over (order by sz.selectable desc, coalesce(sz.room_ok, true) desc, sz.score desc nulls last,
                                       sz.net_edge_bps desc nulls last, sz.symbol, sz.strategy)::integer as rk
      from sized sz
  ),
  w as (select p.* from p where p.rk = 1 and p.selectable)
  select p.rk, p.rk = 1 and p.selectable, p.run_id, p.generation_id, p.symbol, p.strategy, p.regime, p.side,
         p.entry_liquidity, p.order_type, p.post_only, p.entry_price, p.queue_ahead_qty, p.expected_move_bps,
         p.gross_edge_bps, p.fee_bps, p.net_edge_bps, p.fill_probability, p.score, p.data_ok, p.selectable,
         case when not p.selectable then p.reason
              when not coalesce(p.room_ok, true) then
                format('no_capital_room: %s quote (%s) for %s fails its limits (%s; qty_min %s, cost_min %s)',
                       trim_scale(round((p.room_detail->>'quote_size')::numeric, 8)), p.room_detail->>'sizing', p.symbol,
                       p.room_detail->>'limits', p.room_detail->>'qty_min', p.room_detail->>'cost_min')
              when p.rk = 1 then format('selected: best score %s of %s selectable proposals', p.score,
                                        (select count(*) from p p2 where p2.selectable))
              else format('lower_score_than %s/%s: score %s < %s', w.strategy, w.symbol, p.score, w.score)
         end,
         case when p.selectable and not coalesce(p.room_ok, true) then p.gates || array['no_capital_room'] else p.gates end,
         case when p.room_detail is null then p.inputs else p.inputs || jsonb_build_object('capital_room', p.room_detail) end
    from p
    left join w on true
   order by p.rk
$$;
comment on function kapitaal.strategy__rank(bigint, timestamptz, numeric, text) is
  'All proposals of strategy__proposals in one ranking across strategies and pairs: selectable ones first, by score '
  '(net edge bps x fill probability) descending, ties by net edge, symbol, strategy. Rank 1, if selectable, is '
  'selected; every other proposal says why it lost: lower_score_than <strategy>/<symbol> (selectable but beaten), '
  'no_capital_room: ... (one of the 20 best selectable proposals, but sized by capital__position_size and conformed to '
  'the pair''s limits as evaluation__place_orders would, no order is possible: e.g. the pair is held at its position '
  'cap; such proposals rank after every selectable one with room, and win only when none has room) or its first gate '
  '(regime_ineligible, not_ready: ..., route_stale: ..., net_edge_not_positive, ...). Writes nothing.';
--! EndIncluded strategy/strategy__rank.sql
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

--! split: 5-columns.sql
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
comment on column kapitaal.ingest_runs.started_at is
  'When ingest_run__start created the run (its p_now, database clock by default).';
comment on column kapitaal.ingest_runs.ended_at is
  'When the run reached its final status (ingest_run__end or abandoned by a successor); null exactly while status = running.';
--! EndIncluded schema/ingest_runs.sql
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
comment on column kapitaal.ticker_samples.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.ticker_samples.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.ticker_samples.bid is 'Best bid price (quote currency per unit of base), numeric as sent.';
comment on column kapitaal.ticker_samples.bid_qty is 'Quantity at the best bid, in base currency.';
comment on column kapitaal.ticker_samples.ask is 'Best ask price (quote currency per unit of base), numeric as sent.';
comment on column kapitaal.ticker_samples.ask_qty is 'Quantity at the best ask, in base currency.';
comment on column kapitaal.ticker_samples.last is 'Price of the last trade (quote currency).';
comment on column kapitaal.ticker_samples.low is
  'Lowest trade price over the last 24 h (quote currency); null when the message had none.';
comment on column kapitaal.ticker_samples.high is
  'Highest trade price over the last 24 h (quote currency); null when the message had none.';
comment on column kapitaal.ticker_samples.change is
  'Price change over the last 24 h in quote currency as sent by Kraken; null when the message had none.';
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
comment on column kapitaal.trade_samples.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.trade_samples.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.trade_samples.price is 'Trade price (quote currency per unit of base), numeric as sent.';
comment on column kapitaal.trade_samples.qty is 'Traded quantity in base currency; price * qty is the quote volume.';
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
comment on column kapitaal.l2_snap_metrics.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.l2_snap_metrics.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
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
comment on column kapitaal.l3_queue_metrics.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.l3_queue_metrics.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.l3_queue_metrics.bid_px is
  'Bid price levels of the L3 book, best (highest) first (quote currency).';
comment on column kapitaal.l3_queue_metrics.bid_qty is
  'Total resting quantity (base currency) at each level of bid_px.';
comment on column kapitaal.l3_queue_metrics.ask_px is
  'Ask price levels of the L3 book, best (lowest) first (quote currency).';
comment on column kapitaal.l3_queue_metrics.ask_qty is
  'Total resting quantity (base currency) at each level of ask_px.';
--! EndIncluded schema/raw_l3_queue_metrics.sql
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
comment on column kapitaal.engine_processes.process_id is
  'Chosen by the process at start: role-host-pid-random hex, unique per start.';
comment on column kapitaal.engine_processes.host is
  'Host name the process runs on; pid liveness is only checked for processes on the same host.';
comment on column kapitaal.engine_processes.pid is 'Operating-system process id on host.';
comment on column kapitaal.engine_processes.started_at is
  'When engine_process__register ran (its p_now, database clock by default).';
comment on column kapitaal.engine_processes.heartbeat_at is
  'Last engine_process__heartbeat (never moves back); stale heartbeats get the process reaped.';
comment on column kapitaal.engine_processes.stopped_at is
  'When the process stopped cleanly (engine_process__stop); null while running or when it died.';
--! EndIncluded worker/engine_processes.sql
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
comment on column kapitaal.run_pairs.run_id is
  'The ingest run (ingest_runs.run_id) whose universe this is; no foreign key (also written on the decision cluster).';
comment on column kapitaal.run_pairs.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.run_pairs.base is
  'Base currency code from the instrument channel (what qty is counted in), e.g. BTC.';
comment on column kapitaal.run_pairs.quote is
  'Quote currency code from the instrument channel (what prices and costs are in), e.g. USD.';
comment on column kapitaal.run_pairs.price_precision is 'Decimal places Kraken allows in a price (instrument channel).';
comment on column kapitaal.run_pairs.qty_precision is 'Decimal places Kraken allows in an order quantity.';
comment on column kapitaal.run_pairs.cost_precision is
  'Decimal places Kraken uses for cost (price times quantity, quote currency).';
comment on column kapitaal.run_pairs.first_seen_at is
  'When run_pairs__sync first stored the pair for this run (its p_now, database clock by default).';
comment on column kapitaal.run_pairs.updated_at is
  'When run_pairs__sync last wrote the row, changed or not (its p_now).';
--! EndIncluded market/run_pairs.sql
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
comment on column kapitaal.ingest_epochs.run_id is
  'The ingest run (ingest_runs.run_id) the epoch belongs to; no foreign key (also synced to the decision cluster).';
comment on column kapitaal.ingest_epochs.published_at is
  'When ingest_epoch__publish ran (its p_now, database clock by default).';
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
comment on column kapitaal.ingest_snapshots.run_id is
  'The ingest run (ingest_runs.run_id); no foreign key (also synced to the decision cluster).';
comment on column kapitaal.ingest_snapshots.epoch is
  'The epoch (ingest_epochs.epoch of the same run) this row belongs to.';
comment on column kapitaal.ingest_snapshots.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.ingest_snapshots.published_at is
  'When ingest_epoch__publish ran (its p_now); equals ingest_epochs.published_at of the epoch.';
--! EndIncluded market/ingest_snapshots.sql
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
comment on column kapitaal.ingest_write_batches.run_id is 'The ingest run (ingest_runs.run_id) that wrote the batch.';
comment on column kapitaal.ingest_write_batches.ticker_rows is 'ticker_samples rows the batch stored.';
comment on column kapitaal.ingest_write_batches.trade_rows is 'trade_samples rows the batch stored.';
comment on column kapitaal.ingest_write_batches.l2_rows is 'l2_snap_metrics rows the batch stored.';
comment on column kapitaal.ingest_write_batches.l3_rows is 'l3_queue_metrics rows the batch stored.';
--! EndIncluded market/ingest_write_batches.sql
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
comment on column kapitaal.ingest_gaps.gap_id is 'Identity, in recording order.';
comment on column kapitaal.ingest_gaps.run_id is 'The ingest run (ingest_runs.run_id) that dropped the rows.';
comment on column kapitaal.ingest_gaps.table_name is 'The raw table the dropped rows were meant for.';
comment on column kapitaal.ingest_gaps.rows_dropped is
  'Number of rows received but not stored between first_received_at and last_received_at.';
--! EndIncluded market/ingest_gaps.sql
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
comment on column kapitaal.state_refresh_policy.policy is 'Always ''default'': the table holds one row.';
comment on column kapitaal.state_refresh_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change the policy.';
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
comment on column kapitaal.route_freshness_policy.route_type is
  'Route kind a decision executes through (taker_entry, maker_entry, exit; lower-case identifier).';
comment on column kapitaal.route_freshness_policy.description is
  'What the route is and why its age limit is what it is.';
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
comment on column kapitaal.regime_policy.policy is 'Always ''default'': the table holds one row.';
comment on column kapitaal.regime_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a threshold.';
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
comment on column kapitaal.strategy_readiness_policy.strategy is
  'The strategy these requirements are for (liquidity, momentum, volume).';
comment on column kapitaal.strategy_readiness_policy.max_book_age is
  'Largest allowed age of the newest L2 sample (now - last_l2_at) when requires_book; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.max_l3_age is
  'Largest allowed age of the newest L3 sample when requires_l3; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.max_ticker_age is
  'Largest allowed age of the newest ticker when requires_ticker; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.max_trade_age is
  'Largest allowed time since the newest trade when requires_trades; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.min_trades_1m is
  'Minimum trades in the last minute (run_symbol_state.trades_1m); 0 = no minimum.';
comment on column kapitaal.strategy_readiness_policy.min_trades_5m is
  'Minimum trades in the last 5 minutes (run_symbol_state.trades_5m); 0 = no minimum.';
comment on column kapitaal.strategy_readiness_policy.min_quote_volume_5m is
  'Minimum traded volume in the last 5 minutes, in quote currency (numeric); 0 = no minimum.';
comment on column kapitaal.strategy_readiness_policy.description is 'The strategy''s data needs in plain words.';
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
-- No index on generation_id: every reader filters by run_id (primary key), and an index on a
-- column each refresh changes made every row update a non-HOT update with two index inserts
-- (~7 ms of a 500-symbol refresh). Free space on the page keeps the rewrites HOT.
drop index if exists kapitaal.run_symbol_state_generation_idx;
alter table kapitaal.run_symbol_state set (fillfactor = 50);

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
comment on column kapitaal.run_symbol_state.run_id is
  'The ingest run (ingest_runs.run_id) whose state this is; no foreign key (also synced to the decision cluster).';
comment on column kapitaal.run_symbol_state.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.run_symbol_state.best_bid is
  'Best bid price (quote currency) of the newest L2 sample, else of the newest ticker (see book_source); null: neither.';
comment on column kapitaal.run_symbol_state.best_ask is
  'Best ask price (quote currency), from the same source as best_bid; null: neither.';
comment on column kapitaal.run_symbol_state.mid is
  '(best_bid + best_ask) / 2, quote currency; null when either side is missing.';
comment on column kapitaal.run_symbol_state.l3_ask_touch_qty is
  'Quantity (base) resting at the best ask in the newest L3 sample: the queue ahead of a new ask at the touch.';
comment on column kapitaal.run_symbol_state.l3_ask_touch_orders is
  'Number of orders resting at the best ask in the newest L3 sample.';
comment on column kapitaal.run_symbol_state.trades_1m is
  'Trades in the 1-minute window (6 ten-second buckets, current one included).';
comment on column kapitaal.run_symbol_state.trades_5m is
  'Trades in the 5-minute window (30 ten-second buckets, current one included).';
comment on column kapitaal.run_symbol_state.quote_volume_1m is
  'Sum of price * qty of trades in the last minute (quote currency, numeric).';
comment on column kapitaal.run_symbol_state.l2_checksum_failures_5m is
  'L2 samples with checksum_ok = false in the last 5 minutes.';
comment on column kapitaal.run_symbol_state.l3_checksum_failures_1m is
  'L3 samples with checksum_ok = false in the last minute.';
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
comment on column kapitaal.state_generations.generation_id is
  'From state_generation_seq; stamped on every run_symbol_state row the refresh wrote.';
comment on column kapitaal.state_generations.run_id is
  'The ingest run (ingest_runs.run_id) that was refreshed; no foreign key (also synced to the decision cluster).';
comment on column kapitaal.state_generations.trade_rows is 'Raw trade rows read (new since the previous refresh).';
comment on column kapitaal.state_generations.l2_rows is 'Raw L2 samples read (new since the previous refresh).';
comment on column kapitaal.state_generations.l3_rows is 'Raw L3 samples read (new since the previous refresh).';
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
  'rows with txid in [watermark, raw_txid_horizon()) and then moves the watermark up. Ingest cluster only.';
comment on column kapitaal.state_refresh_watermarks.watermark is
  'kapitaal.raw_txid_horizon() as taken by the last refresh: every transaction of this database below it had finished, so '
  'their rows were final.';
comment on column kapitaal.state_refresh_watermarks.refreshed_at is 'Effective time of the last refresh (refreshes never move it back).';
comment on column kapitaal.state_refresh_watermarks.generation_id is 'Generation of the last refresh.';
comment on column kapitaal.state_refresh_watermarks.rows_read is 'Raw rows of this table read by all refreshes of the run (each row once).';
comment on column kapitaal.state_refresh_watermarks.run_id is 'The ingest run (ingest_runs.run_id).';
comment on column kapitaal.state_refresh_watermarks.table_name is 'The raw table this watermark is for.';
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
comment on column kapitaal.state_buckets.run_id is
  'The ingest run (ingest_runs.run_id) of the raw rows aggregated here.';
comment on column kapitaal.state_buckets.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.state_buckets.bucket_start is
  'Start of the 10-second bucket: date_bin(10 s, received_at), so on the engine clock.';
comment on column kapitaal.state_buckets.ticker_n is 'Ticker rows received in the bucket.';
comment on column kapitaal.state_buckets.trade_n is 'Trades received in the bucket.';
comment on column kapitaal.state_buckets.trade_buy_quote_volume is
  'The part of trade_quote_volume whose taker bought (quote currency, numeric).';
comment on column kapitaal.state_buckets.trade_max_id is 'Largest trade_id in the bucket (for trade-id gap detection).';
comment on column kapitaal.state_buckets.l2_n is 'L2 samples received in the bucket (valid or not).';
comment on column kapitaal.state_buckets.l3_n is 'L3 samples received in the bucket (valid or not).';
comment on column kapitaal.state_buckets.l3_bad_n is 'L3 samples with checksum_ok = false.';
comment on column kapitaal.state_buckets.l3_touch_deletes is 'Sum of touch_deletes of the bucket''s L3 samples.';

-- Every refresh rewrites the touched rows; free space on the page lets those updates be HOT
-- (no index entries), since no indexed column changes.
alter table kapitaal.state_buckets set (fillfactor = 70);
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

-- The window cache: the per-symbol window aggregates of the last compose, valid for the
-- bucket_now in w_now (null = stale). While the windows do not move, a refresh whose new rows
-- only touch the symbol's newest bucket(s) updates them by deltas (state__merge); anything else
-- marks the symbol stale and state__window_cache recomputes it from its buckets.
alter table kapitaal.state_symbol_latest
  add column if not exists w_now timestamptz,
  add column if not exists w_first5_start timestamptz,
  add column if not exists w_first1_start timestamptz,
  add column if not exists w_fp5_start timestamptz,
  add column if not exists w_fp1_start timestamptz,
  add column if not exists w_last_start timestamptz,
  add column if not exists w_last_close numeric,
  add column if not exists w_prev_close numeric,
  add column if not exists w_last_r numeric,
  add column if not exists w_n5 integer,
  add column if not exists w_open5 numeric,
  add column if not exists w_open1 numeric,
  add column if not exists w_close_last numeric,
  add column if not exists w_ss5 numeric,
  add column if not exists w_sa5 numeric,
  add column if not exists w_ss1 numeric,
  add column if not exists w_trades_1m integer,
  add column if not exists w_trades_5m integer,
  add column if not exists w_qv_1m numeric,
  add column if not exists w_qv_5m numeric,
  add column if not exists w_buy_qv_5m numeric,
  add column if not exists w_min_id bigint,
  add column if not exists w_max_id bigint,
  add column if not exists w_l2_bad_1m integer,
  add column if not exists w_l2_bad_5m integer,
  add column if not exists w_l2_snap_5m integer,
  add column if not exists w_l3_bad_1m integer,
  add column if not exists w_touch_1m integer;
comment on column kapitaal.state_symbol_latest.w_now is
  'bucket_now (state__windows) the window cache (w_*) is valid for; null or another bucket: stale, recomputed from state_buckets.';
comment on column kapitaal.state_symbol_latest.w_first5_start is 'First bucket of the 5-minute window (its return is from its own open).';
comment on column kapitaal.state_symbol_latest.w_first1_start is 'First bucket of the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_fp5_start is 'First priced bucket of the 5-minute window (its open is ret_5m''s base).';
comment on column kapitaal.state_symbol_latest.w_fp1_start is 'First priced bucket of the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_last_start is 'Newest bucket of the symbol (also beyond bucket_now): the only one the delta path may touch.';
comment on column kapitaal.state_symbol_latest.w_last_close is 'Price-path close of the newest bucket (null: unpriced).';
comment on column kapitaal.state_symbol_latest.w_prev_close is 'Close of the bucket before the newest (null: none or unpriced): the base of the newest bucket''s return.';
comment on column kapitaal.state_symbol_latest.w_last_r is 'Bucket return of the newest bucket as counted in w_ss5/w_sa5/w_ss1 (null: unpriced).';
comment on column kapitaal.state_symbol_latest.w_ss5 is 'Sum of squared bucket returns over the 5-minute window (null: no priced bucket).';
comment on column kapitaal.state_symbol_latest.w_sa5 is 'Sum of absolute bucket returns over the 5-minute window.';
comment on column kapitaal.state_symbol_latest.w_ss1 is 'Sum of squared bucket returns over the 1-minute window (null: no priced bucket).';
comment on column kapitaal.state_symbol_latest.run_id is 'The ingest run (ingest_runs.run_id).';
comment on column kapitaal.state_symbol_latest.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.state_symbol_latest.ticker_at is 'received_at of the newest ticker row (engine clock).';
comment on column kapitaal.state_symbol_latest.ticker_bid is
  'Best bid price (quote currency) of the newest ticker row.';
comment on column kapitaal.state_symbol_latest.ticker_ask is
  'Best ask price (quote currency) of the newest ticker row.';
comment on column kapitaal.state_symbol_latest.trade_key is 'array[epoch(received_at), seq] of the newest trade.';
comment on column kapitaal.state_symbol_latest.trade_at is 'received_at of the newest trade (engine clock).';
comment on column kapitaal.state_symbol_latest.trade_price is 'Price (quote currency) of the newest trade.';
comment on column kapitaal.state_symbol_latest.l2_key is
  'array[epoch(received_at), seq] of the newest L2 sample, valid or not.';
comment on column kapitaal.state_symbol_latest.l2_at is 'received_at of the newest L2 sample (engine clock).';
comment on column kapitaal.state_symbol_latest.l2_checksum_ok is 'checksum_ok of the newest L2 sample.';
comment on column kapitaal.state_symbol_latest.l2_best_bid is
  'Best bid price (quote currency) of the newest L2 sample; null when its bid side is empty.';
comment on column kapitaal.state_symbol_latest.l2_best_ask is
  'Best ask price (quote currency) of the newest L2 sample; null when its ask side is empty.';
comment on column kapitaal.state_symbol_latest.l2_ask_qty is 'Quantity (base) at the best ask of the newest L2 sample.';
comment on column kapitaal.state_symbol_latest.l2_ask_depth_10bps is 'Quote value of asks within 10 bps of the L2 mid.';
comment on column kapitaal.state_symbol_latest.l2_bid_depth_50bps is 'Quote value of bids within 50 bps of the L2 mid.';
comment on column kapitaal.state_symbol_latest.l2_ask_depth_50bps is 'Quote value of asks within 50 bps of the L2 mid.';
comment on column kapitaal.state_symbol_latest.l3_key is 'array[epoch(received_at), seq] of the newest L3 sample.';
comment on column kapitaal.state_symbol_latest.l3_at is 'received_at of the newest L3 sample (engine clock).';
comment on column kapitaal.state_symbol_latest.l3_checksum_ok is 'checksum_ok of the newest L3 sample.';
comment on column kapitaal.state_symbol_latest.l3_bid_orders is
  'Number of orders at the best bid of the newest L3 sample.';
comment on column kapitaal.state_symbol_latest.l3_ask_qty is 'Quantity (base) at the best ask of the newest L3 sample.';
comment on column kapitaal.state_symbol_latest.l3_ask_orders is
  'Number of orders at the best ask of the newest L3 sample.';
comment on column kapitaal.state_symbol_latest.w_n5 is
  'Priced buckets in the 5-minute window (becomes run_symbol_state.price_buckets_5m).';
comment on column kapitaal.state_symbol_latest.w_open5 is
  'Open of the first priced bucket of the 5-minute window: the base of ret_5m_bps.';
comment on column kapitaal.state_symbol_latest.w_open1 is
  'Open of the first priced bucket of the 1-minute window: the base of ret_1m_bps.';
comment on column kapitaal.state_symbol_latest.w_close_last is
  'Close of the newest priced bucket of the 5-minute window: the end of ret_1m_bps and ret_5m_bps.';
comment on column kapitaal.state_symbol_latest.w_trades_1m is 'Trades in the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_trades_5m is 'Trades in the 5-minute window.';
comment on column kapitaal.state_symbol_latest.w_qv_1m is
  'Trade quote volume (price * qty, quote currency) in the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_qv_5m is 'Trade quote volume (quote currency) in the 5-minute window.';
comment on column kapitaal.state_symbol_latest.w_buy_qv_5m is 'The part of w_qv_5m whose taker bought.';
comment on column kapitaal.state_symbol_latest.w_min_id is 'Smallest trade_id in the 5-minute window (null: no trade).';
comment on column kapitaal.state_symbol_latest.w_max_id is
  'Largest trade_id in the 5-minute window; with w_min_id and w_trades_5m gives trade_id_gaps_5m.';
comment on column kapitaal.state_symbol_latest.w_l2_bad_1m is
  'L2 samples with checksum_ok = false in the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_l2_bad_5m is
  'L2 samples with checksum_ok = false in the 5-minute window.';
comment on column kapitaal.state_symbol_latest.w_l2_snap_5m is
  'L2 snapshots in the 5-minute window (becomes l2_resyncs_5m).';
comment on column kapitaal.state_symbol_latest.w_l3_bad_1m is
  'L3 samples with checksum_ok = false in the 1-minute window.';
comment on column kapitaal.state_symbol_latest.w_touch_1m is
  'L3 touch adds plus deletes in the 1-minute window (becomes l3_touch_churn_1m).';

-- Every refresh rewrites the touched rows; free space on the page lets those updates be HOT
-- (no index entries), since no indexed column changes.
alter table kapitaal.state_symbol_latest set (fillfactor = 50);
--! EndIncluded state/state_symbol_latest.sql
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
comment on column kapitaal.decision_settings.singleton is 'Always true: the table holds one row.';
comment on column kapitaal.decision_settings.updated_at is
  'When decision_settings__configure last wrote the row (database clock).';

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
comment on column kapitaal.decision_policy.policy is 'Always ''default'': the table holds one row.';
comment on column kapitaal.decision_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change the policy.';
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
comment on column kapitaal.state_generation_visibility.generation_id is
  'The generation (state_generations.generation_id) that became visible.';
comment on column kapitaal.state_generation_visibility.run_id is
  'The ingest run (ingest_runs.run_id) of the generation.';
comment on column kapitaal.state_generation_visibility.refreshed_at is
  'state_generations.refreshed_at of the generation (the ingest refresh''s time).';
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
comment on column kapitaal.job_chain_incidents.incident_id is 'Identity, in recording order.';
comment on column kapitaal.job_chain_incidents.at is
  'p_now of job_chain__failed or job_chain__watchdog (database clock by default).';
comment on column kapitaal.job_chain_incidents.task_identifier is
  'Graphile Worker task of the chain step (evaluation__run, state__sync, run_symbol_state__refresh); ''*'' for pruned_failed.';
comment on column kapitaal.job_chain_incidents.job_key is
  'Graphile Worker job key that holds the chain step (e.g. run_symbol_state__refresh:<run_id>); null for pruned_failed.';
comment on column kapitaal.job_chain_incidents.job_id is
  'graphile_worker.jobs id concerned; null when the job was seeded, or for pruned_failed.';
comment on column kapitaal.job_chain_incidents.next_run_at is
  'step_failed only: when the next cycle was queued to run (after backoff); null when the chain is not wanted.';
--! EndIncluded decision/job_chain_incidents.sql
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
comment on column kapitaal.evaluations.evaluation_id is 'Identity, in evaluation order.';
comment on column kapitaal.evaluations.symbols is
  'Symbols of the run''s current generation looked at (one evaluation_symbols row each).';
comment on column kapitaal.evaluations.generation_refreshed_at is
  'refreshed_at of the generation read (ingest cluster''s refresh time); null when no generation was visible.';
comment on column kapitaal.evaluations.created_at is
  'clock_timestamp() when the row was inserted (database clock); evaluated_at is the evaluation''s own p_now.';

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
comment on column kapitaal.evaluation_symbols.evaluation_id is
  'The evaluation (evaluations.evaluation_id); rows go with it (on delete cascade) or earlier by retention.';
comment on column kapitaal.evaluation_symbols.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.evaluation_symbols.regime is
  'Effective regime of the symbol in the generation read (run_symbol_state.regime); null: not established.';

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
comment on column kapitaal.evaluation_gate_checks.check_id is 'Identity, in check order.';
comment on column kapitaal.evaluation_gate_checks.evaluation_id is
  'The evaluation whose candidates the gate was checked for (evaluations.evaluation_id).';
comment on column kapitaal.evaluation_gate_checks.checked_at is
  'p_now of evaluation__gate (database clock by default).';
comment on column kapitaal.evaluation_gate_checks.allowed is
  'true: the evaluation''s generation was still the current, complete and fresh one of a running run: its candidates may execute.';
comment on column kapitaal.evaluation_gate_checks.reason is
  'generation_gate__check''s reason: a code (GENERATION_CURRENT, GENERATION_SUPERSEDED, GENERATION_STALE, …) and the deciding numbers.';
comment on column kapitaal.evaluation_gate_checks.marker is
  'EXECUTION_BLOCKED_GENERATION_MISMATCH when blocked; null when allowed.';
comment on column kapitaal.evaluation_gate_checks.current_generation_id is
  'The run''s current generation at the check (null: none visible); differs from evaluations.generation_id when superseded.';
--! EndIncluded decision/evaluations.sql
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
comment on column kapitaal.order_statuses.status is
  'Status name, the value orders.status and order_events.from_status/to_status hold.';
comment on column kapitaal.order_statuses.description is 'What the status means, in words.';

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
comment on column kapitaal.order_status_transitions.from_status is 'Status the order is in (order_statuses.status).';
comment on column kapitaal.order_status_transitions.to_status is 'Status order__transition may move it to.';
comment on column kapitaal.order_status_transitions.description is 'When this transition happens, in words.';

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
comment on column kapitaal.execution_instance.singleton is 'Always true: the table holds one row.';
comment on column kapitaal.execution_instance.instance_id is
  'Random salt of order__client_id, drawn once when the row is inserted (on migration); never change it.';
comment on column kapitaal.execution_instance.created_at is 'When the row was inserted (database clock).';
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
comment on column kapitaal.orders.order_id is 'Identity, in creation order.';
comment on column kapitaal.orders.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD (run_pairs.symbol).';
comment on column kapitaal.orders.side is 'buy for entries, sell for exits (spot, long only: orders_long_only).';
comment on column kapitaal.orders.order_type is 'limit (price set) or market (price null).';
comment on column kapitaal.orders.post_only is
  'Limit order that must rest on the book (maker only); the exchange cancels it rather than let it take.';
comment on column kapitaal.orders.strategy is
  'Strategy that decided the order (strategy_policy.strategy); an exit carries its position''s strategy.';
comment on column kapitaal.orders.status is
  'Current lifecycle status (order_statuses), changed only by order__transition; the history is in order_events.';
comment on column kapitaal.orders.created_at is 'p_now of order__create_intent (database clock by default).';
comment on column kapitaal.orders.updated_at is 'p_now of the last write to the row (submit, transition, fill).';
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
comment on column kapitaal.order_events.event_id is 'Identity, in recording order.';
comment on column kapitaal.order_events.order_id is 'The order (orders.order_id).';
comment on column kapitaal.order_events.from_status is 'Status before the event; null for the creation event.';
comment on column kapitaal.order_events.to_status is
  'Status after the event (equal to from_status, submitting, for a submit retry).';
comment on column kapitaal.order_events.exchange_order_id is
  'The order''s exchange id (Kraken txid) known at the event; null before the acknowledgement.';

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
comment on column kapitaal.positions.position_id is 'Identity, in opening order.';
comment on column kapitaal.positions.account is
  'Trading account (capital_policy.account), copied from the entry order.';
comment on column kapitaal.positions.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.positions.strategy is
  'Strategy of the entry order; key with account and symbol (one open position per key).';
comment on column kapitaal.positions.opened_run_id is
  'run_id of the entry order (the ingest run whose data decided it).';
comment on column kapitaal.positions.bought_qty is 'Sum of qty of the buys into this position (base currency).';
comment on column kapitaal.positions.sold_qty is
  'Sum of qty of the sells matched to this position (base currency); qty = bought_qty - sold_qty.';
comment on column kapitaal.positions.trail_armed_at is
  'When the trailing stop armed (p_now of position__exit_decision); null while not armed.';
comment on column kapitaal.positions.updated_at is 'p_now of the last write (fill or exit-decision mark).';
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
comment on column kapitaal.fills.fill_id is
  'Identity, in recording order: the order positions and cash are derived in.';
comment on column kapitaal.fills.order_id is 'The order this trade filled (orders.order_id).';
comment on column kapitaal.fills.symbol is 'Copied from the order (Kraken WS v2 pair symbol).';
comment on column kapitaal.fills.side is 'Copied from the order: buy or sell.';
comment on column kapitaal.fills.strategy is 'Copied from the order.';
comment on column kapitaal.fills.price is 'Trade price in quote currency per unit of base, numeric.';
comment on column kapitaal.fills.qty is 'Traded quantity in base currency.';
comment on column kapitaal.fills.data is
  'The trade as the exchange reported it (raw document); null when recorded without one.';

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
comment on column kapitaal.capital_policy.account is
  'Trading account this policy is for; ''default'' is created by the migration.';
comment on column kapitaal.capital_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change the policy.';
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
comment on column kapitaal.capital_snapshots.snapshot_id is 'Identity, in snapshot order.';
comment on column kapitaal.capital_snapshots.account is 'Trading account (capital_policy.account).';
comment on column kapitaal.capital_snapshots.at is 'p_now of capital__snapshot: the moment the marks are for.';
comment on column kapitaal.capital_snapshots.mode is
  'capital_policy.mode at the time of the snapshot (fixed or compounding).';
comment on column kapitaal.capital_snapshots.open_positions is
  'Number of open positions of the account at that moment.';
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
comment on column kapitaal.exit_policy.strategy is
  'Strategy the rules apply to, or ''default'' for strategies without their own row.';
comment on column kapitaal.exit_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a rule.';
insert into kapitaal.exit_policy (strategy, stop_loss_pct, take_profit_pct, trailing_arm_pct, trailing_retrace_pct,
                                  max_hold, exit_regimes, exit_on_regime_change)
values ('default', 2, 4, 1.5, 0.75, interval '4 hours', array['CHAOS'], false)
on conflict do nothing;
--! EndIncluded execution/exit_policy.sql
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
comment on column kapitaal.strategy_policy.strategy is
  'Strategy name: liquidity, momentum or volume (docs/STRATEGIES.md).';
comment on column kapitaal.strategy_policy.description is 'What the strategy does, in plain words.';
comment on column kapitaal.strategy_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a coefficient.';

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
comment on column kapitaal.strategy_regime_eligibility.regime is
  'The pair''s effective regime (run_symbol_state.regime).';
comment on column kapitaal.strategy_regime_eligibility.strategy is 'The strategy (strategy_policy.strategy).';
comment on column kapitaal.strategy_regime_eligibility.eligible is
  'true: the strategy may open positions in this regime; false (or no row): its proposals get regime_ineligible.';

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
comment on column kapitaal.evaluation_rankings.symbol is 'Pair of the proposal, e.g. BTC/USD.';
comment on column kapitaal.evaluation_rankings.strategy is 'Strategy of the proposal (strategy_policy.strategy).';
comment on column kapitaal.evaluation_rankings.run_id is 'The ingest run whose state the proposal read.';
comment on column kapitaal.evaluation_rankings.regime is
  'The pair''s effective regime in that state (null: not established).';
comment on column kapitaal.evaluation_rankings.side is 'Side of the entry: buy (spot, long only).';
comment on column kapitaal.evaluation_rankings.entry_liquidity is
  'maker or taker, from strategy_policy.entry_liquidity.';
comment on column kapitaal.evaluation_rankings.order_type is 'limit or market, from strategy_policy.order_type.';
comment on column kapitaal.evaluation_rankings.post_only is
  'From strategy_policy.post_only: the entry would rest as a maker order only.';
comment on column kapitaal.evaluation_rankings.entry_price is
  'Entry price in quote currency: best ask (taker), best bid, or best bid + one tick (maker improving); null without a book.';
comment on column kapitaal.evaluation_rankings.queue_ahead_qty is
  'Base quantity ahead of a maker entry at entry_price (L3 touch queue; 0 when improving); null for taker entries.';
--! EndIncluded strategy/evaluation_rankings.sql
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
comment on column kapitaal.order_policy.strategy is
  'Strategy the rules apply to, or ''default'' for strategies without their own row.';
comment on column kapitaal.order_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a rule.';
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
comment on column kapitaal.evaluation_placements.evaluation_id is
  'The evaluation (evaluations.evaluation_id, no foreign key); one placement per evaluation.';
comment on column kapitaal.evaluation_placements.run_id is 'The ingest run the evaluation was bound to.';
comment on column kapitaal.evaluation_placements.generation_id is
  'The state generation of the selected ranking row (else the one passed in).';
comment on column kapitaal.evaluation_placements.symbol is 'Pair of the selected proposal; null for no_candidate.';
comment on column kapitaal.evaluation_placements.strategy is
  'Strategy of the selected proposal; null for no_candidate.';
comment on column kapitaal.evaluation_placements.outcome is
  'placed (order_id set), or why nothing was placed: no_candidate, unknown_pair, pair_not_tradable, no_room, below_minimum, invalid_price.';
comment on column kapitaal.evaluation_placements.reason is 'Why this outcome, in words with the numbers.';
comment on column kapitaal.evaluation_placements.order_id is
  'The entry order created (orders.order_id); set exactly when outcome = placed.';
comment on column kapitaal.evaluation_placements.client_order_id is
  'Client order id of that order (orders.client_order_id).';
comment on column kapitaal.evaluation_placements.decided_at is 'p_now of evaluation__place_orders.';
comment on column kapitaal.evaluation_placements.created_at is
  'clock_timestamp() when the row was inserted (database clock).';
--! EndIncluded orders/evaluation_placements.sql
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
comment on column kapitaal.exchange_fill_cursors.venue is
  'Fill feed identity: paper:<session>, simulator:<url> or kraken:<account>.';
comment on column kapitaal.exchange_fill_cursors.cursor is
  'Opaque Exchange.fillsSince cursor up to which fills are stored; null before the first page.';
comment on column kapitaal.exchange_fill_cursors.fills_seen is
  'Inbox rows this venue''s polls stored (duplicates not counted).';
comment on column kapitaal.exchange_fill_cursors.polls is 'Pages stored by fills__ingest for this venue.';
comment on column kapitaal.exchange_fill_cursors.last_poll_at is 'p_now of the last fills__ingest call for this venue.';
comment on column kapitaal.exchange_fill_cursors.last_fill_at is
  'p_now of the last call that stored at least one new fill (not the exchange''s trade time).';
comment on column kapitaal.exchange_fill_cursors.updated_at is
  'p_now of the last write (same as last_poll_at once polled).';

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
comment on column kapitaal.exchange_fill_inbox.venue is 'Fill feed the trade came from (exchange_fill_cursors.venue).';
comment on column kapitaal.exchange_fill_inbox.trade_id is
  'The exchange''s trade id; with exchange the key, and fills.exchange_trade_id once booked.';
comment on column kapitaal.exchange_fill_inbox.exchange_order_id is
  'The exchange''s order id (Kraken txid) of the filled order: how the fill is matched to orders.exchange_order_id.';
comment on column kapitaal.exchange_fill_inbox.client_order_id is
  'Our client order id as the exchange echoed it (orders.client_order_id); null when not reported.';
comment on column kapitaal.exchange_fill_inbox.symbol is 'Pair symbol as the exchange reported it.';
comment on column kapitaal.exchange_fill_inbox.side is 'buy or sell, as reported.';
comment on column kapitaal.exchange_fill_inbox.price is
  'Trade price in quote currency, numeric (the reported decimal text, exactly).';
comment on column kapitaal.exchange_fill_inbox.qty is 'Traded quantity in base currency, numeric.';
comment on column kapitaal.exchange_fill_inbox.fee is 'Fee in quote currency, numeric.';
comment on column kapitaal.exchange_fill_inbox.liquidity is 'maker or taker, as reported.';
comment on column kapitaal.exchange_fill_inbox.filled_at is 'The exchange''s time of the trade.';
comment on column kapitaal.exchange_fill_inbox.data is 'The fill object as reported (Exchange Fill JSON).';
comment on column kapitaal.exchange_fill_inbox.received_at is 'p_now of the fills__ingest call that stored it.';
comment on column kapitaal.exchange_fill_inbox.inbox_seq is
  'Identity, in arrival order: fills__match works through unmatched rows in this order.';
comment on column kapitaal.exchange_fill_inbox.order_id is 'The order the fill was matched to; null while unmatched.';
comment on column kapitaal.exchange_fill_inbox.fill_id is
  'The fills-ledger row it was booked as (fills.fill_id); null while unmatched.';
comment on column kapitaal.exchange_fill_inbox.matched_at is
  'p_now of the fills__match call that booked it; null: still waiting (see last_error).';
comment on column kapitaal.exchange_fill_inbox.last_error is
  'Why the last booking attempt failed (SQLSTATE: message); null after success or before any failure.';

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
comment on column kapitaal.exit_scan_decisions.decision_id is 'Identity, in scan order.';
comment on column kapitaal.exit_scan_decisions.scanned_at is 'p_now of exits__scan.';
comment on column kapitaal.exit_scan_decisions.position_id is 'The open position judged (positions.position_id).';
comment on column kapitaal.exit_scan_decisions.symbol is 'The position''s pair symbol.';
comment on column kapitaal.exit_scan_decisions.outcome is
  'exit_created or exit_exists (an exit order for the trigger), in_flight (an exit already working), no_mark, stale_mark, unknown_pair or below_minimum (could not exit).';
comment on column kapitaal.exit_scan_decisions.exit_trigger is
  'The rule that fired (stop_loss, take_profit, trailing_stop, time_stop, regime_change); null when none fired or the position could not be judged.';
comment on column kapitaal.exit_scan_decisions.mark_price is
  'The mark used: run_symbol_state.mid (quote currency); null when the state had none.';
comment on column kapitaal.exit_scan_decisions.regime is
  'The pair''s effective regime in that state row (null: not established or no state).';
comment on column kapitaal.exit_scan_decisions.state_run_id is
  'run_id of the run_symbol_state row used for the mark (null: no state).';
comment on column kapitaal.exit_scan_decisions.state_generation_id is 'generation_id of that row.';
comment on column kapitaal.exit_scan_decisions.order_id is
  'The exit order created or found (orders.order_id); null for outcomes without an order.';
comment on column kapitaal.exit_scan_decisions.reason is 'Why this outcome, in words with the numbers.';
comment on column kapitaal.exit_scan_decisions.details is
  'position__exit_decision''s details, the state''s refreshed_at, mark age and limit, and the conformed order terms, as JSON.';

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
comment on column kapitaal.maker_fallbacks.order_id is
  'The post-only entry order that did not fill in time (orders.order_id).';
comment on column kapitaal.maker_fallbacks.decided_at is 'p_now of order__maker_fallback.';
comment on column kapitaal.maker_fallbacks.action is
  'taker: the unfilled rest went out as a market order (fallback_order_id); cancel: nothing replaced it.';
comment on column kapitaal.maker_fallbacks.reason is 'Why this action, with the deciding numbers (edge, fee, age).';
comment on column kapitaal.maker_fallbacks.details is
  'order__maker_fallback_decision''s inputs and recomputed taker edge, plus the conformed terms of a taker order, as JSON.';
comment on column kapitaal.maker_fallbacks.fallback_order_id is
  'The taker order that replaced the rest (orders.order_id); null when action = cancel.';

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
--! Included exchange/paper_venue.sql
-- The paper exchange's own books (decision cluster): what a real exchange would remember about our
-- orders and fills, so that a restarted engine finds its paper orders where it left them instead
-- of reporting them missing forever. Written only through paper_venue__save().
create table if not exists kapitaal.paper_venues (
  venue text primary key,
  seq bigint not null check (seq >= 0),
  cursors jsonb not null default '{}'::jsonb check (jsonb_typeof(cursors) = 'object'),
  saved_at timestamptz not null default now()
);
comment on table kapitaal.paper_venues is
  'One row per paper venue (normally ''paper''): the venue''s placement counter and, per symbol, the market '
  'trade cursor (an ingest-cluster txid) up to which market trades were applied to resting paper orders.';
comment on column kapitaal.paper_venues.seq is 'Last placement/fill number handed out by the venue (orders and fills share it).';
comment on column kapitaal.paper_venues.cursors is 'Per symbol the market trade cursor, as {"BTC/USD": "<txid>"}.';
comment on column kapitaal.paper_venues.saved_at is 'When the venue was last saved (database clock).';
comment on column kapitaal.paper_venues.venue is
  'Paper venue name (normally ''paper''); the key of its orders and trades.';

create table if not exists kapitaal.paper_orders (
  venue text not null references kapitaal.paper_venues (venue),
  txid text not null,
  seq bigint not null,
  cl_ord_id text,
  symbol text not null,
  status text not null check (status in ('pending', 'open', 'closed', 'canceled', 'expired')),
  order_doc jsonb not null check (jsonb_typeof(order_doc) = 'object'),
  updated_at timestamptz not null default now(),
  primary key (venue, txid)
);
comment on table kapitaal.paper_orders is
  'Every paper order as the paper venue holds it (Kraken''s vocabulary: txid, status pending/open/closed/canceled/'
  'expired). order_doc is the venue''s whole record; amounts in it are decimal strings, never JSON numbers.';
comment on column kapitaal.paper_orders.seq is 'Placement number: among closed orders sharing a client id the newest wins.';
comment on column kapitaal.paper_orders.cl_ord_id is 'The engine''s client order id (orders.client_order_id).';
comment on column kapitaal.paper_orders.order_doc is 'src/exchange/matching.ts VenueOrder as JSON (price, vol, volExec, cost, fee as decimal strings).';
comment on column kapitaal.paper_orders.venue is 'The paper venue holding the order (paper_venues.venue).';
comment on column kapitaal.paper_orders.txid is
  'The venue''s order id (Kraken-style txid), what orders.exchange_order_id holds for a paper order.';
comment on column kapitaal.paper_orders.symbol is 'Pair symbol of the order, e.g. BTC/USD.';
comment on column kapitaal.paper_orders.status is
  'Kraken order status as the venue holds it: pending, open, closed, canceled or expired.';
comment on column kapitaal.paper_orders.updated_at is 'When paper_venue__save last wrote the row (database clock).';

create table if not exists kapitaal.paper_trades (
  venue text not null references kapitaal.paper_venues (venue),
  seq bigint not null,
  txid text not null,
  order_txid text not null,
  symbol text not null,
  trade_doc jsonb not null check (jsonb_typeof(trade_doc) = 'object'),
  primary key (venue, seq),
  unique (venue, txid)
);
comment on table kapitaal.paper_trades is
  'Every paper fill, append-only, numbered by the venue''s seq (the paper fills cursor). trade_doc is '
  'src/exchange/matching.ts VenueTrade as JSON (price, vol, cost, fee as decimal strings).';
comment on column kapitaal.paper_trades.order_txid is 'The paper order (paper_orders.txid) this fill belongs to.';
comment on column kapitaal.paper_trades.venue is 'The paper venue (paper_venues.venue).';
comment on column kapitaal.paper_trades.seq is
  'The venue''s number for this fill (shared counter with placements): the paper fills cursor.';
comment on column kapitaal.paper_trades.txid is
  'The venue''s trade id, unique per venue (fills.exchange_trade_id once booked).';
comment on column kapitaal.paper_trades.symbol is 'Pair symbol of the fill, e.g. BTC/USD.';
comment on column kapitaal.paper_trades.trade_doc is
  'src/exchange/matching.ts VenueTrade as JSON (price, vol, cost, fee as decimal strings).';
--! EndIncluded exchange/paper_venue.sql
