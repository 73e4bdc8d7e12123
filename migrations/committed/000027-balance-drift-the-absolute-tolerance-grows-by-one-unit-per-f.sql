--! Previous: sha1:5a4647a1c40c43589173efabfaa07abb9d2133d6
--! Hash: sha1:4c743ab0ea16f7998a941deb7fe9d654714f0edb
--! Message: balance drift: the absolute tolerance grows by one unit per fill of the asset since the baseline (each fill may round once)

--! split: 1-current.sql
-- Enter migration here

--! split: 2-balance-tolerance.sql
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
--! EndIncluded execution/capital_policy.sql
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
           sum(case when f.side = 'sell' then f.price * f.qty else -(f.price * f.qty) end - f.fee) as quote_d,
           count(*) as n
      from base, kapitaal.fills f
     where f.account = p_account and f.filled_at > base.t and f.filled_at <= (select max(recent.t) from recent)
     group by 1, 2
  ), moves as (
    select split_part(l.symbol, '/', 1) as a, l.t, l.base_d as d, l.n from ledger l
    union all
    select split_part(l.symbol, '/', 2), l.t, l.quote_d, l.n from ledger l
  ), assets as (
    select base_bal.a from base_bal union select snap_bal.a from snap_bal union select moves.a from moves
  ), per as (
    select r.id, r.t, r.k, x.a, coalesce(bb.b, 0) as b0, coalesce(sb.b, 0) as b1,
           coalesce((select sum(m.d) from moves m where m.a = x.a and m.t <= r.t), 0) as led,
           coalesce((select sum(m.n) from moves m where m.a = x.a and m.t <= r.t), 0) as nf
      from recent r cross join assets x
      left join base_bal bb on bb.a = x.a
      left join snap_bal sb on sb.id = r.id and sb.a = x.a
  ), calc as (
    select per.*, per.b1 - per.b0 - per.led as dr,
           -- each fill may round once (the venue moves balances by rounded amounts): the absolute part per fill
           greatest(pol.abs_tol * (1 + per.nf), pol.rel_tol * greatest(abs(per.b0), abs(per.b1))) as tol
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
  'ledger_change; drift = exchange_change - ledger_change; tolerance = greatest(balance_drift_abs_tolerance * (1 + the '
  'asset''s fills since the baseline), balance_drift_rel_tolerance * the larger balance). exceeded_snapshots counts the newest balance_drift_snapshots '
  'snapshots that exceed it in a row; persistent when all of them do. No snapshot (paper), no policy: no rows.';
--! EndIncluded execution/balance__drift.sql
