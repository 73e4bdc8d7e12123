--! Previous: sha1:e51630116b87dd5efd45a4c596261d36898f570b
--! Hash: sha1:9dfdb990d16bd271f4c8570929e90ee05e9c29b0
--! Message: Refresh round 2: regime indication as inlinable SQL, no generation index on run_symbol_state (HOT rewrites), one key array per raw row, generic plans

--! split: 1-current.sql
-- Enter migration here

--! split: 2-refresh.sql
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
--! EndIncluded state/run_symbol_state.sql
--! Included state/source_pass.sql
-- One pass over the new raw rows of a run: per table one index range scan on txid and one
-- aggregation per (symbol, 10-second bucket). Each bucket carries, besides its state_buckets
-- columns, the key and payload of its newest row per table, so the newest row per symbol
-- (state_symbol_latest) is the largest of those over the symbol's buckets: no second scan.
-- The recomputation oracle reads with the separate per-purpose functions (source_*.sql,
-- from_raw.sql), so it also checks this one.
create or replace function kapitaal.state__raw_pass(
  p_run_id bigint, p_lo_ticker xid8, p_lo_trade xid8, p_lo_l2 xid8, p_lo_l3 xid8, p_hi xid8
)
returns table (
  symbol text, bucket_start timestamptz,
  ticker_n integer, ticker_open numeric[], ticker_last numeric[], ticker_at timestamptz,
  trade_n integer, trade_quote_volume numeric, trade_buy_quote_volume numeric, trade_min_id bigint, trade_max_id bigint,
  trade_last numeric[], trade_at timestamptz,
  l2_n integer, l2_bad_n integer, l2_snapshot_n integer, l2_open numeric[], l2_close numeric[], l2_last numeric[], l2_at timestamptz,
  l3_n integer, l3_bad_n integer, l3_touch_adds integer, l3_touch_deletes integer, l3_last numeric[], l3_at timestamptz
)
language sql
stable
as $$
  -- Each table is read by a subquery that computes its per-row expressions once (offset 0 keeps
  -- the planner from copying them into every aggregate that uses them): one key array per row,
  -- [epoch, seq, payload…]. Open/close/newest are the min/max of that one array: (epoch, seq) is
  -- unique, so the order of longer arrays is decided by their first two elements and a slice of
  -- the min/max equals the min/max of the shorter array.
  with t as (
    select r.symbol, r.bucket_start, count(*)::integer as n,
           (min(r.k))[1:3] as open_key,
           -- [epoch, seq, mid, bid, ask]: [1:3] is the bucket's close, the rest the newest quote
           max(r.k) as last,
           max(r.received_at) as at
      from (select r.symbol, r.received_at,
                   date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
                   array[extract(epoch from r.received_at), r.seq, (r.bid + r.ask) * 0.5, r.bid, r.ask] as k
              from kapitaal.ticker_samples r
             where r.run_id = p_run_id and r.txid >= p_lo_ticker and r.txid < p_hi
            offset 0) r
     group by 1, 2
  ), d as (
    select r.symbol, r.bucket_start, count(*)::integer as n,
           sum(r.qv) as quote_volume,
           coalesce(sum(r.qv) filter (where r.side = 'buy'), 0) as buy_quote_volume,
           min(r.trade_id) as min_id, max(r.trade_id) as max_id,
           max(r.k) as last,
           max(r.received_at) as at
      from (select r.symbol, r.received_at, r.side, r.trade_id, r.price * r.qty as qv,
                   date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
                   array[extract(epoch from r.received_at), r.seq, r.price] as k
              from kapitaal.trade_samples r
             where r.run_id = p_run_id and r.txid >= p_lo_trade and r.txid < p_hi
            offset 0) r
     group by 1, 2
  ), b2 as (
    select r.symbol, r.bucket_start, count(*)::integer as n,
           count(*) filter (where not r.checksum_ok)::integer as bad_n,
           count(*) filter (where r.is_snapshot)::integer as snapshot_n,
           -- [epoch, seq, mid] of the valid two-sided samples
           min(r.k) filter (where r.valid) as open_key,
           max(r.k) filter (where r.valid) as close_key,
           -- newest sample, valid or not: [epoch, seq]; its book is fetched by seq afterwards
           (max(r.k))[1:2] as last,
           max(r.received_at) as at
      from (select r.symbol, r.received_at, r.checksum_ok, r.is_snapshot,
                   date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
                   r.checksum_ok and x.bid is not null and x.ask is not null as valid,
                   array[extract(epoch from r.received_at), r.seq, (x.bid + x.ask) * 0.5] as k
              from kapitaal.l2_snap_metrics r
             cross join lateral (select r.bid_px[1] as bid, r.ask_px[1] as ask) x
             where r.run_id = p_run_id and r.txid >= p_lo_l2 and r.txid < p_hi
            offset 0) r
     group by 1, 2
  ), b3 as (
    select r.symbol, date_bin(kapitaal.state__bucket_width(), r.received_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
           count(*)::integer as n,
           count(*) filter (where not r.checksum_ok)::integer as bad_n,
           sum(r.touch_adds)::integer as touch_adds,
           sum(r.touch_deletes)::integer as touch_deletes,
           max(array[extract(epoch from r.received_at), r.seq, r.checksum_ok::integer,
                     r.bid_qty[1], r.bid_orders[1], r.ask_qty[1], r.ask_orders[1]]) as last,
           max(r.received_at) as at
      from kapitaal.l3_queue_metrics r
     where r.run_id = p_run_id and r.txid >= p_lo_l3 and r.txid < p_hi
     group by 1, 2
  )
  select symbol, bucket_start,
         coalesce(t.n, 0), t.open_key, t.last, t.at,
         coalesce(d.n, 0), coalesce(d.quote_volume, 0), coalesce(d.buy_quote_volume, 0), d.min_id, d.max_id, d.last, d.at,
         coalesce(b2.n, 0), coalesce(b2.bad_n, 0), coalesce(b2.snapshot_n, 0), b2.open_key, b2.close_key, b2.last, b2.at,
         coalesce(b3.n, 0), coalesce(b3.bad_n, 0), coalesce(b3.touch_adds, 0), coalesce(b3.touch_deletes, 0), b3.last, b3.at
    from t
    full join d using (symbol, bucket_start)
    full join b2 using (symbol, bucket_start)
    full join b3 using (symbol, bucket_start)
$$;
comment on function kapitaal.state__raw_pass(bigint, xid8, xid8, xid8, xid8, xid8) is
  'The raw rows of a run with txid in [p_lo_<table>, p_hi), all four tables, aggregated per symbol and 10-second bucket '
  'in one pass: the state_buckets columns (ticker close = ticker_last[1:3]) plus per table the newest row''s key and '
  'payload and received_at, from which state__merge takes the newest row per symbol. Buckets of any age (the merge '
  'keeps those inside the window).';
--! EndIncluded state/source_pass.sql
--! Included state/regime.sql
-- Regime per pair: what the data of one refresh indicates, and the hysteresis that turns
-- indications into the effective regime.

-- Plain SQL (one CASE, evaluated lazily: only the chosen branch formats its reason) so the
-- planner inlines it into the refresh's upsert: the plpgsql version cost ~27 us per symbol
-- (13 ms of a 500-symbol refresh). Thresholds that keep the current regime are relaxed by the
-- exit margin (hysteresis band): v_f below is 1 - exit_margin for the current regime, else 1.
create or replace function kapitaal.regime__indicate(
  p_state kapitaal.run_symbol_state,
  p_current text,
  p_policy kapitaal.regime_policy,
  p_now timestamptz
)
returns table (regime text, reason text)
language sql
immutable
as $$
  select v.r[1], v.r[2]
    from (select case
      -- CHAOS: missing, stale or corrupt data first; a confident regime needs trustworthy data.
      when p_state.mid is null then
        array['CHAOS', 'NO_BOOK: no L2 book or ticker quote']
      when p_state.last_l2_at is null or p_state.book_source is distinct from 'l2' then
        array['CHAOS', 'NO_L2_BOOK: depth and spread unknown without a two-sided L2 book']
      when p_state.book_valid is not true then
        array['CHAOS', 'BOOK_INVALID: newest L2 sample failed its checksum']
      when p_now - greatest(p_state.last_l2_at, p_state.last_ticker_at) > p_policy.chaos_max_data_age then
        array['CHAOS', format('DATA_STALE: newest L2/ticker data %s old > %s',
          p_now - greatest(p_state.last_l2_at, p_state.last_ticker_at), p_policy.chaos_max_data_age)]
      when p_state.l2_checksum_failures_1m + p_state.l3_checksum_failures_1m >= p_policy.chaos_checksum_failures_1m then
        array['CHAOS', format('CHECKSUM_FAILURES: %s L2 + %s L3 checksum failures in 1 m >= %s',
          p_state.l2_checksum_failures_1m, p_state.l3_checksum_failures_1m, p_policy.chaos_checksum_failures_1m)]
      when p_state.trade_id_gaps_5m >= p_policy.chaos_trade_id_gaps_5m then
        array['CHAOS', format('TRADE_GAPS: %s trade ids missing in 5 m >= %s',
          p_state.trade_id_gaps_5m, p_policy.chaos_trade_id_gaps_5m)]
      when p_state.price_buckets_5m < p_policy.min_price_buckets_5m then
        array['CHAOS', format('INSUFFICIENT_HISTORY: %s price buckets in 5 m < %s',
          p_state.price_buckets_5m, p_policy.min_price_buckets_5m)]
      when p_state.vol_1m_bps >= p_policy.chaos_vol_1m_bps * f.chaos then
        array['CHAOS', format('EXTREME_VOLATILITY: vol_1m %s bps >= %s', p_state.vol_1m_bps,
          round(p_policy.chaos_vol_1m_bps * f.chaos, 4))]
      -- LOW_LIQUIDITY
      when p_state.spread_bps >= p_policy.low_liq_max_spread_bps * f.low_liq then
        array['LOW_LIQUIDITY', format('WIDE_SPREAD: spread %s bps >= %s', p_state.spread_bps,
          round(p_policy.low_liq_max_spread_bps * f.low_liq, 4))]
      when coalesce(least(p_state.bid_depth_50bps_quote, p_state.ask_depth_50bps_quote), 0)
           < p_policy.low_liq_min_depth_50bps_quote / f.low_liq then
        array['LOW_LIQUIDITY', format('THIN_BOOK: thinner side %s quote within 50 bps < %s',
          coalesce(least(p_state.bid_depth_50bps_quote, p_state.ask_depth_50bps_quote), 0),
          round(p_policy.low_liq_min_depth_50bps_quote / f.low_liq, 4))]
      when p_state.trades_5m < p_policy.low_liq_min_trades_5m / f.low_liq then
        array['LOW_LIQUIDITY', format('FEW_TRADES: %s trades in 5 m < %s', p_state.trades_5m,
          round(p_policy.low_liq_min_trades_5m / f.low_liq, 4))]
      -- HIGH_VOLATILITY
      when p_state.vol_5m_bps >= p_policy.high_vol_vol_5m_bps * f.high_vol then
        array['HIGH_VOLATILITY', format('vol_5m %s bps >= %s', p_state.vol_5m_bps,
          round(p_policy.high_vol_vol_5m_bps * f.high_vol, 4))]
      -- TREND
      when abs(p_state.trend_strength_5m) >= p_policy.trend_min_strength * f.trend
           and abs(p_state.ret_5m_bps) >= p_policy.trend_min_abs_ret_5m_bps * f.trend then
        array['TREND', format('trend_strength_5m %s (|.| >= %s), ret_5m %s bps (|.| >= %s)',
          p_state.trend_strength_5m, round(p_policy.trend_min_strength * f.trend, 4),
          p_state.ret_5m_bps, round(p_policy.trend_min_abs_ret_5m_bps * f.trend, 4))]
      else
        array['RANGE', format('vol_5m %s bps, trend_strength_5m %s, ret_5m %s bps, spread %s bps',
          p_state.vol_5m_bps, p_state.trend_strength_5m, p_state.ret_5m_bps, p_state.spread_bps)]
      end as r
      from (select case when p_current = 'CHAOS' then 1 - p_policy.exit_margin else 1 end as chaos,
                   case when p_current = 'LOW_LIQUIDITY' then 1 - p_policy.exit_margin else 1 end as low_liq,
                   case when p_current = 'HIGH_VOLATILITY' then 1 - p_policy.exit_margin else 1 end as high_vol,
                   case when p_current = 'TREND' then 1 - p_policy.exit_margin else 1 end as trend) f
    ) v
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
--! Included state/refresh_run_symbol_state.sql
-- The incremental refresh: fold the raw rows committed since the previous refresh into
-- the working set, rebuild the run's state, stamp one generation on it.
drop function if exists kapitaal.refresh_run_symbol_state(bigint, timestamptz);
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
  duration_ms numeric,
  symbols_recomputed integer
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
set work_mem = '64MB'
-- Every join here is between whole per-symbol sets of one run. On a fresh run the row estimates
-- are 1, and a nested loop then re-reads the run's previous state rows once per symbol (seen:
-- 125 k rows filtered for 500 symbols); hash joins cost the same at any estimate.
set enable_nestloop = off
-- One plan per statement and session: under the default mode the first five refreshes of a
-- session each plan the state upsert again (compose and regime inlined, ~15 ms each).
set plan_cache_mode = force_generic_plan
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
                               greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3), v_now) m;

  -- Buckets that left the longest window are never read again.
  delete from kapitaal.state_buckets b where b.run_id = p_run_id and b.bucket_start < v_from;
  get diagnostics buckets_deleted = row_count;

  -- Window caches the merge could not update by deltas (windows moved, late rows, new symbols).
  symbols_recomputed := kapitaal.state__window_cache_refresh(p_run_id, v_now, true);

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
    from kapitaal.state__compose_cached(p_run_id) c
    -- previous regime columns (hash join: see enable_nestloop above)
    left join kapitaal.run_symbol_state p on p.run_id = p_run_id and p.symbol = c.symbol
    -- offset 0: the indication is computed once per symbol; without it the inlined CASE would be
    -- copied into every reference regime__step and the insert make to ind.regime
    cross join lateral (select * from kapitaal.regime__indicate(c, p.regime, v_policy, v_now) offset 0) ind
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
  'with a new generation_id, records the generation in state_generations and returns the outcome (symbols_recomputed: '
  'symbols whose window aggregates were recomputed from their buckets instead of updated by deltas). Effective time is '
  'greatest(p_now, previous refresh time). Must run in READ COMMITTED.';
--! EndIncluded state/refresh_run_symbol_state.sql
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
revoke all on function kapitaal.state__window_cache_refresh(bigint, timestamptz, boolean) from public;

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
