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
