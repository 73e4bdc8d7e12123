create or replace function kapitaal.capital__snapshot(
  p_marks jsonb,
  p_cash numeric default null,
  p_now timestamptz default now(),
  p_account text default 'default'
)
returns kapitaal.capital_snapshots
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_policy kapitaal.capital_policy;
  v_missing text;
  v_cash numeric;
  v_snap kapitaal.capital_snapshots;
begin
  select * into v_policy from kapitaal.capital_policy c where c.account = p_account;
  if not found then
    raise exception 'capital__snapshot: no capital_policy row for account %', p_account using errcode = 'P0002';
  end if;
  if p_marks is null or jsonb_typeof(p_marks) <> 'object' then
    raise exception 'capital__snapshot: marks must be a JSON object {symbol: price}' using errcode = '22023';
  end if;
  -- Never value a position at a price we do not have.
  select string_agg(distinct p.symbol, ', ') into v_missing
    from kapitaal.positions p
   where p.account = p_account and p.closed_at is null
     and (not p_marks ? p.symbol or jsonb_typeof(p_marks -> p.symbol) not in ('number', 'string')
          or (p_marks ->> p.symbol) !~ '^[0-9]+(\.[0-9]+)?$' or (p_marks ->> p.symbol)::numeric <= 0);
  if v_missing is not null then
    raise exception 'capital__snapshot: no valid positive mark price for open position(s) in %', v_missing
      using errcode = '22023';
  end if;

  if p_cash is not null then
    v_cash := p_cash;
  else
    select v_policy.initial_cash
           + coalesce(sum(case when f.side = 'sell' then f.price * f.qty else -(f.price * f.qty) end - f.fee), 0)
      into v_cash
      from kapitaal.fills f where f.account = p_account;
  end if;

  insert into kapitaal.capital_snapshots as s (account, at, mode, cash, cash_source, positions_value, equity,
                                               allocated_quote, reserved_quote, realised_pnl_total, unrealised_pnl,
                                               fees_total, open_positions, marks)
  select p_account, p_now, v_policy.mode, v_cash, case when p_cash is null then 'ledger' else 'exchange' end,
         o.value, v_cash + o.value, o.cost, e.reserved_quote, r.realised, o.value - o.cost - o.entry_fees,
         r.fees, o.n, p_marks
    from (select coalesce(sum(p.qty * (p_marks ->> p.symbol)::numeric), 0) as value,
                 coalesce(sum(p.cost_basis), 0) as cost,
                 coalesce(sum(p.entry_fees_open), 0) as entry_fees,
                 count(*)::integer as n
            from kapitaal.positions p where p.account = p_account and p.closed_at is null) o,
         (select coalesce(sum(p.realised_pnl), 0) as realised,
                 (select coalesce(sum(f.fee), 0) from kapitaal.fills f where f.account = p_account) as fees
            from kapitaal.positions p where p.account = p_account) r,
         kapitaal.capital__exposure(p_account) e
  returning * into v_snap;
  return v_snap;
end
$$;
comment on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) is
  'Records the account''s equity at p_now: cash (p_cash, the exchange balance in quote, or derived from '
  'initial_cash and the fills ledger when null) plus open positions marked with p_marks {symbol: price}. Raises '
  'when an open position has no valid mark: equity is never computed from a missing price. With ledger cash, '
  'equity = initial_cash + realised_pnl_total + unrealised_pnl exactly (when every sell matched a position).';
