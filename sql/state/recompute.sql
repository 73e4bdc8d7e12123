create or replace function kapitaal.run_symbol_state__recompute(p_run_id bigint, p_now timestamptz default now())
returns setof kapitaal.run_symbol_state
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_scratch bigint := -p_run_id;
begin
  -- The working set is rebuilt from every committed raw row in one batch under a scratch
  -- key (the negated run id), with the per-purpose readers (not state__raw_pass) and every
  -- symbol's window aggregates from its buckets (never the delta path), composed like the
  -- refresh's rows, and removed.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.run_symbol_state__recompute', p_run_id));
  delete from state_buckets where run_id = v_scratch;
  delete from state_symbol_latest where run_id = v_scratch;
  insert into state_symbol_latest
    (run_id, symbol, ticker_key, ticker_at, ticker_bid, ticker_ask, trade_key, trade_at, trade_price,
     l2_key, l2_at, l2_checksum_ok, l2_best_bid, l2_best_ask, l2_bid_qty, l2_ask_qty,
     l2_bid_depth_10bps, l2_ask_depth_10bps, l2_bid_depth_50bps, l2_ask_depth_50bps,
     l3_key, l3_at, l3_checksum_ok, l3_bid_qty, l3_bid_orders, l3_ask_qty, l3_ask_orders)
  select v_scratch, x.symbol, x.ticker_key, x.ticker_at, x.ticker_bid, x.ticker_ask, x.trade_key, x.trade_at, x.trade_price,
         x.l2_key, x.l2_at, x.l2_checksum_ok, x.l2_best_bid, x.l2_best_ask, x.l2_bid_qty, x.l2_ask_qty,
         x.l2_bid_depth_10bps, x.l2_ask_depth_10bps, x.l2_bid_depth_50bps, x.l2_ask_depth_50bps,
         x.l3_key, x.l3_at, x.l3_checksum_ok, x.l3_bid_qty, x.l3_bid_orders, x.l3_ask_qty, x.l3_ask_orders
    from state__latest_between(p_run_id, '0', '0', '0', '0', state__max_xid8()) x;
  insert into state_buckets
  select v_scratch, b.symbol, b.bucket_start, b.ticker_n, b.ticker_open, b.ticker_close,
         b.trade_n, b.trade_quote_volume, b.trade_buy_quote_volume, b.trade_min_id, b.trade_max_id,
         b.l2_n, b.l2_bad_n, b.l2_snapshot_n, b.l2_open, b.l2_close,
         b.l3_n, b.l3_bad_n, b.l3_touch_adds, b.l3_touch_deletes
    from state__buckets_between(p_run_id, '0', '0', '0', '0', state__max_xid8(),
                                (select w.from_5m from state__windows(p_now) w)) b;
  perform state__window_cache_refresh(v_scratch, p_now, false);
  return query
    select (jsonb_populate_record(c, jsonb_build_object('run_id', p_run_id))).*
      from state__compose_cached(v_scratch) c;
  delete from state_buckets where run_id = v_scratch;
  delete from state_symbol_latest where run_id = v_scratch;
end
$$;
comment on function kapitaal.run_symbol_state__recompute(bigint, timestamptz) is
  'Test oracle and audit tool: the run''s state recomputed from scratch at p_now from every committed raw row (full '
  'scan of the run''s partitions, no watermarks, one batch instead of many merges, window aggregates of every symbol '
  'from its buckets instead of the delta path), composed under a scratch key and '
  'removed again. Metric columns must equal those the incremental refresh left at the same p_now; generation and '
  'regime columns are null (the regime depends on the history of refreshes). O(run size): never on the hot path.';

create or replace function kapitaal.run_symbol_state__metrics(p_state kapitaal.run_symbol_state)
returns jsonb
language sql
immutable
as $$
  select to_jsonb(p_state) - array['run_id', 'generation_id', 'refreshed_at', 'regime', 'regime_since', 'regime_indicated',
                                   'regime_reason', 'regime_candidate', 'regime_streak']
$$;
comment on function kapitaal.run_symbol_state__metrics(kapitaal.run_symbol_state) is
  'The market-data columns of a state row as jsonb (without run, generation and regime): what the recomputation oracle compares.';
