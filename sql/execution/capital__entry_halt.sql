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
