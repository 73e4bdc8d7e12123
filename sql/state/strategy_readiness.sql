create or replace function kapitaal.strategy_readiness(p_run_id bigint, p_now timestamptz default now())
returns table (
  run_id bigint,
  symbol text,
  strategy text,
  ready boolean,
  reasons text[],
  detail text,
  generation_id bigint
)
language sql
stable
as $$
  select s.run_id, s.symbol, p.strategy, cardinality(r.reasons) = 0, r.reasons,
         coalesce(nullif(array_to_string(d.details, '; '), ''), 'ready'), s.generation_id
    from kapitaal.run_symbol_state s
   cross join kapitaal.strategy_readiness_policy p
   -- One CASE per check, in a fixed order; a check that passes yields null and is removed.
   -- (A VALUES list per symbol and strategy, sorted and aggregated, cost 15x more.)
   cross join lateral (
     select array_remove(array[
       case when p.requires_book and s.last_l2_at is null then 'BOOK_MISSING: no L2 book' end,
       case when p.requires_book and s.last_l2_at is not null and s.book_valid is not true
            then 'BOOK_INVALID: newest L2 sample failed its checksum' end,
       case when p.requires_book and p_now - s.last_l2_at > p.max_book_age
            then format('BOOK_STALE: book %s old > %s', p_now - s.last_l2_at, p.max_book_age) end,
       case when p.requires_l3 and (s.last_l3_at is null or s.l3_bid_touch_qty is null or s.l3_ask_touch_qty is null)
            then 'L3_MISSING: no L3 queue at the touch' end,
       case when p.requires_l3 and s.last_l3_at is not null and s.l3_valid is not true
            then 'L3_INVALID: newest L3 sample failed its checksum' end,
       case when p.requires_l3 and p_now - s.last_l3_at > p.max_l3_age
            then format('L3_STALE: L3 %s old > %s', p_now - s.last_l3_at, p.max_l3_age) end,
       case when p.requires_ticker and s.last_ticker_at is null then 'TICKER_MISSING: no ticker' end,
       case when p.requires_ticker and p_now - s.last_ticker_at > p.max_ticker_age
            then format('TICKER_STALE: ticker %s old > %s', p_now - s.last_ticker_at, p.max_ticker_age) end,
       case when p.requires_trades and s.last_trade_at is null then 'TRADES_MISSING: no trade' end,
       case when p.requires_trades and p_now - s.last_trade_at > p.max_trade_age
            then format('TRADES_STALE: last trade %s ago > %s', p_now - s.last_trade_at, p.max_trade_age) end,
       case when s.trades_1m < p.min_trades_1m
            then format('TRADES_TOO_FEW_1M: %s trades in 1 m < %s', s.trades_1m, p.min_trades_1m) end,
       case when s.trades_5m < p.min_trades_5m
            then format('TRADES_TOO_FEW_5M: %s trades in 5 m < %s', s.trades_5m, p.min_trades_5m) end,
       case when s.quote_volume_5m < p.min_quote_volume_5m
            then format('TRADE_VOLUME_TOO_LOW: %s quote traded in 5 m < %s', s.quote_volume_5m, p.min_quote_volume_5m) end,
       case when s.price_buckets_5m < p.min_price_buckets_5m
            then format('PRICE_HISTORY_SHORT: %s price buckets in 5 m < %s', s.price_buckets_5m, p.min_price_buckets_5m) end
     ]::text[], null) as details
   ) d
   -- the reason code is the part of each detail before its colon
   cross join lateral (
     select array(select split_part(x.t, ':', 1) from unnest(d.details) with ordinality x(t, i) order by x.i) as reasons
   ) r
   where s.run_id = p_run_id
   order by s.symbol, p.strategy
$$;
comment on function kapitaal.strategy_readiness(bigint, timestamptz) is
  'Per symbol and strategy (liquidity, momentum, volume) of a run: ready or not, with the reason codes and a readable '
  'detail. Rules and ages come from strategy_readiness_policy (age = max is still ready). Reads run_symbol_state only.';
