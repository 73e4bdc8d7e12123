create or replace function kapitaal.capital__exposure(p_account text default 'default', p_symbol text default null)
returns table (allocated_quote numeric, reserved_quote numeric)
language sql
stable
as $$
  select (select coalesce(sum(p.cost_basis), 0) from kapitaal.positions p
           where p.account = p_account and p.closed_at is null and (p_symbol is null or p.symbol = p_symbol)),
         (select coalesce(sum((o.qty - o.filled_qty) * coalesce(o.price, o.reference_price)), 0) from kapitaal.orders o
           where o.account = p_account and o.purpose = 'entry'
             and o.status in ('new', 'submitting', 'open', 'partially_filled')
             and (p_symbol is null or o.symbol = p_symbol))
$$;
comment on function kapitaal.capital__exposure(text, text) is
  'Capital in use by an account (optionally one symbol): allocated_quote = cost basis of the open positions, '
  'reserved_quote = unfilled rest of active entry orders at their limit (or reference) price.';
