-- Operator decisions that the account's balances start afresh (after a deposit, a withdrawal or a
-- deliberate manual trade): balance__drift measures from the first snapshot at or after the newest one.
create table if not exists kapitaal.balance_rebaselines (
  rebaseline_id bigint generated always as identity primary key,
  account text not null,
  requested_at timestamptz not null,
  requested_by text not null default current_user,
  reason text
);
create index if not exists balance_rebaselines_account_idx on kapitaal.balance_rebaselines (account, requested_at);
comment on table kapitaal.balance_rebaselines is
  'Rebaselines of the balance drift check (balance__rebaseline), append-only: the baseline is the account''s first '
  'balance snapshot taken at or after the newest rebaseline (without one: the account''s first snapshot).';
comment on column kapitaal.balance_rebaselines.rebaseline_id is 'Identity, in recording order.';
comment on column kapitaal.balance_rebaselines.account is 'Trading account (capital_policy.account).';
comment on column kapitaal.balance_rebaselines.requested_at is 'When it was asked for (p_now); the next snapshot from then on is the baseline.';
comment on column kapitaal.balance_rebaselines.requested_by is 'Database role that asked (current_user).';
comment on column kapitaal.balance_rebaselines.reason is 'Why, in the operator''s words (deposit, withdrawal, manual trade).';

create or replace trigger _500_append_only
  before update or delete on kapitaal.balance_rebaselines
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.balance_rebaselines
  for each statement execute function kapitaal.tg__append_only();
comment on trigger _500_append_only on kapitaal.balance_rebaselines is
  'Refuses UPDATE and DELETE of rebaselines (tg__append_only, SQLSTATE 42501): the audit trail only grows.';
comment on trigger _501_append_only_truncate on kapitaal.balance_rebaselines is
  'Refuses TRUNCATE of balance_rebaselines (tg__append_only, SQLSTATE 42501).';
