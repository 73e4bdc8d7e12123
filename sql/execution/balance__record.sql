-- Records one balance snapshot of the account: what the exchange says it holds, per asset.
create or replace function kapitaal.balance__record(
  p_account text,
  p_balances jsonb,
  p_source text,
  p_now timestamptz default now()
)
returns table (snapshot_id bigint, assets integer)
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
  return query select v_id, v_n;
end
$$;
comment on function kapitaal.balance__record(text, jsonb, text, timestamptz) is
  'Records one balance snapshot of p_account at p_now: p_balances is {asset: "total balance"} with WS v2 asset names '
  'and decimal strings (JSON numbers are refused: money never passes through a float). Called by the capital__balances '
  'task with the exchange''s Balance; balance__drift compares the snapshots with the fills ledger.';
