--! Previous: sha1:522f5f02f092aeda90d9582286b2bde4475b4225
--! Hash: sha1:9164c263c2a79cad4f4df49f668b2ddcc25582b9
--! Message: Dashboard views (ingest runs, evaluation outcomes, open positions at the state mid), equity curve function, visibility index

--! split: 1-current.sql
-- Enter migration here

--! split: 2-dashboard.sql
--! Included dashboard/state_generation_visibility_run_visible_idx.sql
-- decision_status's max_visibility_lag_5m filters a run's visibility rows on visible_at; with only the
-- (run_id, generation_id) index it read every row of the run (one per generation: ~430k a day at 5 per second),
-- 133 ms per dashboard poll after a day. With this index: 0.6 ms (docs/sql-api/dashboard.md).
create index if not exists state_generation_visibility_run_visible_idx
  on kapitaal.state_generation_visibility (run_id, visible_at);
comment on index kapitaal.state_generation_visibility_run_visible_idx is
  'Recent visibility rows of a run by time (decision_status.max_visibility_lag_5m, the dashboard).';
--! EndIncluded dashboard/state_generation_visibility_run_visible_idx.sql
--! Included dashboard/dashboard_ingest_runs.sql
-- The dashboard's ingest-runs panel: engine_status (heartbeat, last refresh, pending rows) with each run's newest
-- epoch, which engine_status does not carry. Ages in seconds so a client needs no interval parser.
create or replace view kapitaal.dashboard_ingest_runs as
  select s.run_id, s.status, s.started_at, s.heartbeat_at,
         extract(epoch from s.heartbeat_age)::float8 as heartbeat_age_s,
         e.epoch as last_epoch, e.published_at as last_epoch_at,
         s.last_generation_id, s.last_refreshed_at,
         extract(epoch from s.refresh_lag)::float8 as refresh_lag_s,
         s.symbols, s.last_rows_read, s.last_duration_ms, s.pending_rows
    from kapitaal.engine_status s
    left join lateral (select ie.epoch, ie.published_at from kapitaal.ingest_epochs ie
                        where ie.run_id = s.run_id order by ie.epoch desc limit 1) e on true;
comment on view kapitaal.dashboard_ingest_runs is
  'Per ingest run, for the dashboard: status, heartbeat and its age in seconds, newest epoch, newest state generation '
  'with its refresh lag in seconds, rows read and duration of that refresh, and raw rows pending for the next refresh '
  '(engine_status plus the newest ingest_epochs row).';
--! EndIncluded dashboard/dashboard_ingest_runs.sql
--! Included dashboard/dashboard_evaluation_outcomes.sql
-- The dashboard's outcome mix. Same rows as evaluation_outcomes, computed without sorting every reason of the hour
-- (that view's array_agg(... order by ...)[1]): a hash aggregate over evaluations_evaluated_at_idx, then one primary-key
-- lookup per outcome for its newest reason. 73 -> 15 ms at 18k evaluations in the hour (docs/sql-api/dashboard.md).
create or replace view kapitaal.dashboard_evaluation_outcomes as
  select a.outcome, a.evaluations, a.last_at, x.reason as last_reason
    from (select e.outcome, count(*) as evaluations, max(e.evaluated_at) as last_at, max(e.evaluation_id) as last_id
            from kapitaal.evaluations e
           where e.evaluated_at > now() - interval '1 hour'
           group by e.outcome) a
    join kapitaal.evaluations x on x.evaluation_id = a.last_id;
comment on view kapitaal.dashboard_evaluation_outcomes is
  'Evaluations of the last hour per outcome with the newest reason of each, for the dashboard: the same rows as '
  'evaluation_outcomes, cheaper to compute every 2 s.';
--! EndIncluded dashboard/dashboard_evaluation_outcomes.sql
--! Included dashboard/dashboard_open_positions.sql
-- The dashboard's positions panel. open_positions marks at the newest capital snapshot, which only exists where
-- something calls capital__snapshot (the runtime does not yet); this adds the mark the status line uses: the mid of
-- the symbol in the newest run's run_symbol_state, with the P&L at that mid.
-- Dropped and created (not replaced): o.* is expanded when the view is made, so a column added to open_positions
-- would make a replace fail; nothing depends on this view.
drop view if exists kapitaal.dashboard_open_positions;
create view kapitaal.dashboard_open_positions as
  select o.*, s.mid as state_mid, s.refreshed_at as state_mid_at,
         o.qty * s.mid - o.cost_basis - o.entry_fees_open as unrealised_pnl_at_state_mid
    from kapitaal.open_positions o
    left join lateral (select x.mid, x.refreshed_at from kapitaal.run_symbol_state x
                        where x.symbol = o.symbol order by x.run_id desc limit 1) s on true;
comment on view kapitaal.dashboard_open_positions is
  'open_positions plus the mid of the symbol in the newest run''s state (state_mid, its refresh time) and the '
  'unrealised P&L at that mid (value - cost basis - entry fees of the open quantity, exit fees not deducted), for the '
  'dashboard: the snapshot mark of open_positions is empty until capital__snapshot runs.';
--! EndIncluded dashboard/dashboard_open_positions.sql
--! Included dashboard/dashboard__equity_curve.sql
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
--! EndIncluded dashboard/dashboard__equity_curve.sql
--! Included dashboard/grants.sql
-- The dashboard reads as kapitaal_readonly. dashboard_ingest_runs counts raw rows (engine_status.pending_rows), so
-- it is not granted to kapitaal_execution, which must never read raw tables (state-first contract).
grant select on kapitaal.dashboard_ingest_runs, kapitaal.dashboard_evaluation_outcomes,
  kapitaal.dashboard_open_positions to kapitaal_readonly;
grant execute on function kapitaal.dashboard__equity_curve(text, interval, integer, timestamptz) to kapitaal_readonly;
--! EndIncluded dashboard/grants.sql
