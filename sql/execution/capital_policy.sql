-- Capital policy per account: sizing mode, caps and fee rates. Plain rows a DBA can read and change.
create table if not exists kapitaal.capital_policy (
  account text primary key default 'default',
  mode text not null default 'fixed' check (mode in ('fixed', 'compounding')),
  fixed_equity numeric not null default 220 check (fixed_equity > 0),
  initial_cash numeric not null default 220 check (initial_cash >= 0),
  max_position_quote numeric check (max_position_quote > 0),
  max_position_pct numeric not null default 25 check (max_position_pct > 0 and max_position_pct <= 100),
  max_total_exposure_pct numeric not null default 90 check (max_total_exposure_pct > 0 and max_total_exposure_pct <= 100),
  maker_fee_rate numeric not null default 0.0025 check (maker_fee_rate >= 0 and maker_fee_rate < 1),
  taker_fee_rate numeric not null default 0.0040 check (taker_fee_rate >= 0 and taker_fee_rate < 1),
  max_snapshot_age interval not null default interval '60 seconds' check (max_snapshot_age > interval '0'),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.capital_policy is
  'How much capital an account may put at risk, used by capital__position_size and capital__snapshot. Percentages '
  'are in percent (25 = 25 %), fee rates are fractions (0.0025 = 0.25 %). Spot without leverage: exposure never '
  'exceeds 100 % of equity.';
comment on column kapitaal.capital_policy.mode is
  'fixed: sizes from fixed_equity whatever the P&L. compounding: sizes from the equity of the newest capital '
  'snapshot (cash + positions at market, realised P&L included), so size grows with profit and shrinks with loss.';
comment on column kapitaal.capital_policy.fixed_equity is 'Equity assumed in fixed mode (the old engine''s 220).';
comment on column kapitaal.capital_policy.initial_cash is
  'Quote cash at the start of the fills ledger; capital__snapshot derives cash from it and the fills when no exchange balance is given (paper).';
comment on column kapitaal.capital_policy.max_position_quote is 'Absolute cap on the exposure in one symbol (quote); null = only the percentage cap.';
comment on column kapitaal.capital_policy.max_position_pct is 'Cap on the exposure in one symbol, percent of the sizing equity.';
comment on column kapitaal.capital_policy.max_total_exposure_pct is
  'Cap on allocated_quote + reserved_quote + the new order, percent of the sizing equity.';
comment on column kapitaal.capital_policy.maker_fee_rate is 'Maker fee as a fraction (Kraken entry tier 0.25 %; PROTOCOL.md: read real fees at run time where possible).';
comment on column kapitaal.capital_policy.taker_fee_rate is 'Taker fee as a fraction (Kraken entry tier 0.40 %).';
comment on column kapitaal.capital_policy.max_snapshot_age is
  'Compounding mode sizes only from a capital snapshot at most this old (the boundary is still fresh); otherwise size 0.';
comment on column kapitaal.capital_policy.account is
  'Trading account this policy is for; ''default'' is created by the migration.';
comment on column kapitaal.capital_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change the policy.';
-- Risk halts (capital__entry_halt): a switch an operator flips with one UPDATE, and a daily loss limit.
alter table kapitaal.capital_policy add column if not exists entries_enabled boolean not null default true;
alter table kapitaal.capital_policy add column if not exists max_daily_loss_pct numeric;
alter table kapitaal.capital_policy drop constraint if exists capital_policy_max_daily_loss_pct_check;
alter table kapitaal.capital_policy add constraint capital_policy_max_daily_loss_pct_check
  check (max_daily_loss_pct > 0 and max_daily_loss_pct <= 100);
comment on column kapitaal.capital_policy.entries_enabled is
  'Kill switch for new entries: false stops every new entry at once (placement outcome halted); exits, fills and '
  'reconciliation go on. `update kapitaal.capital_policy set entries_enabled = false` is the operator''s stop button.';
comment on column kapitaal.capital_policy.max_daily_loss_pct is
  'Stop new entries for the rest of the UTC day once equity (capital snapshots) fell this many percent below the '
  'day''s first snapshot; null = no daily limit. Exits go on.';
insert into kapitaal.capital_policy (account) values ('default') on conflict do nothing;
-- Balance drift (balance__drift, capital__entry_halt): the exchange's balances against the fills ledger.
alter table kapitaal.capital_policy add column if not exists balance_drift_halt boolean not null default true;
alter table kapitaal.capital_policy add column if not exists balance_drift_abs_tolerance numeric not null default 0.0001;
alter table kapitaal.capital_policy add column if not exists balance_drift_rel_tolerance numeric not null default 0.001;
alter table kapitaal.capital_policy add column if not exists balance_drift_snapshots integer not null default 3;
alter table kapitaal.capital_policy drop constraint if exists capital_policy_balance_drift_check;
alter table kapitaal.capital_policy add constraint capital_policy_balance_drift_check
  check (balance_drift_abs_tolerance >= 0 and balance_drift_rel_tolerance >= 0 and balance_drift_rel_tolerance < 1
         and balance_drift_snapshots >= 1);
comment on column kapitaal.capital_policy.balance_drift_halt is
  'Stop new entries (BALANCE_DRIFT) while the exchange balances persistently disagree with the fills ledger '
  '(balance__drift). On by default; only live and simulator venues record balance snapshots, so paper never halts.';
comment on column kapitaal.capital_policy.balance_drift_abs_tolerance is
  'Drift up to this much of an asset (in its own units), once plus once per fill of the asset since the baseline, is no '
  'drift: Kraken reports fiat balances to 4 decimals and moves them by rounded amounts, so each fill may differ from the '
  'ledger''s exact price x qty and fee by one unit of that rounding (0.0001), also on an asset whose balance is near zero.';
comment on column kapitaal.capital_policy.balance_drift_rel_tolerance is
  'Drift up to this fraction of the asset''s balance (the larger of baseline and now) is no drift: the ledger books '
  'fees as the trade reports them while the balance moves by rounded amounts, and that rounding adds up over many '
  'fills (0.001 = 0.1 %: 0.22 USD on a 220 USD account). The tolerance is the larger of the two.';
comment on column kapitaal.capital_policy.balance_drift_snapshots is
  'A drift counts only when this many consecutive balance snapshots (the newest ones) all exceed the tolerance: '
  'a fill can be on the exchange seconds before fills__poll books it (or minutes, when TradesHistory lists it '
  'late), and once it is booked every past snapshot''s drift disappears with it (the ledger is read by fill time).';
