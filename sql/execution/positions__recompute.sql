create or replace function kapitaal.positions__recompute(p_account text default null)
returns table (
  account text, symbol text, strategy text, ordinal integer, entry_order_id bigint, opened_at timestamptz,
  closed_at timestamptz, qty numeric, cost_basis numeric, avg_entry_price numeric, entry_fees_open numeric,
  fees numeric, realised_pnl numeric, bought_qty numeric, bought_quote numeric, sold_qty numeric, sold_quote numeric
)
language plpgsql
stable
as $$
declare
  v_key record;
  v_fill record;
  v_step record;
  v_open boolean;
begin
  for v_key in
    select distinct f.account, f.symbol, f.strategy from kapitaal.fills f
     where p_account is null or f.account = p_account
     order by 1, 2, 3
  loop
    v_open := false;
    ordinal := 0;
    for v_fill in
      select f.* from kapitaal.fills f
       where f.account = v_key.account and f.symbol = v_key.symbol and f.strategy = v_key.strategy
       order by f.fill_id
    loop
      if v_fill.side = 'sell' and not v_open then
        continue; -- nothing open: the sell is booked as unmatched cash
      end if;
      if not v_open then
        v_open := true;
        account := v_key.account; symbol := v_key.symbol; strategy := v_key.strategy;
        ordinal := ordinal + 1;
        entry_order_id := v_fill.order_id; opened_at := v_fill.filled_at; closed_at := null;
        qty := 0; cost_basis := 0; entry_fees_open := 0; fees := 0; realised_pnl := 0;
        bought_qty := 0; bought_quote := 0; sold_qty := 0; sold_quote := 0;
      end if;
      select * into v_step
        from kapitaal.position__step(qty, cost_basis, entry_fees_open, v_fill.side, v_fill.price, v_fill.qty, v_fill.fee);
      qty := v_step.qty;
      cost_basis := v_step.cost_basis;
      entry_fees_open := v_step.entry_fees_open;
      fees := fees + v_fill.fee;
      realised_pnl := trim_scale(realised_pnl + v_step.realised_delta);
      if v_fill.side = 'buy' then
        avg_entry_price := trim_scale(v_step.cost_basis / v_step.qty);
        bought_qty := bought_qty + v_fill.qty;
        bought_quote := bought_quote + v_fill.price * v_fill.qty;
      else
        sold_qty := sold_qty + v_step.matched_qty;
        sold_quote := sold_quote + v_fill.price * v_step.matched_qty;
        if qty = 0 then
          closed_at := v_fill.filled_at;
          v_open := false;
          return next;
        end if;
      end if;
    end loop;
    if v_open then
      return next;
    end if;
  end loop;
end
$$;
comment on function kapitaal.positions__recompute(text) is
  'The oracle: derives all positions from the fills ledger from scratch, replaying fills in fill_id order per '
  '(account, symbol, strategy) with the same position__step arithmetic. ordinal numbers the positions of one key '
  '(1 = first opened). Trailing-stop state (high water, armed) depends on marks and is not derived.';

create or replace function kapitaal.positions__verify(p_account text default null)
returns table (
  source text, account text, symbol text, strategy text, ordinal integer, entry_order_id bigint, opened_at timestamptz,
  closed_at timestamptz, qty numeric, cost_basis numeric, avg_entry_price numeric, entry_fees_open numeric,
  fees numeric, realised_pnl numeric, bought_qty numeric, bought_quote numeric, sold_qty numeric, sold_quote numeric
)
language sql
stable
as $$
  with kept as (
    select p.account, p.symbol, p.strategy,
           (row_number() over (partition by p.account, p.symbol, p.strategy order by p.position_id))::integer,
           p.entry_order_id, p.opened_at, p.closed_at, p.qty, p.cost_basis, p.avg_entry_price, p.entry_fees_open,
           p.fees, p.realised_pnl, p.bought_qty, p.bought_quote, p.sold_qty, p.sold_quote
      from kapitaal.positions p
     where p_account is null or p.account = p_account
  ), derived as (
    select * from kapitaal.positions__recompute(p_account)
  )
  (select 'positions_only', * from kept except select 'positions_only', * from derived)
  union all
  (select 'recomputed_only', * from derived except select 'recomputed_only', * from kept)
$$;
comment on function kapitaal.positions__verify(text) is
  'Compares the positions table with positions__recompute (the fills ledger replayed from scratch), value for '
  'value with exact numeric equality. No rows means they agree; positions_only / recomputed_only rows show the '
  'differences.';
