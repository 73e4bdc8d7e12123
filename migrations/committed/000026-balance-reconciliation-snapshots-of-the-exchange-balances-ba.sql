--! Previous: sha1:3f17a7b704d4cc10850d8453929b2b4ad86a2c80
--! Hash: sha1:5a4647a1c40c43589173efabfaa07abb9d2133d6
--! Message: balance reconciliation: snapshots of the exchange balances, balance__drift against the fills ledger since a baseline, persistent drift halts entries (BALANCE_DRIFT), balance__rebaseline

--! split: 1-current.sql
-- Enter migration here

--! split: 2-balance-drift.sql
--! Included execution/capital_policy.sql
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
  'Drift up to this much of an asset (in its own units) is no drift: Kraken reports fiat balances to 4 decimals, so '
  'one unit of that rounding (0.0001) is absorbed even on an asset whose balance is near zero.';
comment on column kapitaal.capital_policy.balance_drift_rel_tolerance is
  'Drift up to this fraction of the asset''s balance (the larger of baseline and now) is no drift: the ledger books '
  'fees as the trade reports them while the balance moves by rounded amounts, and that rounding adds up over many '
  'fills (0.001 = 0.1 %: 0.22 USD on a 220 USD account). The tolerance is the larger of the two.';
comment on column kapitaal.capital_policy.balance_drift_snapshots is
  'A drift counts only when this many consecutive balance snapshots (the newest ones) all exceed the tolerance: '
  'a fill can be on the exchange seconds before fills__poll books it (or minutes, when TradesHistory lists it '
  'late), and once it is booked every past snapshot''s drift disappears with it (the ledger is read by fill time).';
--! EndIncluded execution/capital_policy.sql
--! Included execution/balance_snapshots.sql
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
--! EndIncluded execution/balance_snapshots.sql
--! Included execution/balance_rebaselines.sql
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
--! EndIncluded execution/balance_rebaselines.sql
--! Included execution/balance_drift_checks.sql
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
--! EndIncluded execution/balance_drift_checks.sql
--! Included execution/fills.sql
-- The fills ledger: one row per exchange trade, never changed. A replayed fill (same exchange and trade id)
-- is recognised by order__record_fill and changes nothing.
create table if not exists kapitaal.fills (
  fill_id bigint generated always as identity primary key,
  exchange text not null check (exchange ~ '^[a-z][a-z0-9_]*$'),
  exchange_trade_id text not null check (exchange_trade_id <> ''),
  order_id bigint not null references kapitaal.orders (order_id) on delete restrict,
  account text not null,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  strategy text not null,
  price numeric not null check (price > 0),
  qty numeric not null check (qty > 0),
  fee numeric not null check (fee >= 0),
  liquidity text not null check (liquidity in ('maker', 'taker')),
  filled_at timestamptz not null,
  recorded_at timestamptz not null,
  position_id bigint references kapitaal.positions (position_id) on delete restrict,
  unmatched_qty numeric not null default 0 check (unmatched_qty >= 0 and unmatched_qty <= qty),
  data jsonb,
  constraint fills_exchange_trade_key unique (exchange, exchange_trade_id)
);
create index if not exists fills_order_idx on kapitaal.fills (order_id);
create index if not exists fills_key_idx on kapitaal.fills (account, symbol, strategy, fill_id);

comment on table kapitaal.fills is
  'Fills ledger: one row per exchange trade, unique per (exchange, exchange_trade_id), append-only. Positions, '
  'order fill totals and ledger cash are derived from it, in fill_id (recording) order.';
comment on column kapitaal.fills.exchange is 'Where the trade happened: kraken, sim, paper.';
comment on column kapitaal.fills.exchange_trade_id is 'The exchange''s trade id (Kraken trade_id / exec_id of a trade execution).';
comment on column kapitaal.fills.account is 'Copied from the order, like symbol, side and strategy, so the ledger reads on its own.';
comment on column kapitaal.fills.fee is 'Fee in quote currency (a fee charged in base must be converted before recording).';
comment on column kapitaal.fills.liquidity is 'maker or taker (Kraken liquidity_ind m/t).';
comment on column kapitaal.fills.filled_at is 'Exchange time of the trade.';
comment on column kapitaal.fills.recorded_at is 'When the engine booked it (p_now).';
comment on column kapitaal.fills.position_id is 'Position this fill opened, increased or reduced; null for a sell with no open position.';
comment on column kapitaal.fills.unmatched_qty is
  'Part of a sell that found no open quantity (e.g. base bought outside the engine): booked as cash, not as P&L.';
comment on column kapitaal.fills.fill_id is
  'Identity, in recording order: the order positions and cash are derived in.';
comment on column kapitaal.fills.order_id is 'The order this trade filled (orders.order_id).';
comment on column kapitaal.fills.symbol is 'Copied from the order (Kraken WS v2 pair symbol).';
comment on column kapitaal.fills.side is 'Copied from the order: buy or sell.';
comment on column kapitaal.fills.strategy is 'Copied from the order.';
comment on column kapitaal.fills.price is 'Trade price in quote currency per unit of base, numeric.';
comment on column kapitaal.fills.qty is 'Traded quantity in base currency.';
comment on column kapitaal.fills.data is
  'The trade as the exchange reported it (raw document); null when recorded without one.';

create or replace trigger _500_append_only
  before update or delete on kapitaal.fills
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.fills
  for each statement execute function kapitaal.tg__append_only();
comment on trigger _500_append_only on kapitaal.fills is
  'Refuses UPDATE and DELETE of fills rows (tg__append_only, SQLSTATE 42501): the ledger only grows.';
comment on trigger _501_append_only_truncate on kapitaal.fills is
  'Refuses TRUNCATE of fills (tg__append_only, SQLSTATE 42501), which row triggers do not see.';
-- balance__drift reads an account's fills by exchange time since the balance baseline.
create index if not exists fills_account_filled_at_idx on kapitaal.fills (account, filled_at);
--! EndIncluded execution/fills.sql
--! Included execution/balance__drift.sql
-- How far the exchange's balances moved away from what the fills ledger says happened since the baseline.
-- Each of the newest balance_drift_snapshots snapshots is compared with the fills the ledger holds NOW whose
-- exchange time is at or before that snapshot: a fill booked late makes the drift of every past snapshot
-- vanish with it, so only a difference that outlives that many snapshots counts (persistent).
-- (Snapshots carry the engine's clock, fills the exchange's: skew between them is transient the same way.)
create or replace function kapitaal.balance__drift(p_account text default 'default', p_now timestamptz default now())
returns table (asset text, baseline_snapshot_id bigint, baseline_at timestamptz, snapshot_id bigint, snapshot_at timestamptz,
               baseline_balance numeric, expected numeric, actual numeric, exchange_change numeric, ledger_change numeric,
               drift numeric, tolerance numeric, exceeded boolean, exceeded_snapshots integer, persistent boolean)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  with pol as (
    select c.balance_drift_abs_tolerance as abs_tol, c.balance_drift_rel_tolerance as rel_tol, c.balance_drift_snapshots as n
      from kapitaal.capital_policy c where c.account = p_account
  ), rb as (
    select max(r.requested_at) as since from kapitaal.balance_rebaselines r
     where r.account = p_account and r.requested_at <= p_now
  ), base as (
    select s.snapshot_id as id, s.taken_at as t from kapitaal.balance_snapshots s, rb
     where s.account = p_account and s.taken_at <= p_now and s.taken_at >= coalesce(rb.since, '-infinity')
     order by s.taken_at, s.snapshot_id limit 1
  ), recent as (
    -- The newest n snapshots from the baseline on (the baseline itself has no drift by definition).
    select r.id, r.t, row_number() over (order by r.t desc, r.id desc) as k
      from (select s.snapshot_id as id, s.taken_at as t from kapitaal.balance_snapshots s, base
             where s.account = p_account and s.taken_at <= p_now and (s.taken_at, s.snapshot_id) >= (base.t, base.id)
             order by s.taken_at desc, s.snapshot_id desc limit (select pol.n from pol)) r
  ), base_bal as (
    select a.asset as a, a.balance as b from kapitaal.balance_snapshot_assets a join base on a.snapshot_id = base.id
  ), snap_bal as (
    select a.snapshot_id as id, a.asset as a, a.balance as b
      from kapitaal.balance_snapshot_assets a join recent on a.snapshot_id = recent.id
  ), ledger as (
    -- A fill moves the base asset by ±qty and the quote asset by its cash_delta (−cost − fee or +cost − fee).
    -- Summed once per symbol: fills up to the oldest compared snapshot fall into one bucket (its time), only the
    -- few after it keep their own time, so the per-snapshot sums below read a handful of rows.
    select f.symbol, greatest(f.filled_at, (select min(recent.t) from recent)) as t,
           sum(case when f.side = 'buy' then f.qty else -f.qty end) as base_d,
           sum(case when f.side = 'sell' then f.price * f.qty else -(f.price * f.qty) end - f.fee) as quote_d
      from base, kapitaal.fills f
     where f.account = p_account and f.filled_at > base.t and f.filled_at <= (select max(recent.t) from recent)
     group by 1, 2
  ), moves as (
    select split_part(l.symbol, '/', 1) as a, l.t, l.base_d as d from ledger l
    union all
    select split_part(l.symbol, '/', 2), l.t, l.quote_d from ledger l
  ), assets as (
    select base_bal.a from base_bal union select snap_bal.a from snap_bal union select moves.a from moves
  ), per as (
    select r.id, r.t, r.k, x.a, coalesce(bb.b, 0) as b0, coalesce(sb.b, 0) as b1,
           coalesce((select sum(m.d) from moves m where m.a = x.a and m.t <= r.t), 0) as led
      from recent r cross join assets x
      left join base_bal bb on bb.a = x.a
      left join snap_bal sb on sb.id = r.id and sb.a = x.a
  ), calc as (
    select per.*, per.b1 - per.b0 - per.led as dr,
           greatest(pol.abs_tol, pol.rel_tol * greatest(abs(per.b0), abs(per.b1))) as tol
      from per, pol
  ), runs as (
    -- Consecutive exceeding snapshots, newest first.
    select calc.a, coalesce(min(calc.k) filter (where abs(calc.dr) <= calc.tol) - 1, count(*))::integer as run
      from calc group by calc.a
  )
  select c.a, base.id, base.t, c.id, c.t, c.b0, c.b0 + c.led, c.b1, c.b1 - c.b0, c.led, c.dr, c.tol,
         abs(c.dr) > c.tol, runs.run, runs.run >= pol.n
    from calc c join runs on runs.a = c.a cross join base cross join pol
   where c.k = 1
   order by c.a;
$$;
comment on function kapitaal.balance__drift(text, timestamptz) is
  'Per asset, the newest balance snapshot of p_account at or before p_now against the fills ledger since the baseline '
  '(the first snapshot at or after the newest balance__rebaseline, else the account''s first): exchange_change = actual - '
  'baseline_balance; ledger_change = the fills with exchange time after the baseline and at or before the snapshot (base '
  '+qty on buys, -qty on sells; quote -cost - fee on buys, +cost - fee on sells); expected = baseline_balance + '
  'ledger_change; drift = exchange_change - ledger_change; tolerance = greatest(balance_drift_abs_tolerance, '
  'balance_drift_rel_tolerance * the larger balance). exceeded_snapshots counts the newest balance_drift_snapshots '
  'snapshots that exceed it in a row; persistent when all of them do. No snapshot (paper), no policy: no rows.';
--! EndIncluded execution/balance__drift.sql
--! Included execution/balance__record.sql
-- Records one balance snapshot of the account: what the exchange says it holds, per asset, and its drift
-- verdict against the fills ledger (balance_drift_checks, what capital__entry_halt reads).
-- The return type grew (the verdict): drop the first version where it exists.
drop function if exists kapitaal.balance__record(text, jsonb, text, timestamptz);
create or replace function kapitaal.balance__record(
  p_account text,
  p_balances jsonb,
  p_source text,
  p_now timestamptz default now()
)
returns table (snapshot_id bigint, assets integer, persistent boolean, reason text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_bad text;
  v_id bigint;
  v_n integer;
  v_snapshots integer;
  v_persistent boolean;
  v_exceeded text[];
  v_reason text;
begin
  if p_balances is null or jsonb_typeof(p_balances) <> 'object' then
    raise exception 'balance__record: balances must be a JSON object {asset: "decimal string"}' using errcode = '22023';
  end if;
  -- Decimal strings only: a JSON number may already have passed through a float.
  select string_agg(b.key, ', ' order by b.key) into v_bad
    from jsonb_each(p_balances) b
   where b.key = '' or jsonb_typeof(b.value) <> 'string' or (b.value #>> '{}') !~ '^-?[0-9]+(\.[0-9]+)?$';
  if v_bad is not null then
    raise exception 'balance__record: no decimal string balance for %', v_bad using errcode = '22023';
  end if;
  v_n := (select count(*) from jsonb_object_keys(p_balances));
  insert into kapitaal.balance_snapshots (account, taken_at, source, assets)
  values (p_account, p_now, p_source, v_n)
  returning balance_snapshots.snapshot_id into v_id;
  insert into kapitaal.balance_snapshot_assets (snapshot_id, asset, balance)
  select v_id, b.key, (b.value #>> '{}')::numeric from jsonb_each(p_balances) b;
  -- Judged now, with the ledger as it is: the halt then needs no pass over the fills.
  select coalesce(bool_or(d.persistent), false),
         coalesce(array_agg(d.asset order by d.asset) filter (where d.exceeded), '{}'),
         string_agg(format('%s actual %s, expected %s (drift %s, tolerance %s)', d.asset, d.actual, d.expected, d.drift,
                           d.tolerance), '; ' order by d.asset) filter (where d.persistent)
    into v_persistent, v_exceeded, v_reason
    from kapitaal.balance__drift(p_account, p_now) d;
  if v_persistent then
    select c.balance_drift_snapshots into v_snapshots from kapitaal.capital_policy c where c.account = p_account;
    v_reason := format('BALANCE_DRIFT: the exchange balances of account %s disagree with the fills ledger in the last %s '
                       'balance snapshots: %s; find the cause, then select * from kapitaal.balance__rebaseline(%L) '
                       '(exits go on)', p_account, v_snapshots, v_reason, p_account);
  else
    v_reason := null;
  end if;
  insert into kapitaal.balance_drift_checks (snapshot_id, account, taken_at, persistent, exceeded_assets, reason)
  values (v_id, p_account, p_now, v_persistent, v_exceeded, v_reason);
  return query select v_id, v_n, v_persistent, v_reason;
end
$$;
comment on function kapitaal.balance__record(text, jsonb, text, timestamptz) is
  'Records one balance snapshot of p_account at p_now: p_balances is {asset: "total balance"} with WS v2 asset names '
  'and decimal strings (JSON numbers are refused: money never passes through a float). Then judges it with '
  'balance__drift(p_account, p_now) and stores the verdict in balance_drift_checks (persistent, and the BALANCE_DRIFT '
  'reason capital__entry_halt gives); returns both. Called by the capital__balances task with the exchange''s Balance.';
--! EndIncluded execution/balance__record.sql
--! Included execution/balance__rebaseline.sql
-- The operator's "these balances are right": after a deposit, a withdrawal or a deliberate manual trade.
create or replace function kapitaal.balance__rebaseline(
  p_account text default 'default',
  p_reason text default null,
  p_now timestamptz default now()
)
returns table (rebaseline_id bigint, requested_at timestamptz)
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  insert into kapitaal.balance_rebaselines (account, requested_at, reason)
  values (p_account, p_now, p_reason)
  returning balance_rebaselines.rebaseline_id, balance_rebaselines.requested_at;
$$;
comment on function kapitaal.balance__rebaseline(text, text, timestamptz) is
  'Starts the balance drift check afresh for p_account: the first balance snapshot taken at or after p_now becomes the '
  'baseline, so a BALANCE_DRIFT halt ends with it (and until that snapshot there is nothing to compare: no halt). Use '
  'it after a deposit, a withdrawal or a deliberate manual trade, once the drift is explained.';
--! EndIncluded execution/balance__rebaseline.sql
--! Included execution/capital__entry_halt.sql
-- Whether new entries are stopped for an account, and why: the operator's kill switch, balances on the
-- exchange that persistently disagree with the fills ledger, or the daily loss limit measured on the
-- capital snapshots the runtime takes every few seconds. Exits never stop.
create or replace function kapitaal.capital__entry_halt(p_now timestamptz default now(), p_account text default 'default')
returns table (halted boolean, reason text, day_start_equity numeric, equity numeric, day_loss_pct numeric)
language plpgsql
stable
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pol kapitaal.capital_policy;
  v_day timestamptz := date_trunc('day', p_now, 'UTC');
  v_start kapitaal.capital_snapshots;
  v_now kapitaal.capital_snapshots;
  v_loss numeric;
  v_check kapitaal.balance_drift_checks;
begin
  select * into v_pol from kapitaal.capital_policy c where c.account = p_account;
  if not found then
    return query select true, format('NO_CAPITAL_POLICY: no capital_policy row for account %s', p_account),
                        null::numeric, null::numeric, null::numeric;
    return;
  end if;
  if not v_pol.entries_enabled then
    return query select true, format('ENTRIES_DISABLED: capital_policy.entries_enabled is false for account %s (exits go on)', p_account),
                        null::numeric, null::numeric, null::numeric;
    return;
  end if;
  if v_pol.balance_drift_halt then
    -- Sizing and exits read the ledger: while it disagrees with the account, they work on wrong numbers. The
    -- newest snapshot's verdict holds unless a rebaseline came after it (then nothing is known yet: no halt).
    select * into v_check from kapitaal.balance_drift_checks c
     where c.account = p_account and c.taken_at <= p_now order by c.taken_at desc, c.snapshot_id desc limit 1;
    if v_check.persistent and not exists (
         select from kapitaal.balance_rebaselines r
          where r.account = p_account and r.requested_at > v_check.taken_at and r.requested_at <= p_now) then
      return query select true, v_check.reason, null::numeric, null::numeric, null::numeric;
      return;
    end if;
  end if;
  if v_pol.max_daily_loss_pct is null then
    return query select false, 'no daily loss limit'::text, null::numeric, null::numeric, null::numeric;
    return;
  end if;
  -- The day's base: the newest snapshot before midnight (the equity the day started with), else the
  -- day's first one; now: the newest snapshot, which must be fresh to trade on it.
  select * into v_start from kapitaal.capital_snapshots s
   where s.account = p_account and s.at <= v_day order by s.at desc, s.snapshot_id desc limit 1;
  if not found then
    select * into v_start from kapitaal.capital_snapshots s
     where s.account = p_account and s.at > v_day and s.at <= p_now order by s.at, s.snapshot_id limit 1;
  end if;
  select * into v_now from kapitaal.capital_snapshots s
   where s.account = p_account and s.at <= p_now and s.at >= p_now - v_pol.max_snapshot_age
   order by s.at desc, s.snapshot_id desc limit 1;
  if v_now.snapshot_id is null or v_start.snapshot_id is null then
    -- A limit that cannot be checked holds: trading blind to today's losses is what it exists to prevent.
    return query select true, format('DAILY_LOSS_UNKNOWN: max_daily_loss_pct %s%% is set but there is no capital snapshot '
                                     'at most %s old (the capital__snapshot task takes one every few seconds)',
                                     v_pol.max_daily_loss_pct, v_pol.max_snapshot_age),
                        v_start.equity, null::numeric, null::numeric;
    return;
  end if;
  v_loss := case when v_start.equity > 0 then round((v_start.equity - v_now.equity) / v_start.equity * 100, 6) end;
  if v_loss >= v_pol.max_daily_loss_pct then
    return query select true, format('DAILY_LOSS_LIMIT: equity %s is %s%% below the day''s start %s (limit %s%%); no new '
                                     'entries until %s UTC (exits go on)', v_now.equity, v_loss, v_start.equity,
                                     v_pol.max_daily_loss_pct, to_char(v_day + interval '1 day', 'YYYY-MM-DD HH24:MI')),
                        v_start.equity, v_now.equity, v_loss;
    return;
  end if;
  return query select false, format('daily loss %s%% of limit %s%%', coalesce(v_loss, 0), v_pol.max_daily_loss_pct),
                      v_start.equity, v_now.equity, v_loss;
end
$$;
comment on function kapitaal.capital__entry_halt(timestamptz, text) is
  'Whether new entries are stopped for p_account at p_now, and why: ENTRIES_DISABLED (capital_policy.entries_enabled = '
  'false, the kill switch), BALANCE_DRIFT (the newest balance snapshot''s verdict in '
  'balance_drift_checks is a persistent drift, no balance__rebaseline came after it, and capital_policy.balance_drift_halt '
  'is on; no balance snapshot, as with paper, never halts), DAILY_LOSS_LIMIT (equity of the newest fresh capital snapshot at least max_daily_loss_pct '
  'below the UTC day''s start: the newest snapshot before midnight, else the day''s first), DAILY_LOSS_UNKNOWN (a limit '
  'is set but no fresh snapshot exists: it holds rather than trade blind) or NO_CAPITAL_POLICY. evaluation__place_orders '
  'checks it before sizing; exits never stop.';
--! EndIncluded execution/capital__entry_halt.sql
--! Included orders/execution_jobs__ensure.sql
-- Starts the execution cadences (each task re-queues itself with its job key afterwards).
create or replace function kapitaal.execution_jobs__ensure(p_now timestamptz default now())
returns table (task text, job_id bigint, run_at timestamptz)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_task text;
  v_id bigint;
  v_run_at timestamptz;
begin
  foreach v_task in array array['order__reconcile', 'exits__scan', 'capital__snapshot', 'capital__fee_rates', 'capital__balances'] loop
    -- preserve_run_at: an existing pending cycle keeps its schedule; a missing one starts now.
    select j.id, j.run_at into v_id, v_run_at
      from graphile_worker.add_job(v_task, '{}'::json, job_key => v_task, run_at => p_now,
                                   max_attempts => 3, job_key_mode => 'preserve_run_at') j;
    return query select v_task, v_id, v_run_at;
  end loop;
end
$$;
comment on function kapitaal.execution_jobs__ensure(timestamptz) is
  'Queues the execution cadence jobs order__reconcile, exits__scan, capital__snapshot, capital__fee_rates and capital__balances (job key = task name) unless one is pending '
  '(its run_at is kept). Each run re-queues itself with run_at = now + cadence. Safe to call on every start.';
--! EndIncluded orders/execution_jobs__ensure.sql
--! Included execution/grants.sql
-- Least privilege for execution objects (decision cluster). Tables are written only through the
-- security-definer functions; kapitaal_execution calls them, kapitaal_readonly reads, the ingest writer gets nothing.
revoke all on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance, kapitaal.orders,
  kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy, kapitaal.capital_snapshots,
  kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status, kapitaal.fills_ledger
  from public, kapitaal_ingest_writer;

grant select on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance,
  kapitaal.orders, kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy,
  kapitaal.capital_snapshots, kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status,
  kapitaal.fills_ledger
  to kapitaal_execution, kapitaal_readonly;

-- Append-only ledgers: nobody updates or deletes, not even the owner's grantees (the trigger also refuses).
revoke update, delete, truncate on kapitaal.order_events, kapitaal.fills from kapitaal_execution, kapitaal_readonly;

-- Writers (security definer): execution only.
revoke all on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) from public;
revoke all on function kapitaal.order__begin_submit(bigint, timestamptz) from public;
revoke all on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) from public;
revoke all on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) from public;
revoke all on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) from public;
revoke all on function kapitaal.tg__append_only() from public;
grant execute on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.order__begin_submit(bigint, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) to kapitaal_execution;

-- Readers: pure or read-only functions, for execution and for a DBA with the read-only role.
revoke all on function kapitaal.order__client_id(text, bigint, text) from public;
revoke all on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) from public;
revoke all on function kapitaal.positions__recompute(text) from public;
revoke all on function kapitaal.positions__verify(text) from public;
revoke all on function kapitaal.capital__exposure(text, text) from public;
revoke all on function kapitaal.capital__position_size(text, numeric, timestamptz, text) from public;
revoke all on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) from public;
revoke all on function kapitaal.open_positions__marked(jsonb, text) from public;
grant execute on function kapitaal.order__client_id(text, bigint, text),
  kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric),
  kapitaal.positions__recompute(text),
  kapitaal.positions__verify(text),
  kapitaal.capital__exposure(text, text),
  kapitaal.capital__position_size(text, numeric, timestamptz, text),
  kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text),
  kapitaal.open_positions__marked(jsonb, text)
  to kapitaal_execution, kapitaal_readonly;
-- The runtime's snapshot task (writes capital_snapshots through capital__snapshot).
revoke all on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) from public;
grant execute on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) to kapitaal_execution;
-- Fee rates: execution records the exchange's (task capital__fee_rates) and reads them through fee_rates__for,
-- which is plain SQL so that it inlines into strategy__proposals (hence the table grant).
revoke all on kapitaal.account_fee_rates from public;
revoke all on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) from public;
revoke all on function kapitaal.fee_rates__for(text, text) from public;
grant select on kapitaal.account_fee_rates to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.fee_rates__for(text, text) to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) to kapitaal_execution;
-- The entry halt (kill switch, daily loss limit): placement calls it; operators may ask it why.
revoke all on function kapitaal.capital__entry_halt(timestamptz, text) from public;
grant execute on function kapitaal.capital__entry_halt(timestamptz, text) to kapitaal_execution, kapitaal_readonly;
-- Balance drift: execution records the exchange's balances (task capital__balances); operators rebaseline
-- (as the owner or with kapitaal_execution); everyone may ask balance__drift and read the snapshots.
revoke all on kapitaal.balance_snapshots, kapitaal.balance_snapshot_assets, kapitaal.balance_rebaselines,
  kapitaal.balance_drift_checks from public, kapitaal_ingest_writer;
grant select on kapitaal.balance_snapshots, kapitaal.balance_snapshot_assets, kapitaal.balance_rebaselines,
  kapitaal.balance_drift_checks to kapitaal_execution, kapitaal_readonly;
revoke all on function kapitaal.balance__record(text, jsonb, text, timestamptz) from public;
revoke all on function kapitaal.balance__rebaseline(text, text, timestamptz) from public;
revoke all on function kapitaal.balance__drift(text, timestamptz) from public;
grant execute on function kapitaal.balance__record(text, jsonb, text, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.balance__rebaseline(text, text, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.balance__drift(text, timestamptz) to kapitaal_execution, kapitaal_readonly;
--! EndIncluded execution/grants.sql
