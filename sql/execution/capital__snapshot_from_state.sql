-- The runtime's equity snapshot: open positions marked at the mid of their newest run_symbol_state
-- row on this cluster (as exits__scan marks them), cash from the fills ledger. Compounding sizes
-- from these snapshots, so without a runtime caller compounding mode could never trade.
create or replace function kapitaal.capital__snapshot_from_state(
  p_now timestamptz default now(),
  p_account text default 'default',
  p_max_mark_age interval default interval '30 seconds'
)
returns table (taken boolean, snapshot_id bigint, equity numeric, open_positions integer, reason text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_marks jsonb;
  v_missing text;
  v_snap kapitaal.capital_snapshots;
begin
  if not exists (select 1 from kapitaal.capital_policy c where c.account = p_account) then
    return query select false, null::bigint, null::numeric, null::integer,
                        format('NO_CAPITAL_POLICY: no capital_policy row for account %s', p_account);
    return;
  end if;
  with m as (
    select p.symbol, st.mid, p_now - st.refreshed_at as age
      from (select distinct p.symbol from kapitaal.positions p
             where p.account = p_account and p.closed_at is null) p
      left join lateral (select s.mid, s.refreshed_at from kapitaal.run_symbol_state s where s.symbol = p.symbol
                          order by s.refreshed_at desc, s.run_id desc limit 1) st on true
  )
  select coalesce(jsonb_object_agg(m.symbol, m.mid::text) filter (where m.mid > 0 and m.age <= p_max_mark_age), '{}'::jsonb),
         string_agg(format('%s (%s)', m.symbol, case when m.mid is null or m.mid <= 0 then 'no mid'
                                                     else format('state %s old', date_trunc('second', m.age)) end), ', '
                    order by m.symbol) filter (where not coalesce(m.mid > 0 and m.age <= p_max_mark_age, false))
    into v_marks, v_missing
    from m;
  -- Equity is never computed from a missing or stale price: no snapshot then, and compounding waits.
  if v_missing is not null then
    return query select false, null::bigint, null::numeric, null::integer,
                        format('NO_FRESH_MARK: %s; marks must be at most %s old', v_missing, p_max_mark_age);
    return;
  end if;
  v_snap := kapitaal.capital__snapshot(v_marks, null, p_now, p_account);
  return query select true, v_snap.snapshot_id, v_snap.equity, v_snap.open_positions,
                      format('SNAPSHOT: equity %s (cash %s from the ledger + positions %s at the state mid)',
                             v_snap.equity, v_snap.cash, v_snap.positions_value);
end
$$;
comment on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) is
  'The runtime''s capital snapshot (task capital__snapshot): marks every open position at the mid of its newest '
  'run_symbol_state row on this cluster and calls capital__snapshot with ledger cash. Takes none (taken = false, '
  'reason NO_FRESH_MARK or NO_CAPITAL_POLICY) when a position has no mid or only one older than p_max_mark_age: '
  'equity is never computed from a missing or stale price.';
