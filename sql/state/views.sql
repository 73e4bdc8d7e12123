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
