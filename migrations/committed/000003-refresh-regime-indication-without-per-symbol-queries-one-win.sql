--! Previous: sha1:e42bfa1a6172b48da55a70e2c918d4d795bd5cf3
--! Hash: sha1:d65ac69a8705e146326c0b5cd66b81a2bfa4bc81
--! Message: refresh: regime indication without per-symbol queries, one window pass, hash join to previous regimes

--! split: 1-current.sql
--! Included state/compose.sql
-- Builds the metric columns of run_symbol_state for a run from its working set: the newest
-- rows (state_symbol_latest) and the buckets of the rolling windows (state_buckets), in one
-- pass over the window's buckets in (symbol, bucket_start) order.

create or replace function kapitaal.state__compose(p_run_id bigint, p_now timestamptz)
returns setof kapitaal.run_symbol_state
language sql
stable
as $$
  with bounds as materialized (
    select * from kapitaal.state__windows(p_now)
  ), b as (
    select s.symbol, s.bucket_start, s.bucket_start >= bo.from_1m as in_1m,
           s.trade_n, s.trade_quote_volume, s.trade_buy_quote_volume, s.trade_min_id, s.trade_max_id,
           s.l2_bad_n, s.l2_snapshot_n, s.l3_bad_n, s.l3_touch_adds + s.l3_touch_deletes as touch,
           -- the price path: first and last mid of the bucket, from valid L2 books, else from the ticker
           nullif(case when s.l2_close is not null then s.l2_open[3] else s.ticker_open[3] end, 0) as p_open,
           nullif(case when s.l2_close is not null then s.l2_close[3] else s.ticker_close[3] end, 0) as p_close
      from bounds bo
      join kapitaal.state_buckets s
        on s.run_id = p_run_id and s.bucket_start >= bo.from_5m and s.bucket_start <= bo.bucket_now
  ), wdw as (
    select b.*,
           lag(b.p_close) over win as prev_close,
           lag(b.bucket_start) over win as prev_start,
           count(b.p_close) over win as n_upto,
           count(b.p_close) filter (where b.in_1m) over win as n1_upto
      from b
    window win as (partition by b.symbol order by b.bucket_start)
  ), r as (
    -- Return of a priced bucket: from the previous bucket's close, or from its own open when
    -- it is the first bucket of the window or follows a bucket without a price.
    select w.*,
           case when w.p_close is not null then coalesce(w.p_close / w.prev_close, w.p_close / w.p_open) - 1 end as r5,
           case when w.p_close is not null and w.in_1m then
             coalesce(case when w.prev_start >= (select from_1m from bounds) then w.p_close / w.prev_close end,
                      w.p_close / w.p_open) - 1
           end as r1
      from wdw w
  ), ag as (
    select r.symbol,
           count(r.p_close)::integer as n5,
           max(r.p_open) filter (where r.p_close is not null and r.n_upto = 1) as open5,
           max(r.p_open) filter (where r.p_close is not null and r.in_1m and r.n1_upto = 1) as open1,
           -- close of the last priced bucket: bucket_start is unique per symbol, so the array
           -- comparison is decided by the epoch (no second window pass over the partition)
           (max(array[extract(epoch from r.bucket_start), r.p_close]) filter (where r.p_close is not null))[2] as close_last,
           bool_or(r.p_close is not null and r.in_1m) as priced_1m,
           sum(r.r5 * r.r5) as ss5,
           sum(abs(r.r5)) as sa5,
           sum(r.r1 * r.r1) as ss1,
           coalesce(sum(r.trade_n) filter (where r.in_1m), 0)::integer as trades_1m,
           sum(r.trade_n)::integer as trades_5m,
           coalesce(sum(r.trade_quote_volume) filter (where r.in_1m), 0) as qv_1m,
           sum(r.trade_quote_volume) as qv_5m,
           sum(r.trade_buy_quote_volume) as buy_qv_5m,
           min(r.trade_min_id) as min_id,
           max(r.trade_max_id) as max_id,
           coalesce(sum(r.l2_bad_n) filter (where r.in_1m), 0)::integer as l2_bad_1m,
           sum(r.l2_bad_n)::integer as l2_bad_5m,
           sum(r.l2_snapshot_n)::integer as l2_snap_5m,
           coalesce(sum(r.l3_bad_n) filter (where r.in_1m), 0)::integer as l3_bad_1m,
           coalesce(sum(r.touch) filter (where r.in_1m), 0)::integer as touch_churn_1m
      from r
     group by r.symbol
  ), q as (
    select l.*,
           l.l2_best_bid is not null and l.l2_best_ask is not null as has_l2,
           case when l.l2_best_bid is not null and l.l2_best_ask is not null then l.l2_best_bid else l.ticker_bid end as bid,
           case when l.l2_best_bid is not null and l.l2_best_ask is not null then l.l2_best_ask else l.ticker_ask end as ask
      from kapitaal.state_symbol_latest l
     where l.run_id = p_run_id
  )
  select p_run_id, q.symbol, null::bigint, null::timestamptz,
         q.ticker_at, q.trade_at, q.l2_at, q.l3_at,
         case when q.has_l2 then 'l2' when q.bid is not null and q.ask is not null then 'ticker' end,
         q.bid, q.ask, (q.bid + q.ask) * 0.5,
         round((q.ask - q.bid) / nullif((q.bid + q.ask) * 0.5, 0) * 10000, 4),
         round((q.l2_best_bid * q.l2_ask_qty + q.l2_best_ask * q.l2_bid_qty) / nullif(q.l2_bid_qty + q.l2_ask_qty, 0), 12),
         q.l2_bid_depth_10bps, q.l2_ask_depth_10bps, q.l2_bid_depth_50bps, q.l2_ask_depth_50bps,
         round((q.l2_bid_depth_50bps - q.l2_ask_depth_50bps) / nullif(q.l2_bid_depth_50bps + q.l2_ask_depth_50bps, 0), 6),
         q.l2_checksum_ok,
         q.trade_price,
         q.l3_bid_qty, q.l3_bid_orders, q.l3_ask_qty, q.l3_ask_orders, q.l3_checksum_ok,
         coalesce(ag.touch_churn_1m, 0),
         case when ag.priced_1m then round((ag.close_last / ag.open1 - 1) * 10000, 4) end,
         round((ag.close_last / ag.open5 - 1) * 10000, 4),
         round(sqrt(ag.ss1) * 10000, 4),
         round(sqrt(ag.ss5) * 10000, 4),
         case when ag.sa5 > 0 then round(greatest(-1, least(1, (ag.close_last / ag.open5 - 1) / ag.sa5)), 4)
              when ag.n5 > 0 then 0 end,
         coalesce(ag.n5, 0),
         coalesce(ag.trades_1m, 0), coalesce(ag.trades_5m, 0),
         coalesce(ag.qv_1m, 0), coalesce(ag.qv_5m, 0), coalesce(ag.buy_qv_5m, 0),
         coalesce(ag.l2_bad_1m, 0), coalesce(ag.l2_bad_5m, 0), coalesce(ag.l3_bad_1m, 0), coalesce(ag.l2_snap_5m, 0),
         coalesce(greatest(0, ag.max_id - ag.min_id + 1 - ag.trades_5m), 0)::integer,
         null::text, null::timestamptz, null::text, null::text, null::text, 0
    from q
    left join ag on ag.symbol = q.symbol
$$;
comment on function kapitaal.state__compose(bigint, timestamptz) is
  'The metric columns of run_symbol_state for every symbol of a run at p_now (generation and regime columns null), '
  'from state_symbol_latest and the state_buckets inside the windows (see state__windows). Cost: O(symbols + buckets '
  'in the 5-minute window).';
--! EndIncluded state/compose.sql
--! Included state/regime.sql
-- Regime per pair: what the data of one refresh indicates, and the hysteresis that turns
-- indications into the effective regime.

create or replace function kapitaal.regime__indicate(
  p_state kapitaal.run_symbol_state,
  p_current text,
  p_policy kapitaal.regime_policy,
  p_now timestamptz
)
returns table (regime text, reason text)
language plpgsql
immutable
as $$
declare
  -- thresholds that keep the current regime are relaxed by the exit margin (hysteresis band)
  v_keep numeric := 1 - p_policy.exit_margin;
  v_age interval := p_now - greatest(p_state.last_l2_at, p_state.last_ticker_at);
  v_f numeric;
  v_min_depth numeric := least(p_state.bid_depth_50bps_quote, p_state.ask_depth_50bps_quote);
begin
  -- CHAOS: missing, stale or corrupt data first; a confident regime needs trustworthy data.
  if p_state.mid is null then
    regime := 'CHAOS'; reason := 'NO_BOOK: no L2 book or ticker quote';
    return next; return;
  end if;
  if p_state.last_l2_at is null or p_state.book_source is distinct from 'l2' then
    regime := 'CHAOS'; reason := 'NO_L2_BOOK: depth and spread unknown without a two-sided L2 book';
    return next; return;
  end if;
  if p_state.book_valid is not true then
    regime := 'CHAOS'; reason := 'BOOK_INVALID: newest L2 sample failed its checksum';
    return next; return;
  end if;
  if v_age > p_policy.chaos_max_data_age then
    regime := 'CHAOS'; reason := format('DATA_STALE: newest L2/ticker data %s old > %s', v_age, p_policy.chaos_max_data_age);
    return next; return;
  end if;
  if p_state.l2_checksum_failures_1m + p_state.l3_checksum_failures_1m >= p_policy.chaos_checksum_failures_1m then
    regime := 'CHAOS'; reason := format('CHECKSUM_FAILURES: %s L2 + %s L3 checksum failures in 1 m >= %s',
      p_state.l2_checksum_failures_1m, p_state.l3_checksum_failures_1m, p_policy.chaos_checksum_failures_1m);
    return next; return;
  end if;
  if p_state.trade_id_gaps_5m >= p_policy.chaos_trade_id_gaps_5m then
    regime := 'CHAOS'; reason := format('TRADE_GAPS: %s trade ids missing in 5 m >= %s',
      p_state.trade_id_gaps_5m, p_policy.chaos_trade_id_gaps_5m);
    return next; return;
  end if;
  if p_state.price_buckets_5m < p_policy.min_price_buckets_5m then
    regime := 'CHAOS'; reason := format('INSUFFICIENT_HISTORY: %s price buckets in 5 m < %s',
      p_state.price_buckets_5m, p_policy.min_price_buckets_5m);
    return next; return;
  end if;
  v_f := case when p_current = 'CHAOS' then v_keep else 1 end;
  if p_state.vol_1m_bps >= p_policy.chaos_vol_1m_bps * v_f then
    regime := 'CHAOS'; reason := format('EXTREME_VOLATILITY: vol_1m %s bps >= %s', p_state.vol_1m_bps,
      round(p_policy.chaos_vol_1m_bps * v_f, 4));
    return next; return;
  end if;

  -- LOW_LIQUIDITY
  v_f := case when p_current = 'LOW_LIQUIDITY' then v_keep else 1 end;
  if p_state.spread_bps >= p_policy.low_liq_max_spread_bps * v_f then
    regime := 'LOW_LIQUIDITY'; reason := format('WIDE_SPREAD: spread %s bps >= %s', p_state.spread_bps,
      round(p_policy.low_liq_max_spread_bps * v_f, 4));
    return next; return;
  end if;
  if coalesce(v_min_depth, 0) < p_policy.low_liq_min_depth_50bps_quote / v_f then
    regime := 'LOW_LIQUIDITY'; reason := format('THIN_BOOK: thinner side %s quote within 50 bps < %s',
      coalesce(v_min_depth, 0), round(p_policy.low_liq_min_depth_50bps_quote / v_f, 4));
    return next; return;
  end if;
  if p_state.trades_5m < p_policy.low_liq_min_trades_5m / v_f then
    regime := 'LOW_LIQUIDITY'; reason := format('FEW_TRADES: %s trades in 5 m < %s', p_state.trades_5m,
      round(p_policy.low_liq_min_trades_5m / v_f, 4));
    return next; return;
  end if;

  -- HIGH_VOLATILITY
  v_f := case when p_current = 'HIGH_VOLATILITY' then v_keep else 1 end;
  if p_state.vol_5m_bps >= p_policy.high_vol_vol_5m_bps * v_f then
    regime := 'HIGH_VOLATILITY'; reason := format('vol_5m %s bps >= %s', p_state.vol_5m_bps,
      round(p_policy.high_vol_vol_5m_bps * v_f, 4));
    return next; return;
  end if;

  -- TREND
  v_f := case when p_current = 'TREND' then v_keep else 1 end;
  if abs(p_state.trend_strength_5m) >= p_policy.trend_min_strength * v_f
     and abs(p_state.ret_5m_bps) >= p_policy.trend_min_abs_ret_5m_bps * v_f then
    regime := 'TREND'; reason := format('trend_strength_5m %s (|.| >= %s), ret_5m %s bps (|.| >= %s)',
      p_state.trend_strength_5m, round(p_policy.trend_min_strength * v_f, 4),
      p_state.ret_5m_bps, round(p_policy.trend_min_abs_ret_5m_bps * v_f, 4));
    return next; return;
  end if;

  regime := 'RANGE'; reason := format('vol_5m %s bps, trend_strength_5m %s, ret_5m %s bps, spread %s bps',
    p_state.vol_5m_bps, p_state.trend_strength_5m, p_state.ret_5m_bps, p_state.spread_bps);
  return next;
end
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
--! Included state/digest.sql
create or replace function kapitaal.run_symbol_state__digest(p_run_id bigint)
returns text
language sql
stable
as $$
  select md5(coalesce(string_agg((to_jsonb(s) - '{generation_id,refreshed_at}'::text[])::text, E'\n' order by s.symbol), ''))
    from kapitaal.run_symbol_state s
   where s.run_id = p_run_id
$$;
comment on function kapitaal.run_symbol_state__digest(bigint) is
  'md5 over the run''s run_symbol_state rows in symbol order, as jsonb without generation_id and refreshed_at. '
  'Equal digests mean equal state; state_generations records it per refresh so the decision cluster can verify a sync.';
--! EndIncluded state/digest.sql
--! Included state/refresh_run_symbol_state.sql
-- The incremental refresh: fold the raw rows committed since the previous refresh into
-- the working set, rebuild the run's state, stamp one generation on it.
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
  duration_ms numeric
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
set work_mem = '64MB'
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
                               greatest(v_hi, v_lo_ticker, v_lo_trade, v_lo_l2, v_lo_l3), v_from) m;

  -- Buckets that left the longest window are never read again.
  delete from kapitaal.state_buckets b where b.run_id = p_run_id and b.bucket_start < v_from;
  get diagnostics buckets_deleted = row_count;

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
    from kapitaal.state__compose(p_run_id, v_now) c
    -- previous regime columns; as a plain join on the whole row the tiny row estimate of
    -- state__compose gave a nested loop re-reading all of the run's rows per symbol
    left join lateral (select p.regime, p.regime_since, p.regime_candidate, p.regime_streak
                         from kapitaal.run_symbol_state p
                        where p.run_id = p_run_id and p.symbol = c.symbol) p on true
    cross join lateral kapitaal.regime__indicate(c, p.regime, v_policy, v_now) ind
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
  'with a new generation_id, records the generation in state_generations and returns the outcome. Effective time is '
  'greatest(p_now, previous refresh time). Must run in READ COMMITTED.';
--! EndIncluded state/refresh_run_symbol_state.sql
