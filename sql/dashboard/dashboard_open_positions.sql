-- The dashboard's positions panel. open_positions marks at the newest capital snapshot (the runtime's
-- capital__snapshot task takes one every 10 s); this adds the mark the status line uses: the mid of the symbol in the
-- newest run's run_symbol_state, with the P&L at that mid, which is there even while snapshots are skipped.
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
  'dashboard: the snapshot mark of open_positions is empty until a capital snapshot was taken.';
