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

-- Column comments (\d+ in psql). They go with the view, so the drop above removes them and this file sets them again.
-- The open_positions columns are passed through (o.*); each line names its source, more on that view.
comment on column kapitaal.dashboard_open_positions.position_id is
  'open_positions.position_id: the position (positions.position_id).';
comment on column kapitaal.dashboard_open_positions.account is
  'open_positions.account: trading account (capital_policy.account).';
comment on column kapitaal.dashboard_open_positions.symbol is
  'open_positions.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.dashboard_open_positions.strategy is
  'open_positions.strategy: strategy of the entry order.';
comment on column kapitaal.dashboard_open_positions.opened_at is
  'open_positions.opened_at: filled_at of the opening fill.';
comment on column kapitaal.dashboard_open_positions.qty is 'open_positions.qty: open quantity, base currency.';
comment on column kapitaal.dashboard_open_positions.avg_entry_price is
  'open_positions.avg_entry_price: cost_basis / qty after the last buy, quote per base.';
comment on column kapitaal.dashboard_open_positions.cost_basis is
  'open_positions.cost_basis: quote paid for the open quantity, fees excluded.';
comment on column kapitaal.dashboard_open_positions.entry_fees_open is
  'open_positions.entry_fees_open: entry fees of the open quantity not yet in realised_pnl, quote currency.';
comment on column kapitaal.dashboard_open_positions.fees is
  'open_positions.fees: all fees of the position''s fills, quote currency.';
comment on column kapitaal.dashboard_open_positions.realised_pnl is
  'open_positions.realised_pnl: P&L of the quantity sold so far, after fees, quote currency.';
comment on column kapitaal.dashboard_open_positions.high_water_price is
  'open_positions.high_water_price: highest price seen while open, quote per base.';
comment on column kapitaal.dashboard_open_positions.trail_armed is
  'open_positions.trail_armed: true once the trailing stop is armed.';
comment on column kapitaal.dashboard_open_positions.entry_regime is
  'open_positions.entry_regime: regime at entry.';
comment on column kapitaal.dashboard_open_positions.entry_order_id is
  'open_positions.entry_order_id: the buy order whose fill opened the position.';
comment on column kapitaal.dashboard_open_positions.mark_price is
  'open_positions.mark_price: the symbol''s mark in the newest capital snapshot that has one, quote per base; null without.';
comment on column kapitaal.dashboard_open_positions.marked_at is
  'open_positions.marked_at: capital_snapshots.at of that snapshot.';
comment on column kapitaal.dashboard_open_positions.market_value is
  'open_positions.market_value: qty * mark_price, quote currency.';
comment on column kapitaal.dashboard_open_positions.unrealised_pnl is
  'open_positions.unrealised_pnl: market_value - cost_basis - entry_fees_open, quote currency.';
comment on column kapitaal.dashboard_open_positions.unrealised_pnl_after_exit_fee is
  'open_positions.unrealised_pnl_after_exit_fee: unrealised_pnl less a taker exit fee on market_value, quote currency.';
comment on column kapitaal.dashboard_open_positions.exit_order_id is
  'open_positions.exit_order_id: the position''s exit order still working; null when none.';
comment on column kapitaal.dashboard_open_positions.exit_order_status is
  'open_positions.exit_order_status: orders.status of that exit order.';
comment on column kapitaal.dashboard_open_positions.state_mid is
  'run_symbol_state.mid of the symbol in the newest run (highest run_id) whose state has it: (best_bid + best_ask) / 2, '
  'quote per base; null when no run has the symbol or a book side is missing.';
comment on column kapitaal.dashboard_open_positions.state_mid_at is 'run_symbol_state.refreshed_at of that row: effective time of the refresh that set state_mid.';
comment on column kapitaal.dashboard_open_positions.unrealised_pnl_at_state_mid is
  'qty * state_mid - cost_basis - entry_fees_open, quote currency: P&L of the open quantity at state_mid, exit fee not deducted.';
