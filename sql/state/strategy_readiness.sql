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
         coalesce(nullif(array_to_string(r.details, '; '), ''), 'ready'), s.generation_id
    from kapitaal.run_symbol_state s
   cross join kapitaal.strategy_readiness_policy p
   cross join lateral (
     select coalesce(array_agg(c.code order by c.ord) filter (where c.failed), '{}') as reasons,
            coalesce(array_agg(c.code || ': ' || c.why order by c.ord) filter (where c.failed), '{}') as details
       from (values
         (1, 'BOOK_MISSING', p.requires_book and s.last_l2_at is null, 'no L2 book'),
         (2, 'BOOK_INVALID', p.requires_book and s.last_l2_at is not null and s.book_valid is not true,
             'newest L2 sample failed its checksum'),
         (3, 'BOOK_STALE', p.requires_book and p_now - s.last_l2_at > p.max_book_age,
             format('book %s old > %s', p_now - s.last_l2_at, p.max_book_age)),
         (4, 'L3_MISSING', p.requires_l3 and (s.last_l3_at is null or s.l3_bid_touch_qty is null or s.l3_ask_touch_qty is null),
             'no L3 queue at the touch'),
         (5, 'L3_INVALID', p.requires_l3 and s.last_l3_at is not null and s.l3_valid is not true,
             'newest L3 sample failed its checksum'),
         (6, 'L3_STALE', p.requires_l3 and p_now - s.last_l3_at > p.max_l3_age,
             format('L3 %s old > %s', p_now - s.last_l3_at, p.max_l3_age)),
         (7, 'TICKER_MISSING', p.requires_ticker and s.last_ticker_at is null, 'no ticker'),
         (8, 'TICKER_STALE', p.requires_ticker and p_now - s.last_ticker_at > p.max_ticker_age,
             format('ticker %s old > %s', p_now - s.last_ticker_at, p.max_ticker_age)),
         (9, 'TRADES_MISSING', p.requires_trades and s.last_trade_at is null, 'no trade'),
         (10, 'TRADES_STALE', p.requires_trades and p_now - s.last_trade_at > p.max_trade_age,
             format('last trade %s ago > %s', p_now - s.last_trade_at, p.max_trade_age)),
         (11, 'TRADES_TOO_FEW_1M', s.trades_1m < p.min_trades_1m,
             format('%s trades in 1 m < %s', s.trades_1m, p.min_trades_1m)),
         (12, 'TRADES_TOO_FEW_5M', s.trades_5m < p.min_trades_5m,
             format('%s trades in 5 m < %s', s.trades_5m, p.min_trades_5m)),
         (13, 'TRADE_VOLUME_TOO_LOW', s.quote_volume_5m < p.min_quote_volume_5m,
             format('%s quote traded in 5 m < %s', s.quote_volume_5m, p.min_quote_volume_5m)),
         (14, 'PRICE_HISTORY_SHORT', s.price_buckets_5m < p.min_price_buckets_5m,
             format('%s price buckets in 5 m < %s', s.price_buckets_5m, p.min_price_buckets_5m))
       ) as c(ord, code, failed, why)
   ) r
   where s.run_id = p_run_id
   order by s.symbol, p.strategy
$$;
comment on function kapitaal.strategy_readiness(bigint, timestamptz) is
  'Per symbol and strategy (liquidity, momentum, volume) of a run: ready or not, with the reason codes and a readable '
  'detail. Rules and ages come from strategy_readiness_policy (age = max is still ready). Reads run_symbol_state only.';
