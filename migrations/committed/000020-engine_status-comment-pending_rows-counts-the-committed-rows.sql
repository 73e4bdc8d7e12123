--! Previous: sha1:35ef51c435c6bdfc16a9da11229a7b29eb3f6f28
--! Hash: sha1:0ae34c89cb0dc38b36de75eacc5bcb9b82796a84
--! Message: engine_status comment: pending_rows counts the committed rows the query sees

--! split: 1-current.sql
-- Enter migration here

--! split: 3-engine-status-comment.sql
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
  'read, duration), the refresh watermark and, for running runs, the committed raw rows above it that the reading '
  'query sees (pending_rows: what the next refresh will read; rows of transactions still open are not counted).';

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

-- Column comments (\d+ in psql). Intervals are now() (the reading transaction's start) minus a stored time.
comment on column kapitaal.engine_status.run_id is 'ingest_runs.run_id: the ingest run.';
comment on column kapitaal.engine_status.status is 'ingest_runs.status: running, ended, failed or abandoned.';
comment on column kapitaal.engine_status.started_at is 'ingest_runs.started_at: when ingest_run__start created the run.';
comment on column kapitaal.engine_status.heartbeat_at is 'ingest_runs.heartbeat_at: the run''s last sign of life.';
comment on column kapitaal.engine_status.heartbeat_age is 'now() - heartbeat_at (interval).';
comment on column kapitaal.engine_status.last_generation_id is
  'state_generations.generation_id of the run''s newest refresh (highest generation_id); null before the first refresh.';
comment on column kapitaal.engine_status.last_refreshed_at is
  'state_generations.refreshed_at of that refresh: its effective time (p_now).';
comment on column kapitaal.engine_status.refresh_lag is
  'now() - last_refreshed_at (interval): how old the run''s state is; grows while refreshes stall.';
comment on column kapitaal.engine_status.symbols is
  'state_generations.symbols of the newest refresh: run_symbol_state rows of the run after it.';
comment on column kapitaal.engine_status.last_symbols_changed is
  'state_generations.symbols_changed of the newest refresh: symbols with new raw rows in it.';
comment on column kapitaal.engine_status.last_rows_read is
  'Raw rows the newest refresh read: state_generations ticker_rows + trade_rows + l2_rows + l3_rows.';
comment on column kapitaal.engine_status.last_duration_ms is
  'state_generations.duration_ms of the newest refresh: its wall time in the database, milliseconds.';
comment on column kapitaal.engine_status.watermark is
  'Lowest state_refresh_watermarks.watermark of the run over its four raw tables (xid8): raw rows with txid below it '
  'are folded into the state. Null before the first refresh.';
comment on column kapitaal.engine_status.pending_rows is
  'Raw rows of the run (ticker, trade, L2, L3) with txid >= watermark that this query sees: what the next refresh will '
  'read. Counted only for running runs with a watermark, else null.';

comment on column kapitaal.route_freshness.run_id is 'The running ingest run (ingest_runs.run_id).';
comment on column kapitaal.route_freshness.symbol is 'run_symbol_state.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.route_freshness.route_type is
  'route_freshness_policy.route_type of an enabled route (taker_entry, maker_entry, exit).';
comment on column kapitaal.route_freshness.exec_allowed is
  'True when state_age and refresh_age are both at most max_state_age and the symbol has market data (marker '
  'ROUTE_FRESHNESS_OK); never null.';
comment on column kapitaal.route_freshness.state_age is
  'now() - data_at, at least 0 (interval): age of the symbol''s newest market data; null without any.';
comment on column kapitaal.route_freshness.refresh_age is
  'now() - run_symbol_state.refreshed_at, at least 0 (interval): age of the refresh that wrote the symbol''s row.';
comment on column kapitaal.route_freshness.max_state_age is
  'route_freshness_policy.max_state_age: the limit both ages are compared with (equal is still fresh).';
comment on column kapitaal.route_freshness.data_at is
  'greatest(run_symbol_state.last_l2_at, last_ticker_at): receive time of the symbol''s newest book or ticker data.';
comment on column kapitaal.route_freshness.generation_id is 'run_symbol_state.generation_id: the refresh that wrote the row.';
comment on column kapitaal.route_freshness.reason is
  'Verdict code and its numbers, the first that applies of NO_MARKET_DATA, REFRESH_STALE (refresh_age > max), '
  'STATE_AGE_EXCEEDS_MAX (state_age > max), else FRESH.';
comment on column kapitaal.route_freshness.marker is
  'Log marker: ROUTE_FRESHNESS_OK, ROUTE_FRESHNESS_STALE (market data too old) or ROUTE_EXECUTION_BLOCKED_STALE_DATA '
  '(no market data, or the refresh stalled).';

comment on column kapitaal.symbol_regimes.run_id is 'run_symbol_state.run_id: the ingest run.';
comment on column kapitaal.symbol_regimes.symbol is 'run_symbol_state.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.symbol_regimes.regime is
  'run_symbol_state.regime: effective regime after hysteresis; null while not established (treat as not ready).';
comment on column kapitaal.symbol_regimes.regime_since is 'run_symbol_state.regime_since: when the effective regime took effect.';
comment on column kapitaal.symbol_regimes.regime_indicated is
  'run_symbol_state.regime_indicated: what the data of the last refresh indicates, before hysteresis.';
comment on column kapitaal.symbol_regimes.regime_candidate is
  'run_symbol_state.regime_candidate: a regime other than the effective one being confirmed; null when none.';
comment on column kapitaal.symbol_regimes.regime_streak is
  'run_symbol_state.regime_streak: consecutive refreshes regime_candidate has been indicated; regime_policy.confirm_refreshes of them confirm it.';
comment on column kapitaal.symbol_regimes.regime_reason is
  'run_symbol_state.regime_reason: why regime_indicated, with the deciding numbers and thresholds.';
comment on column kapitaal.symbol_regimes.vol_1m_bps is
  'run_symbol_state.vol_1m_bps: realised volatility over 1 minute (sqrt of summed squared bucket returns), bps.';
comment on column kapitaal.symbol_regimes.vol_5m_bps is 'run_symbol_state.vol_5m_bps: realised volatility over 5 minutes, bps.';
comment on column kapitaal.symbol_regimes.ret_1m_bps is
  'run_symbol_state.ret_1m_bps: return over 1 minute (last bucket close / first bucket open - 1), bps.';
comment on column kapitaal.symbol_regimes.ret_5m_bps is 'run_symbol_state.ret_5m_bps: return over 5 minutes, bps.';
comment on column kapitaal.symbol_regimes.trend_strength_5m is
  'run_symbol_state.trend_strength_5m: signed efficiency ratio ret / sum |r| over 5 minutes in [-1, 1]; near ±1 a straight move.';
comment on column kapitaal.symbol_regimes.price_buckets_5m is
  'run_symbol_state.price_buckets_5m: 10-second buckets with a price in the last 5 minutes (of 30).';
comment on column kapitaal.symbol_regimes.spread_bps is
  'run_symbol_state.spread_bps: (best_ask - best_bid) / mid * 10000.';
comment on column kapitaal.symbol_regimes.min_depth_50bps_quote is
  'least(run_symbol_state.bid_depth_50bps_quote, ask_depth_50bps_quote): book depth within 50 bps of mid on the thinner '
  'side, quote currency.';
comment on column kapitaal.symbol_regimes.trades_5m is 'run_symbol_state.trades_5m: trades in the last 5 minutes.';
comment on column kapitaal.symbol_regimes.quote_volume_5m is
  'run_symbol_state.quote_volume_5m: sum of price * qty of the trades of the last 5 minutes, quote currency.';
comment on column kapitaal.symbol_regimes.book_valid is
  'run_symbol_state.book_valid: whether the newest L2 sample passed Kraken''s checksum (null: no L2 seen).';
comment on column kapitaal.symbol_regimes.l2_checksum_failures_1m is
  'run_symbol_state.l2_checksum_failures_1m: L2 samples failing the checksum in the last minute.';
comment on column kapitaal.symbol_regimes.l3_checksum_failures_1m is
  'run_symbol_state.l3_checksum_failures_1m: L3 samples failing the checksum in the last minute.';
comment on column kapitaal.symbol_regimes.trade_id_gaps_5m is
  'run_symbol_state.trade_id_gaps_5m: trade ids missing in the last 5 minutes (lost trades).';
comment on column kapitaal.symbol_regimes.data_at is
  'greatest(run_symbol_state.last_l2_at, last_ticker_at): receive time of the newest book or ticker data the figures rest on.';
comment on column kapitaal.symbol_regimes.generation_id is 'run_symbol_state.generation_id: the refresh that wrote the row.';
comment on column kapitaal.symbol_regimes.refreshed_at is 'run_symbol_state.refreshed_at: effective time (p_now) of that refresh.';
--! EndIncluded state/views.sql
