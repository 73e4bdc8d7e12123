-- Positions derived from the fills ledger (order__record_fill keeps them; positions__recompute re-derives
-- them from scratch). Spot, long only: a buy opens or adds to the open position of its
-- (account, symbol, strategy), a sell reduces it; the base currency is fungible, so a sell reduces whatever
-- position of its key is open.
create table if not exists kapitaal.positions (
  position_id bigint generated always as identity primary key,
  account text not null,
  symbol text not null,
  strategy text not null,
  entry_order_id bigint not null references kapitaal.orders (order_id) on delete restrict,
  opened_run_id bigint,
  entry_regime text,
  opened_at timestamptz not null,
  closed_at timestamptz,
  qty numeric not null check (qty >= 0),
  cost_basis numeric not null check (cost_basis >= 0),
  avg_entry_price numeric not null check (avg_entry_price > 0),
  entry_fees_open numeric not null check (entry_fees_open >= 0),
  fees numeric not null check (fees >= 0),
  realised_pnl numeric not null,
  bought_qty numeric not null,
  bought_quote numeric not null,
  sold_qty numeric not null,
  sold_quote numeric not null,
  high_water_price numeric not null check (high_water_price > 0),
  trail_armed boolean not null default false,
  trail_armed_at timestamptz,
  updated_at timestamptz not null,
  constraint positions_open_iff_qty check ((closed_at is null) = (qty > 0))
);
create unique index if not exists positions_one_open_idx on kapitaal.positions (account, symbol, strategy)
  where closed_at is null;
create index if not exists positions_key_idx on kapitaal.positions (account, symbol, strategy, position_id);

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'orders_position_fk'
                    and conrelid = 'kapitaal.orders'::regclass) then
    alter table kapitaal.orders add constraint orders_position_fk
      foreign key (position_id) references kapitaal.positions (position_id) on delete restrict;
  end if;
end
$$;

comment on table kapitaal.positions is
  'Long spot positions per (account, symbol, strategy), at most one open per key, maintained from the fills '
  'ledger by order__record_fill (average-cost method). Realised P&L includes the fees of both legs: for a closed '
  'position realised_pnl = sold_quote - bought_quote - fees exactly. positions__verify compares this table with a '
  'from-scratch recomputation.';
comment on column kapitaal.positions.entry_order_id is 'The buy order whose fill opened the position.';
comment on column kapitaal.positions.entry_regime is 'Regime recorded on the entry order; a change away from it can trigger a regime_change exit.';
comment on column kapitaal.positions.opened_at is 'filled_at of the opening fill.';
comment on column kapitaal.positions.closed_at is 'filled_at of the fill that brought qty to zero; null while open.';
comment on column kapitaal.positions.qty is 'Open quantity (base currency).';
comment on column kapitaal.positions.cost_basis is
  'Quote paid for the open quantity, fees excluded. A partial sell removes cost_basis * sold / qty; the sell that '
  'closes the position removes the rest, so nothing is lost to rounding.';
comment on column kapitaal.positions.avg_entry_price is
  'cost_basis / qty after the last buy (unchanged by sells; kept after closing). Exit thresholds are relative to it.';
comment on column kapitaal.positions.entry_fees_open is
  'Entry (buy) fees of the open quantity not yet charged to realised_pnl; released pro rata by sells like cost_basis.';
comment on column kapitaal.positions.fees is 'All fees of this position''s fills, both legs (quote currency).';
comment on column kapitaal.positions.realised_pnl is
  'Sum over sells of (price - average cost) * qty - exit fee - the entry fees of the sold quantity.';
comment on column kapitaal.positions.bought_quote is 'Sum of price * qty of the buys (quote, fees excluded).';
comment on column kapitaal.positions.sold_quote is 'Sum of price * qty of the sells matched to this position.';
comment on column kapitaal.positions.high_water_price is
  'Highest price seen while open: the first fill price, then raised by later buys and by position__exit_decision marks.';
comment on column kapitaal.positions.trail_armed is
  'True once high_water_price reached the trailing-stop arming level; from then on a retrace below the trail fires.';
comment on column kapitaal.positions.position_id is 'Identity, in opening order.';
comment on column kapitaal.positions.account is
  'Trading account (capital_policy.account), copied from the entry order.';
comment on column kapitaal.positions.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.positions.strategy is
  'Strategy of the entry order; key with account and symbol (one open position per key).';
comment on column kapitaal.positions.opened_run_id is
  'run_id of the entry order (the ingest run whose data decided it).';
comment on column kapitaal.positions.bought_qty is 'Sum of qty of the buys into this position (base currency).';
comment on column kapitaal.positions.sold_qty is
  'Sum of qty of the sells matched to this position (base currency); qty = bought_qty - sold_qty.';
comment on column kapitaal.positions.trail_armed_at is
  'When the trailing stop armed (p_now of position__exit_decision); null while not armed.';
comment on column kapitaal.positions.updated_at is 'p_now of the last write (fill or exit-decision mark).';
