-- L2 book samples → buckets and latest (see source_ticker.sql).

create or replace function kapitaal.state__l2_buckets(p_run_id bigint, p_lo xid8, p_hi xid8, p_from timestamptz)
returns table (symbol text, bucket_start timestamptz, n integer, bad_n integer, snapshot_n integer,
               open_key numeric[], close_key numeric[])
language sql
stable
as $$
  select t.symbol,
         date_bin(kapitaal.state__bucket_width(), t.received_at, timestamptz '2000-01-01 00:00:00+00'),
         count(*)::integer,
         count(*) filter (where not t.checksum_ok)::integer,
         count(*) filter (where t.is_snapshot)::integer,
         min(array[extract(epoch from t.received_at), t.seq, (t.bid_px[1] + t.ask_px[1]) * 0.5])
           filter (where t.checksum_ok and t.bid_px[1] is not null and t.ask_px[1] is not null),
         max(array[extract(epoch from t.received_at), t.seq, (t.bid_px[1] + t.ask_px[1]) * 0.5])
           filter (where t.checksum_ok and t.bid_px[1] is not null and t.ask_px[1] is not null)
    from kapitaal.l2_snap_metrics t
   where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi and t.received_at >= p_from
   group by 1, 2
$$;
comment on function kapitaal.state__l2_buckets(bigint, xid8, xid8, timestamptz) is
  'L2 samples of a run with txid in [p_lo, p_hi) and received_at >= p_from per symbol and 10-second bucket: counts, '
  'checksum failures, snapshots, and the first/last valid mid.';

create or replace function kapitaal.state__l2_latest(p_run_id bigint, p_lo xid8, p_hi xid8)
returns table (symbol text, n integer, key numeric[], at timestamptz, checksum_ok boolean,
               best_bid numeric, best_ask numeric, bid_qty numeric, ask_qty numeric,
               bid_depth_10bps numeric, ask_depth_10bps numeric, bid_depth_50bps numeric, ask_depth_50bps numeric)
language sql
stable
as $$
  with r as (
    select t.symbol, t.received_at, t.seq, t.checksum_ok, t.bid_px, t.bid_qty, t.ask_px, t.ask_qty,
           count(*) over (partition by t.symbol) as n
      from kapitaal.l2_snap_metrics t
     where t.run_id = p_run_id and t.txid >= p_lo and t.txid < p_hi
  ), newest as (
    select distinct on (r.symbol) r.*
      from r
     order by r.symbol, r.received_at desc, r.seq desc
  )
  select x.symbol, x.n::integer, array[extract(epoch from x.received_at), x.seq], x.received_at, x.checksum_ok,
         x.bid_px[1], x.ask_px[1], x.bid_qty[1], x.ask_qty[1], bd.d10, ad.d10, bd.d50, ad.d50
    from newest x
    cross join lateral (select (x.bid_px[1] + x.ask_px[1]) * 0.5 as mid) m
    cross join lateral (
      select case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px >= m.mid * 0.9990), 0) end as d10,
             case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px >= m.mid * 0.9950), 0) end as d50
        from unnest(x.bid_px, x.bid_qty) as u(px, qty)) bd
    cross join lateral (
      select case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px <= m.mid * 1.0010), 0) end as d10,
             case when m.mid is not null then coalesce(sum(u.px * u.qty) filter (where u.px <= m.mid * 1.0050), 0) end as d50
        from unnest(x.ask_px, x.ask_qty) as u(px, qty)) ad
$$;
comment on function kapitaal.state__l2_latest(bigint, xid8, xid8) is
  'Per symbol: the number of L2 samples of a run with txid in [p_lo, p_hi) and the newest of them with its top of book '
  'and depth within 10 and 50 bps of its mid (null depths when a side is empty).';
