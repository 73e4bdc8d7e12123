-- The account's balances as the exchange reports them (Kraken Balance), one snapshot per call of the
-- capital__balances task: a header row per snapshot, a row per asset. Both only grow: a snapshot is
-- evidence of what the exchange said, compared with the fills ledger by balance__drift.
create table if not exists kapitaal.balance_snapshots (
  snapshot_id bigint generated always as identity primary key,
  account text not null,
  taken_at timestamptz not null,
  source text not null check (source <> ''),
  assets integer not null check (assets >= 0)
);
create index if not exists balance_snapshots_account_idx on kapitaal.balance_snapshots (account, taken_at, snapshot_id);
comment on table kapitaal.balance_snapshots is
  'One row per balance snapshot of an account (balance__record), append-only; the balances are in '
  'balance_snapshot_assets. balance__drift compares them with the fills ledger.';
comment on column kapitaal.balance_snapshots.snapshot_id is 'Identity, in recording order.';
comment on column kapitaal.balance_snapshots.account is 'Trading account (capital_policy.account).';
comment on column kapitaal.balance_snapshots.taken_at is 'When the engine read the balances (p_now of balance__record).';
comment on column kapitaal.balance_snapshots.source is 'Where they came from, e.g. sim:Balance or kraken:Balance.';
comment on column kapitaal.balance_snapshots.assets is 'Number of assets the exchange reported (rows in balance_snapshot_assets).';

create table if not exists kapitaal.balance_snapshot_assets (
  snapshot_id bigint not null references kapitaal.balance_snapshots (snapshot_id) on delete restrict,
  asset text not null check (asset <> ''),
  balance numeric not null,
  primary key (snapshot_id, asset)
);
comment on table kapitaal.balance_snapshot_assets is
  'The total balance per asset of one balance snapshot (held for open orders included), append-only. An asset '
  'missing from a snapshot had no balance (0).';
comment on column kapitaal.balance_snapshot_assets.snapshot_id is 'The snapshot (balance_snapshots.snapshot_id).';
comment on column kapitaal.balance_snapshot_assets.asset is 'Asset as the engine names it (WS v2: BTC, USD; Kraken''s XXBT/ZUSD are mapped).';
comment on column kapitaal.balance_snapshot_assets.balance is 'Total balance of the asset, in its own units, numeric.';

create or replace trigger _500_append_only
  before update or delete on kapitaal.balance_snapshots
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.balance_snapshots
  for each statement execute function kapitaal.tg__append_only();
create or replace trigger _500_append_only
  before update or delete on kapitaal.balance_snapshot_assets
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.balance_snapshot_assets
  for each statement execute function kapitaal.tg__append_only();
comment on trigger _500_append_only on kapitaal.balance_snapshots is
  'Refuses UPDATE and DELETE of balance snapshots (tg__append_only, SQLSTATE 42501).';
comment on trigger _501_append_only_truncate on kapitaal.balance_snapshots is
  'Refuses TRUNCATE of balance_snapshots (tg__append_only, SQLSTATE 42501).';
comment on trigger _500_append_only on kapitaal.balance_snapshot_assets is
  'Refuses UPDATE and DELETE of snapshot balances (tg__append_only, SQLSTATE 42501).';
comment on trigger _501_append_only_truncate on kapitaal.balance_snapshot_assets is
  'Refuses TRUNCATE of balance_snapshot_assets (tg__append_only, SQLSTATE 42501).';
