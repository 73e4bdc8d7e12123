-- Trade rows → buckets and latest (see source_ticker.sql).

create or replace function kapitaal.state__trade_buckets(p_run_id bigint, p_lo xid8, p_hi xid8, p_from timestamptz)
returns table (symbol text, bucket_start timestamptz, n integer, quote_volume numeric, buy_quote_volume numeric,
               min_id bigint, max_id bigint)
language sql
stable
as $$
  select t.symbol,
         date_bin(kapitaal.state__bucket_width(), t.received_at, timestamptz '2000-01-01 00:00:00+00'),
         count(*)::integer,
         sum(t.price * t.qty),
         coalesce(sum(t.price * t.qty) filter (where t.side = 'buy'), 0),
         min(t.trade_id),
         max(t.trade_id)
    from kapitaal.trade_samples t
   where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi and t.received_at >= p_from
   group by 1, 2
$$;
comment on function kapitaal.state__trade_buckets(bigint, xid8, xid8, timestamptz) is
  'Trades of a run with txid in [p_lo, p_hi) and received_at >= p_from, aggregated per symbol and 10-second bucket.';

create or replace function kapitaal.state__trade_latest(p_run_id bigint, p_lo xid8, p_hi xid8)
returns table (symbol text, n integer, key numeric[], at timestamptz, price numeric)
language sql
stable
as $$
  select x.symbol, x.n, x.k[1:2], x.at, x.k[3]
    from (select t.symbol, count(*)::integer as n, max(t.received_at) as at,
                 max(array[extract(epoch from t.received_at), t.seq, t.price]) as k
            from kapitaal.trade_samples t
           where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi
           group by t.symbol) x
$$;
comment on function kapitaal.state__trade_latest(bigint, xid8, xid8) is
  'Per symbol: the number of trades of a run with txid in [p_lo, p_hi) and the newest of them.';
