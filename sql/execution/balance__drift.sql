-- How far the exchange's balances moved away from what the fills ledger says happened since the baseline.
-- Each of the newest balance_drift_snapshots snapshots is compared with the fills the ledger holds NOW whose
-- exchange time is at or before that snapshot: a fill booked late makes the drift of every past snapshot
-- vanish with it, so only a difference that outlives that many snapshots counts (persistent).
-- (Snapshots carry the engine's clock, fills the exchange's: skew between them is transient the same way.)
create or replace function kapitaal.balance__drift(p_account text default 'default', p_now timestamptz default now())
returns table (asset text, baseline_snapshot_id bigint, baseline_at timestamptz, snapshot_id bigint, snapshot_at timestamptz,
               baseline_balance numeric, expected numeric, actual numeric, exchange_change numeric, ledger_change numeric,
               drift numeric, tolerance numeric, exceeded boolean, exceeded_snapshots integer, persistent boolean)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  with pol as (
    select c.balance_drift_abs_tolerance as abs_tol, c.balance_drift_rel_tolerance as rel_tol, c.balance_drift_snapshots as n
      from kapitaal.capital_policy c where c.account = p_account
  ), rb as (
    select max(r.requested_at) as since from kapitaal.balance_rebaselines r
     where r.account = p_account and r.requested_at <= p_now
  ), base as (
    select s.snapshot_id as id, s.taken_at as t from kapitaal.balance_snapshots s, rb
     where s.account = p_account and s.taken_at <= p_now and s.taken_at >= coalesce(rb.since, '-infinity')
     order by s.taken_at, s.snapshot_id limit 1
  ), recent as (
    -- The newest n snapshots from the baseline on (the baseline itself has no drift by definition).
    select r.id, r.t, row_number() over (order by r.t desc, r.id desc) as k
      from (select s.snapshot_id as id, s.taken_at as t from kapitaal.balance_snapshots s, base
             where s.account = p_account and s.taken_at <= p_now and (s.taken_at, s.snapshot_id) >= (base.t, base.id)
             order by s.taken_at desc, s.snapshot_id desc limit (select pol.n from pol)) r
  ), base_bal as (
    select a.asset as a, a.balance as b from kapitaal.balance_snapshot_assets a join base on a.snapshot_id = base.id
  ), snap_bal as (
    select a.snapshot_id as id, a.asset as a, a.balance as b
      from kapitaal.balance_snapshot_assets a join recent on a.snapshot_id = recent.id
  ), ledger as (
    -- A fill moves the base asset by ±qty and the quote asset by its cash_delta (−cost − fee or +cost − fee).
    -- Summed once per symbol: fills up to the oldest compared snapshot fall into one bucket (its time), only the
    -- few after it keep their own time, so the per-snapshot sums below read a handful of rows.
    select f.symbol, greatest(f.filled_at, (select min(recent.t) from recent)) as t,
           sum(case when f.side = 'buy' then f.qty else -f.qty end) as base_d,
           sum(case when f.side = 'sell' then f.price * f.qty else -(f.price * f.qty) end - f.fee) as quote_d,
           count(*) as n
      from base, kapitaal.fills f
     where f.account = p_account and f.filled_at > base.t and f.filled_at <= (select max(recent.t) from recent)
     group by 1, 2
  ), moves as (
    select split_part(l.symbol, '/', 1) as a, l.t, l.base_d as d, l.n from ledger l
    union all
    select split_part(l.symbol, '/', 2), l.t, l.quote_d, l.n from ledger l
  ), assets as (
    select base_bal.a from base_bal union select snap_bal.a from snap_bal union select moves.a from moves
  ), per as (
    select r.id, r.t, r.k, x.a, coalesce(bb.b, 0) as b0, coalesce(sb.b, 0) as b1,
           coalesce((select sum(m.d) from moves m where m.a = x.a and m.t <= r.t), 0) as led,
           coalesce((select sum(m.n) from moves m where m.a = x.a and m.t <= r.t), 0) as nf
      from recent r cross join assets x
      left join base_bal bb on bb.a = x.a
      left join snap_bal sb on sb.id = r.id and sb.a = x.a
  ), calc as (
    select per.*, per.b1 - per.b0 - per.led as dr,
           -- each fill may round once (the venue moves balances by rounded amounts): the absolute part per fill
           greatest(pol.abs_tol * (1 + per.nf), pol.rel_tol * greatest(abs(per.b0), abs(per.b1))) as tol
      from per, pol
  ), runs as (
    -- Consecutive exceeding snapshots, newest first.
    select calc.a, coalesce(min(calc.k) filter (where abs(calc.dr) <= calc.tol) - 1, count(*))::integer as run
      from calc group by calc.a
  )
  select c.a, base.id, base.t, c.id, c.t, c.b0, c.b0 + c.led, c.b1, c.b1 - c.b0, c.led, c.dr, c.tol,
         abs(c.dr) > c.tol, runs.run, runs.run >= pol.n
    from calc c join runs on runs.a = c.a cross join base cross join pol
   where c.k = 1
   order by c.a;
$$;
comment on function kapitaal.balance__drift(text, timestamptz) is
  'Per asset, the newest balance snapshot of p_account at or before p_now against the fills ledger since the baseline '
  '(the first snapshot at or after the newest balance__rebaseline, else the account''s first): exchange_change = actual - '
  'baseline_balance; ledger_change = the fills with exchange time after the baseline and at or before the snapshot (base '
  '+qty on buys, -qty on sells; quote -cost - fee on buys, +cost - fee on sells); expected = baseline_balance + '
  'ledger_change; drift = exchange_change - ledger_change; tolerance = greatest(balance_drift_abs_tolerance * (1 + the '
  'asset''s fills since the baseline), balance_drift_rel_tolerance * the larger balance). exceeded_snapshots counts the newest balance_drift_snapshots '
  'snapshots that exceed it in a row; persistent when all of them do. No snapshot (paper), no policy: no rows.';
