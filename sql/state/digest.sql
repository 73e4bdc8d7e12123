-- The state digest: md5 over the run's rows as record text, every column but generation_id and
-- refreshed_at, in symbol order. Record text costs a fifth of to_jsonb per row; TimeZone and
-- DateStyle are pinned so both clusters render timestamps alike whatever the session says.
-- A column added to run_symbol_state must be added here (test/sql/state/digest.test.ts fails otherwise).
create or replace function kapitaal.run_symbol_state__digest(p_run_id bigint)
returns text
language sql
stable
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
as $$
  select md5(coalesce(string_agg(row(
           s.run_id, s.symbol, s.last_ticker_at, s.last_trade_at, s.last_l2_at, s.last_l3_at, s.book_source, s.best_bid,
           s.best_ask, s.mid, s.spread_bps, s.microprice, s.bid_depth_10bps_quote, s.ask_depth_10bps_quote,
           s.bid_depth_50bps_quote, s.ask_depth_50bps_quote, s.book_imbalance, s.book_valid, s.last_trade_price,
           s.l3_bid_touch_qty, s.l3_bid_touch_orders, s.l3_ask_touch_qty, s.l3_ask_touch_orders, s.l3_valid,
           s.l3_touch_churn_1m, s.ret_1m_bps, s.ret_5m_bps, s.vol_1m_bps, s.vol_5m_bps, s.trend_strength_5m,
           s.price_buckets_5m, s.trades_1m, s.trades_5m, s.quote_volume_1m, s.quote_volume_5m, s.buy_quote_volume_5m,
           s.l2_checksum_failures_1m, s.l2_checksum_failures_5m, s.l3_checksum_failures_1m, s.l2_resyncs_5m,
           s.trade_id_gaps_5m, s.regime, s.regime_since, s.regime_indicated, s.regime_reason, s.regime_candidate,
           s.regime_streak)::text, E'\n' order by s.symbol), ''))
    from kapitaal.run_symbol_state s
   where s.run_id = p_run_id
$$;
comment on function kapitaal.run_symbol_state__digest(bigint) is
  'md5 over the run''s run_symbol_state rows in symbol order, each as the record text of every column except '
  'generation_id and refreshed_at (timestamps in UTC, ISO). Equal digests mean equal state (numerics with their scale); '
  'state_generations records it per refresh so the decision cluster can verify a sync. Same function on both clusters.';
