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
