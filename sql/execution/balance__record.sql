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
