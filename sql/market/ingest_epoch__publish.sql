create or replace function kapitaal.ingest_epoch__publish(
  p_run_id bigint,
  p_now timestamptz default now(),
  p_fresh_within interval default interval '10 seconds'
)
returns kapitaal.ingest_epochs
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_prev kapitaal.ingest_epochs;
  v_from xid8;
  v_to xid8;
  v_epoch kapitaal.ingest_epochs;
begin
  if not exists (select 1 from ingest_runs r where r.run_id = p_run_id) then
    raise exception 'ingest_epoch__publish: no ingest run %', p_run_id using errcode = 'P0002';
  end if;
  -- Epochs of one run are numbered without gaps: one publisher at a time.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_epoch__publish', p_run_id));
  select * into v_prev from ingest_epochs e where e.run_id = p_run_id order by e.epoch desc limit 1;
  v_from := coalesce(v_prev.txid_horizon, '0'::xid8);
  -- Taken after the lock: every transaction below this id has finished, so rows in [v_from, v_to) are final.
  v_to := greatest(kapitaal.raw_txid_horizon(), v_from);

  with delta as (
    select t.symbol, 'ticker'::text as ch, count(*) as n, max(t.received_at) as last_at, max(t.seq) as max_seq,
           0::bigint as upd, null::boolean as ok
      from ticker_samples t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
    union all
    select t.symbol, 'trade', count(*), max(t.received_at), max(t.seq), 0, null
      from trade_samples t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
    union all
    select t.symbol, 'l2', count(*), max(t.received_at), max(t.seq), sum(t.updates_applied),
           (array_agg(t.checksum_ok order by t.received_at desc, t.seq desc))[1]
      from l2_snap_metrics t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
    union all
    select t.symbol, 'l3', count(*), max(t.received_at), max(t.seq), 0,
           (array_agg(t.checksum_ok order by t.received_at desc, t.seq desc))[1]
      from l3_queue_metrics t
     where t.run_id = p_run_id and t.txid >= v_from and t.txid < v_to
     group by t.symbol
  ),
  per_symbol as (
    select d.symbol,
           coalesce(sum(d.n) filter (where d.ch = 'ticker'), 0) as ticker_n,
           coalesce(sum(d.n) filter (where d.ch = 'trade'), 0) as trade_n,
           coalesce(sum(d.n) filter (where d.ch = 'l2'), 0) as l2_n,
           coalesce(sum(d.upd) filter (where d.ch = 'l2'), 0) as l2_upd,
           coalesce(sum(d.n) filter (where d.ch = 'l3'), 0) as l3_n,
           max(d.last_at) filter (where d.ch = 'ticker') as ticker_at,
           max(d.last_at) filter (where d.ch = 'trade') as trade_at,
           max(d.last_at) filter (where d.ch = 'l2') as l2_at,
           max(d.last_at) filter (where d.ch = 'l3') as l3_at,
           bool_and(d.ok) filter (where d.ch = 'l2') as l2_ok,
           bool_and(d.ok) filter (where d.ch = 'l3') as l3_ok
      from delta d
     group by d.symbol
  ),
  prev as (
    select s.* from ingest_snapshots s where s.run_id = p_run_id and s.epoch = v_prev.epoch
  ),
  pairs as (
    select rp.symbol, rp.in_universe, rp.status from run_pairs rp where rp.run_id = p_run_id
  ),
  symbols as (
    select ps.symbol from per_symbol ps
    union
    select pv.symbol from prev pv
    union
    select pr.symbol from pairs pr where pr.in_universe
  ),
  merged as (
    select s.symbol,
           coalesce(pr.in_universe, false) as in_universe,
           pr.status as pair_status,
           coalesce(pv.ticker_rows, 0) + coalesce(ps.ticker_n, 0) as ticker_rows,
           coalesce(pv.trade_rows, 0) + coalesce(ps.trade_n, 0) as trade_rows,
           coalesce(pv.l2_rows, 0) + coalesce(ps.l2_n, 0) as l2_rows,
           coalesce(pv.l2_updates, 0) + coalesce(ps.l2_upd, 0) as l2_updates,
           coalesce(pv.l3_rows, 0) + coalesce(ps.l3_n, 0) as l3_rows,
           greatest(pv.last_ticker_at, ps.ticker_at) as last_ticker_at,
           greatest(pv.last_trade_at, ps.trade_at) as last_trade_at,
           greatest(pv.last_l2_at, ps.l2_at) as last_l2_at,
           greatest(pv.last_l3_at, ps.l3_at) as last_l3_at,
           coalesce(ps.l2_ok, pv.book_valid) as book_valid,
           coalesce(ps.l3_ok, pv.l3_valid) as l3_valid
      from symbols s
      left join per_symbol ps on ps.symbol = s.symbol
      left join prev pv on pv.symbol = s.symbol
      left join pairs pr on pr.symbol = s.symbol
  ),
  ins as (
    insert into ingest_snapshots (
      run_id, epoch, symbol, published_at, in_universe, pair_status, ticker_rows, trade_rows, l2_rows, l2_updates,
      l3_rows, last_ticker_at, last_trade_at, last_l2_at, last_l3_at, book_valid, l3_valid, data_age, fresh)
    select p_run_id, coalesce(v_prev.epoch, 0) + 1, m.symbol, p_now, m.in_universe, m.pair_status, m.ticker_rows,
           m.trade_rows, m.l2_rows, m.l2_updates, m.l3_rows, m.last_ticker_at, m.last_trade_at, m.last_l2_at,
           m.last_l3_at, m.book_valid, m.l3_valid,
           p_now - greatest(m.last_ticker_at, m.last_trade_at, m.last_l2_at, m.last_l3_at),
           coalesce(p_now - greatest(m.last_ticker_at, m.last_trade_at, m.last_l2_at, m.last_l3_at) <= p_fresh_within,
                    false)
      from merged m
    returning ingest_snapshots.*
  )
  insert into ingest_epochs (
    run_id, epoch, published_at, txid_horizon, ticker_rows, trade_rows, l2_rows, l3_rows,
    ticker_max_seq, trade_max_seq, l2_max_seq, l3_max_seq, symbols, symbols_book_valid, symbols_fresh)
  select p_run_id, coalesce(v_prev.epoch, 0) + 1, p_now, v_to,
         coalesce(sum(i.ticker_rows), 0), coalesce(sum(i.trade_rows), 0), coalesce(sum(i.l2_rows), 0),
         coalesce(sum(i.l3_rows), 0),
         greatest(v_prev.ticker_max_seq, (select max(d.max_seq) from delta d where d.ch = 'ticker')),
         greatest(v_prev.trade_max_seq, (select max(d.max_seq) from delta d where d.ch = 'trade')),
         greatest(v_prev.l2_max_seq, (select max(d.max_seq) from delta d where d.ch = 'l2')),
         greatest(v_prev.l3_max_seq, (select max(d.max_seq) from delta d where d.ch = 'l3')),
         count(*), count(*) filter (where i.book_valid), count(*) filter (where i.fresh)
    from ins i
  returning * into v_epoch;
  return v_epoch;
end
$$;
comment on function kapitaal.ingest_epoch__publish(bigint, timestamptz, interval) is
  'Publishes the next epoch of an ingest run: counts the raw rows whose inserting transaction lies between the '
  'previous epoch''s txid_horizon and the current one (so the cost is O(new rows) and no late commit is skipped), '
  'writes one ingest_snapshots row per symbol (cumulative counts, newest received_at per channel, book validity, '
  'age, fresh = age within p_fresh_within) and the ingest_epochs summary, and returns the epoch.';
