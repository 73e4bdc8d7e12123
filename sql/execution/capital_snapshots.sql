create table if not exists kapitaal.capital_snapshots (
  snapshot_id bigint generated always as identity primary key,
  account text not null,
  at timestamptz not null,
  mode text not null,
  cash numeric not null,
  cash_source text not null check (cash_source in ('ledger', 'exchange')),
  positions_value numeric not null,
  equity numeric not null,
  allocated_quote numeric not null,
  reserved_quote numeric not null,
  realised_pnl_total numeric not null,
  unrealised_pnl numeric not null,
  fees_total numeric not null,
  open_positions integer not null,
  marks jsonb not null,
  constraint capital_snapshots_equity check (equity = cash + positions_value)
);
create index if not exists capital_snapshots_account_at_idx on kapitaal.capital_snapshots (account, at desc, snapshot_id desc);

comment on table kapitaal.capital_snapshots is
  'Equity curve: cash plus open positions marked to market at one moment, with what is allocated and reserved. '
  'Written by capital__snapshot; compounding sizing reads the newest one.';
comment on column kapitaal.capital_snapshots.cash is 'Quote cash: the exchange balance given, or initial_cash + sells - buys - fees from the fills ledger.';
comment on column kapitaal.capital_snapshots.cash_source is 'exchange (balance passed in) or ledger (derived from the fills).';
comment on column kapitaal.capital_snapshots.positions_value is 'Sum over open positions of qty * mark.';
comment on column kapitaal.capital_snapshots.equity is 'cash + positions_value.';
comment on column kapitaal.capital_snapshots.allocated_quote is 'Sum of cost_basis over open positions at that moment (not a constant).';
comment on column kapitaal.capital_snapshots.reserved_quote is 'Unfilled rest of active entry orders at their limit/reference price.';
comment on column kapitaal.capital_snapshots.realised_pnl_total is 'Sum of realised_pnl over all positions of the account (fees included).';
comment on column kapitaal.capital_snapshots.unrealised_pnl is 'positions_value - cost_basis - entry fees of the open quantity (exit fees not deducted).';
comment on column kapitaal.capital_snapshots.fees_total is 'All fees in the fills ledger of the account.';
comment on column kapitaal.capital_snapshots.marks is 'The mark prices used, {symbol: price}.';
comment on column kapitaal.capital_snapshots.snapshot_id is 'Identity, in snapshot order.';
comment on column kapitaal.capital_snapshots.account is 'Trading account (capital_policy.account).';
comment on column kapitaal.capital_snapshots.at is 'p_now of capital__snapshot: the moment the marks are for.';
comment on column kapitaal.capital_snapshots.mode is
  'capital_policy.mode at the time of the snapshot (fixed or compounding).';
comment on column kapitaal.capital_snapshots.open_positions is
  'Number of open positions of the account at that moment.';
