-- The dashboard's equity curve: at most p_points capital snapshots of one account within a time window, read
-- through capital_snapshots_account_at_idx, so the cost is bounded by the window, not by the table.
create or replace function kapitaal.dashboard__equity_curve(
  p_account text default 'default',
  p_window interval default '24 hours',
  p_points integer default 200,
  p_now timestamptz default now()
)
returns table (at timestamptz, equity numeric, cash numeric, positions_value numeric, realised_pnl_total numeric,
               unrealised_pnl numeric, open_positions integer, snapshot_id bigint)
language sql
stable
as $$
  with w as (
    select s.*
      from kapitaal.capital_snapshots s
     where s.account = p_account and s.at > p_now - p_window and s.at <= p_now
  ), b as (
    -- Equal time buckets over the window; the newest snapshot of each bucket stands for it.
    select w.*, width_bucket(extract(epoch from w.at), extract(epoch from p_now - p_window),
                             extract(epoch from p_now) + 1e-6, greatest(p_points, 1)) as bucket
      from w
  )
  select distinct on (b.bucket) b.at, b.equity, b.cash, b.positions_value, b.realised_pnl_total, b.unrealised_pnl,
         b.open_positions, b.snapshot_id
    from b
   order by b.bucket, b.at desc, b.snapshot_id desc
$$;
comment on function kapitaal.dashboard__equity_curve(text, interval, integer, timestamptz) is
  'Equity curve of an account for the dashboard: the capital snapshots of the last p_window before p_now, thinned to '
  'at most p_points (the window cut into p_points equal time buckets, the newest snapshot of each kept), oldest '
  'first. Money as numeric: equity, cash, positions value, realised and unrealised P&L as the snapshot recorded them.';
