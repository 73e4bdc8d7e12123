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
