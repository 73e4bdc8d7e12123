create or replace function kapitaal.capital__position_size(
  p_symbol text,
  p_price numeric,
  p_now timestamptz default now(),
  p_account text default 'default'
)
returns table (
  quote_size numeric, qty numeric, mode text, equity_basis numeric, allocated_quote numeric, reserved_quote numeric,
  symbol_exposure numeric, position_room numeric, total_room numeric, reason text
)
language plpgsql
stable
as $$
#variable_conflict use_column
declare
  v_policy kapitaal.capital_policy;
  v_equity numeric;
  v_total record;
  v_symbol record;
begin
  select * into v_policy from kapitaal.capital_policy c where c.account = p_account;
  if not found then
    return query select 0::numeric, 0::numeric, null::text, null::numeric, null::numeric, null::numeric,
                        null::numeric, null::numeric, null::numeric, 'no_capital_policy'::text;
    return;
  end if;
  select * into v_total from kapitaal.capital__exposure(p_account);
  select * into v_symbol from kapitaal.capital__exposure(p_account, p_symbol);

  if p_price is null or p_price <= 0 then
    return query select 0::numeric, 0::numeric, v_policy.mode, null::numeric, v_total.allocated_quote,
                        v_total.reserved_quote, v_symbol.allocated_quote + v_symbol.reserved_quote,
                        null::numeric, null::numeric, 'non_positive_price'::text;
    return;
  end if;

  if v_policy.mode = 'fixed' then
    v_equity := v_policy.fixed_equity;
  else
    select s.equity into v_equity from kapitaal.capital_snapshots s
     where s.account = p_account and s.at <= p_now and s.at >= p_now - v_policy.max_snapshot_age
     order by s.at desc, s.snapshot_id desc limit 1;
    if not found then
      return query select 0::numeric, 0::numeric, v_policy.mode, null::numeric, v_total.allocated_quote,
                          v_total.reserved_quote, v_symbol.allocated_quote + v_symbol.reserved_quote,
                          null::numeric, null::numeric, 'no_fresh_capital_snapshot'::text;
      return;
    end if;
  end if;
  if v_equity <= 0 then
    return query select 0::numeric, 0::numeric, v_policy.mode, v_equity, v_total.allocated_quote,
                        v_total.reserved_quote, v_symbol.allocated_quote + v_symbol.reserved_quote,
                        0::numeric, 0::numeric, 'non_positive_equity'::text;
    return;
  end if;

  return query
  with rooms as (
    select greatest(0, least(coalesce(v_policy.max_position_quote, v_equity * v_policy.max_position_pct / 100),
                             v_equity * v_policy.max_position_pct / 100)
                       - (v_symbol.allocated_quote + v_symbol.reserved_quote)) as position_room,
           greatest(0, v_equity * v_policy.max_total_exposure_pct / 100
                       - v_total.allocated_quote - v_total.reserved_quote) as total_room
  )
  select least(r.position_room, r.total_room),
         least(r.position_room, r.total_room) / p_price,
         v_policy.mode, v_equity, v_total.allocated_quote, v_total.reserved_quote,
         v_symbol.allocated_quote + v_symbol.reserved_quote,
         r.position_room, r.total_room,
         case when r.total_room = 0 then 'total_cap_reached'
              when r.position_room = 0 then 'position_cap_reached'
              when r.total_room < r.position_room then 'ok_total_cap'
              else 'ok_position_cap' end
    from rooms r;
end
$$;
comment on function kapitaal.capital__position_size(text, numeric, timestamptz, text) is
  'Quote size a new entry in p_symbol may take: least(position room, total room), where position room = '
  'least(max_position_quote, equity * max_position_pct %) - exposure in the symbol, and total room = equity * '
  'max_total_exposure_pct % - allocated_quote - reserved_quote (so allocated + reserved + new <= cap). Equity is '
  'fixed_equity in fixed mode and the newest capital snapshot at most max_snapshot_age old in compounding mode. '
  'qty = quote_size / p_price, not yet rounded to the lot (see order__conform_to_limits). reason: ok_position_cap '
  '/ ok_total_cap (which cap bound the size), or why it is 0: total_cap_reached, position_cap_reached, '
  'no_fresh_capital_snapshot, non_positive_equity, non_positive_price, no_capital_policy.';
