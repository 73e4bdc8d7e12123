-- The drift verdict of each balance snapshot, judged when it is recorded (balance__record): what
-- capital__entry_halt reads, so that an evaluation's halt check costs one index lookup however many fills
-- the ledger holds since the baseline (balance__drift reads them all).
create table if not exists kapitaal.balance_drift_checks (
  snapshot_id bigint primary key references kapitaal.balance_snapshots (snapshot_id) on delete restrict,
  account text not null,
  taken_at timestamptz not null,
  persistent boolean not null,
  exceeded_assets text[] not null,
  reason text
);
create index if not exists balance_drift_checks_account_idx on kapitaal.balance_drift_checks (account, taken_at, snapshot_id);
comment on table kapitaal.balance_drift_checks is
  'One verdict per balance snapshot (written by balance__record from balance__drift at the snapshot''s time), '
  'append-only. capital__entry_halt halts on the newest one when it is persistent and no rebaseline came after it.';
comment on column kapitaal.balance_drift_checks.snapshot_id is 'The snapshot judged (balance_snapshots.snapshot_id).';
comment on column kapitaal.balance_drift_checks.account is 'Trading account, copied from the snapshot.';
comment on column kapitaal.balance_drift_checks.taken_at is 'The snapshot''s time, copied (the halt check reads by account and time).';
comment on column kapitaal.balance_drift_checks.persistent is
  'Some asset drifted beyond its tolerance in the newest balance_drift_snapshots snapshots (balance__drift.persistent).';
comment on column kapitaal.balance_drift_checks.exceeded_assets is 'Assets beyond their tolerance in this snapshot (persistent or not yet).';
comment on column kapitaal.balance_drift_checks.reason is
  'For a persistent drift: the BALANCE_DRIFT reason capital__entry_halt gives (each asset''s actual, expected, drift, '
  'tolerance); null otherwise.';

create or replace trigger _500_append_only
  before update or delete on kapitaal.balance_drift_checks
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.balance_drift_checks
  for each statement execute function kapitaal.tg__append_only();
comment on trigger _500_append_only on kapitaal.balance_drift_checks is
  'Refuses UPDATE and DELETE of drift verdicts (tg__append_only, SQLSTATE 42501).';
comment on trigger _501_append_only_truncate on kapitaal.balance_drift_checks is
  'Refuses TRUNCATE of balance_drift_checks (tg__append_only, SQLSTATE 42501).';
