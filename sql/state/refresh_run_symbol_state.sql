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
  symbols_recomputed integer,
  symbols_moved integer
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
-- session each plan the state MERGE again (compose and regime inlined, ~15 ms each).
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

  -- Every transaction of this database below the horizon has finished: its rows are final and
  -- visible to every later statement. Rows of transactions still running stay for the next refresh.
  v_hi := kapitaal.raw_txid_horizon();
  v_now := greatest(p_now, v_prev_now);
  v_from := (select w.from_5m from kapitaal.state__windows(v_now) w);
  v_gen := nextval('kapitaal.state_generation_seq');
  select * into v_policy from kapitaal.regime_policy where policy = 'default';

  -- Windows that moved by a few buckets since the caches were computed: subtract what left them
  -- (before the merge, whose delta path then applies to the moved caches; the buckets that left
  -- are still there to subtract).
  -- Skipped while bucket_now is the previous refresh's: every cache is then valid for it already.
  symbols_moved := 0;
  if (select w.bucket_now from kapitaal.state__windows(v_prev_now) w)
     is distinct from (select w.bucket_now from kapitaal.state__windows(v_now) w) then
    symbols_moved := kapitaal.state__window_advance(p_run_id, v_now);
  end if;

  select m.ticker_rows, m.trade_rows, m.l2_rows, m.l3_rows, m.symbols_changed
    into ticker_rows, trade_rows, l2_rows, l3_rows, symbols_changed
    from kapitaal.state__merge(p_run_id, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3,
                               greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3), v_now) m;

  -- Buckets that left the longest window are never read again.
  delete from kapitaal.state_buckets b where b.run_id = p_run_id and b.bucket_start < v_from;
  get diagnostics buckets_deleted = row_count;

  -- Window caches neither moved nor updated by deltas (windows moved further or in a way the
  -- subtraction cannot prove exact, late or future rows, new symbols).
  symbols_recomputed := kapitaal.state__window_cache_refresh(p_run_id, v_now, true);

  -- MERGE, not INSERT … ON CONFLICT: the existing rows are matched by one hash join instead of a
  -- conflict probe and a tuple lock (an extra WAL record) per row before each update.
  merge into kapitaal.run_symbol_state as s
  using (
    select c.run_id, c.symbol, v_gen as generation_id, v_now as refreshed_at, c.last_ticker_at, c.last_trade_at,
           c.last_l2_at, c.last_l3_at, c.book_source, c.best_bid, c.best_ask, c.mid, c.spread_bps, c.microprice,
           c.bid_depth_10bps_quote, c.ask_depth_10bps_quote, c.bid_depth_50bps_quote, c.ask_depth_50bps_quote,
           c.book_imbalance, c.book_valid, c.last_trade_price, c.l3_bid_touch_qty, c.l3_bid_touch_orders,
           c.l3_ask_touch_qty, c.l3_ask_touch_orders, c.l3_valid, c.l3_touch_churn_1m, c.ret_1m_bps, c.ret_5m_bps,
           c.vol_1m_bps, c.vol_5m_bps, c.trend_strength_5m, c.price_buckets_5m, c.trades_1m, c.trades_5m,
           c.quote_volume_1m, c.quote_volume_5m, c.buy_quote_volume_5m, c.l2_checksum_failures_1m,
           c.l2_checksum_failures_5m, c.l3_checksum_failures_1m, c.l2_resyncs_5m, c.trade_id_gaps_5m, st.regime,
           st.since as regime_since, ind.regime as regime_indicated, ind.reason as regime_reason,
           st.candidate as regime_candidate, st.streak as regime_streak
      from kapitaal.state__compose_cached(p_run_id) c
      -- previous regime columns (hash join: see enable_nestloop above)
      left join kapitaal.run_symbol_state p on p.run_id = p_run_id and p.symbol = c.symbol
      -- offset 0: the indication is computed once per symbol; without it the inlined CASE would be
      -- copied into every reference regime__step and the insert make to ind.regime
      cross join lateral (select * from kapitaal.regime__indicate(c, p.regime, v_policy, v_now) offset 0) ind
      cross join lateral kapitaal.regime__step(p.regime, p.regime_since, p.regime_candidate, p.regime_streak,
                                               ind.regime, v_policy, v_now) st
  ) as n
  on s.run_id = p_run_id and s.symbol = n.symbol
  when matched then update set
    generation_id = n.generation_id, refreshed_at = n.refreshed_at, last_ticker_at = n.last_ticker_at,
    last_trade_at = n.last_trade_at, last_l2_at = n.last_l2_at, last_l3_at = n.last_l3_at,
    book_source = n.book_source, best_bid = n.best_bid, best_ask = n.best_ask, mid = n.mid,
    spread_bps = n.spread_bps, microprice = n.microprice, bid_depth_10bps_quote = n.bid_depth_10bps_quote,
    ask_depth_10bps_quote = n.ask_depth_10bps_quote, bid_depth_50bps_quote = n.bid_depth_50bps_quote,
    ask_depth_50bps_quote = n.ask_depth_50bps_quote, book_imbalance = n.book_imbalance, book_valid = n.book_valid,
    last_trade_price = n.last_trade_price, l3_bid_touch_qty = n.l3_bid_touch_qty,
    l3_bid_touch_orders = n.l3_bid_touch_orders, l3_ask_touch_qty = n.l3_ask_touch_qty,
    l3_ask_touch_orders = n.l3_ask_touch_orders, l3_valid = n.l3_valid, l3_touch_churn_1m = n.l3_touch_churn_1m,
    ret_1m_bps = n.ret_1m_bps, ret_5m_bps = n.ret_5m_bps, vol_1m_bps = n.vol_1m_bps, vol_5m_bps = n.vol_5m_bps,
    trend_strength_5m = n.trend_strength_5m, price_buckets_5m = n.price_buckets_5m, trades_1m = n.trades_1m,
    trades_5m = n.trades_5m, quote_volume_1m = n.quote_volume_1m, quote_volume_5m = n.quote_volume_5m,
    buy_quote_volume_5m = n.buy_quote_volume_5m, l2_checksum_failures_1m = n.l2_checksum_failures_1m,
    l2_checksum_failures_5m = n.l2_checksum_failures_5m, l3_checksum_failures_1m = n.l3_checksum_failures_1m,
    l2_resyncs_5m = n.l2_resyncs_5m, trade_id_gaps_5m = n.trade_id_gaps_5m, regime = n.regime,
    regime_since = n.regime_since, regime_indicated = n.regime_indicated, regime_reason = n.regime_reason,
    regime_candidate = n.regime_candidate, regime_streak = n.regime_streak
  when not matched then insert values (
    n.run_id, n.symbol, n.generation_id, n.refreshed_at, n.last_ticker_at, n.last_trade_at, n.last_l2_at,
    n.last_l3_at, n.book_source, n.best_bid, n.best_ask, n.mid, n.spread_bps, n.microprice, n.bid_depth_10bps_quote,
    n.ask_depth_10bps_quote, n.bid_depth_50bps_quote, n.ask_depth_50bps_quote, n.book_imbalance, n.book_valid,
    n.last_trade_price, n.l3_bid_touch_qty, n.l3_bid_touch_orders, n.l3_ask_touch_qty, n.l3_ask_touch_orders,
    n.l3_valid, n.l3_touch_churn_1m, n.ret_1m_bps, n.ret_5m_bps, n.vol_1m_bps, n.vol_5m_bps, n.trend_strength_5m,
    n.price_buckets_5m, n.trades_1m, n.trades_5m, n.quote_volume_1m, n.quote_volume_5m, n.buy_quote_volume_5m,
    n.l2_checksum_failures_1m, n.l2_checksum_failures_5m, n.l3_checksum_failures_1m, n.l2_resyncs_5m,
    n.trade_id_gaps_5m, n.regime, n.regime_since, n.regime_indicated, n.regime_reason, n.regime_candidate,
    n.regime_streak);
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
  'with txid in [watermark, raw_txid_horizon()) per table, so a row is folded in once, after its transaction finished, '
  'however late it commits. Cost: O(new rows + buckets in the 5-minute window + symbols). Rewrites all rows of the run '
  'with a new generation_id, records the generation in state_generations and returns the outcome (symbols_recomputed: '
  'symbols whose window aggregates were recomputed from their buckets instead of updated by deltas; symbols_moved: '
  'symbols whose windows moved by subtraction, state__window_advance). Effective time is '
  'greatest(p_now, previous refresh time). Must run in READ COMMITTED.';
