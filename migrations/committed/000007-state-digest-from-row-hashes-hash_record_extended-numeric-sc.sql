--! Previous: sha1:80ab38eeeded7ce272550e0efb5230e3881fbfec
--! Hash: sha1:8b9121fb035c1718baf9cb982006c7a44b85daac
--! Message: State digest from row hashes (hash_record_extended + numeric scales) instead of record text

--! split: 1-current.sql
-- Enter migration here

--! split: 2-refresh.sql
--! Included state/digest.sql
-- The state digest: md5 over the run's rows in symbol order, each row as one 64-bit
-- hash_record_extended of every column but generation_id and refreshed_at, plus the scale of
-- every numeric column (numeric hashing ignores trailing zeros, but 1.5 and 1.50 are different
-- synced state). Hashing the row costs about half of rendering it as record text, and
-- timestamps hash by value, so the session's TimeZone/DateStyle cannot move it. Both clusters
-- run the same PostgreSQL binaries, so they hash alike.
-- A column added to run_symbol_state must be added here (test/sql/state/digest.test.ts fails otherwise).
create or replace function kapitaal.run_symbol_state__digest(p_run_id bigint)
returns text
language sql
stable
as $$
  select md5(coalesce(string_agg(hash_record_extended(row(
           s.run_id, s.symbol, s.last_ticker_at, s.last_trade_at, s.last_l2_at, s.last_l3_at, s.book_source, s.best_bid,
           s.best_ask, s.mid, s.spread_bps, s.microprice, s.bid_depth_10bps_quote, s.ask_depth_10bps_quote,
           s.bid_depth_50bps_quote, s.ask_depth_50bps_quote, s.book_imbalance, s.book_valid, s.last_trade_price,
           s.l3_bid_touch_qty, s.l3_bid_touch_orders, s.l3_ask_touch_qty, s.l3_ask_touch_orders, s.l3_valid,
           s.l3_touch_churn_1m, s.ret_1m_bps, s.ret_5m_bps, s.vol_1m_bps, s.vol_5m_bps, s.trend_strength_5m,
           s.price_buckets_5m, s.trades_1m, s.trades_5m, s.quote_volume_1m, s.quote_volume_5m, s.buy_quote_volume_5m,
           s.l2_checksum_failures_1m, s.l2_checksum_failures_5m, s.l3_checksum_failures_1m, s.l2_resyncs_5m,
           s.trade_id_gaps_5m, s.regime, s.regime_since, s.regime_indicated, s.regime_reason, s.regime_candidate,
           s.regime_streak,
           -- the scales of the numeric columns, in column order
           scale(s.best_bid), scale(s.best_ask), scale(s.mid), scale(s.spread_bps), scale(s.microprice),
           scale(s.bid_depth_10bps_quote), scale(s.ask_depth_10bps_quote), scale(s.bid_depth_50bps_quote),
           scale(s.ask_depth_50bps_quote), scale(s.book_imbalance), scale(s.last_trade_price), scale(s.l3_bid_touch_qty),
           scale(s.l3_ask_touch_qty), scale(s.ret_1m_bps), scale(s.ret_5m_bps),
           scale(s.vol_1m_bps), scale(s.vol_5m_bps), scale(s.trend_strength_5m), scale(s.quote_volume_1m),
           scale(s.quote_volume_5m), scale(s.buy_quote_volume_5m)), 0)::text, ',' order by s.symbol), ''))
    from kapitaal.run_symbol_state s
   where s.run_id = p_run_id
$$;
comment on function kapitaal.run_symbol_state__digest(bigint) is
  'md5 over the run''s run_symbol_state rows in symbol order, each as the 64-bit hash_record_extended (seed 0) of every '
  'column except generation_id and refreshed_at plus the scale of every numeric column. Equal digests mean equal state '
  '(numerics with their scale; a changed row goes unnoticed with probability 2^-64), independent of the session''s '
  'TimeZone and DateStyle. state_generations records it per refresh so the decision cluster can verify a sync. Same '
  'function on both clusters (same PostgreSQL binaries, so the same hash functions).';
--! EndIncluded state/digest.sql
