-- L3 queue samples → buckets and latest (see source_ticker.sql).

create or replace function kapitaal.state__l3_buckets(p_run_id bigint, p_lo xid8, p_hi xid8, p_from timestamptz)
returns table (symbol text, bucket_start timestamptz, n integer, bad_n integer, touch_adds integer, touch_deletes integer)
language sql
stable
as $$
  select t.symbol,
         date_bin(kapitaal.state__bucket_width(), t.received_at, timestamptz '2000-01-01 00:00:00+00'),
         count(*)::integer,
         count(*) filter (where not t.checksum_ok)::integer,
         sum(t.touch_adds)::integer,
         sum(t.touch_deletes)::integer
    from kapitaal.l3_queue_metrics t
   where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi and t.received_at >= p_from
   group by 1, 2
$$;
comment on function kapitaal.state__l3_buckets(bigint, xid8, xid8, timestamptz) is
  'L3 samples of a run with txid in [p_lo, p_hi) and received_at >= p_from per symbol and 10-second bucket: counts, '
  'checksum failures and order flow at the touch.';

create or replace function kapitaal.state__l3_latest(p_run_id bigint, p_lo xid8, p_hi xid8)
returns table (symbol text, n integer, key numeric[], at timestamptz, checksum_ok boolean,
               bid_qty numeric, bid_orders integer, ask_qty numeric, ask_orders integer)
language sql
stable
as $$
  select x.symbol, x.n, x.k[1:2], x.at, x.k[3] = 1, x.k[4], x.k[5]::integer, x.k[6], x.k[7]::integer
    from (select t.symbol, count(*)::integer as n, max(t.received_at) as at,
                 max(array[extract(epoch from t.received_at), t.seq, t.checksum_ok::integer,
                           t.bid_qty[1], t.bid_orders[1], t.ask_qty[1], t.ask_orders[1]]) as k
            from kapitaal.l3_queue_metrics t
           where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi
           group by t.symbol) x
$$;
comment on function kapitaal.state__l3_latest(bigint, xid8, xid8) is
  'Per symbol: the number of L3 samples of a run with txid in [p_lo, p_hi) and the touch queue of the newest one.';
