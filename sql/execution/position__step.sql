create or replace function kapitaal.position__step(
  p_qty numeric,
  p_cost_basis numeric,
  p_entry_fees_open numeric,
  p_side text,
  p_fill_price numeric,
  p_fill_qty numeric,
  p_fill_fee numeric
)
returns table (qty numeric, cost_basis numeric, entry_fees_open numeric, matched_qty numeric, realised_delta numeric)
language sql
immutable
strict
parallel safe
as $$
  with m as (
    select case when p_side = 'buy' then p_fill_qty else least(p_fill_qty, p_qty) end as matched
  ), r as (
    -- What a sell takes out of the open cost and entry fees: pro rata, or everything when it closes.
    -- trim_scale only drops trailing zeros (same value, shorter to read).
    select m.matched,
           case when p_side = 'buy' or m.matched = 0 then 0::numeric
                when m.matched = p_qty then p_cost_basis
                else trim_scale(p_cost_basis * m.matched / p_qty) end as cost_out,
           case when p_side = 'buy' or m.matched = 0 then 0::numeric
                when m.matched = p_qty then p_entry_fees_open
                else trim_scale(p_entry_fees_open * m.matched / p_qty) end as fees_out
      from m
  )
  select trim_scale(case when p_side = 'buy' then p_qty + p_fill_qty else p_qty - r.matched end),
         trim_scale(case when p_side = 'buy' then p_cost_basis + p_fill_price * p_fill_qty else p_cost_basis - r.cost_out end),
         trim_scale(case when p_side = 'buy' then p_entry_fees_open + p_fill_fee else p_entry_fees_open - r.fees_out end),
         r.matched,
         trim_scale(case when p_side = 'buy' or r.matched = 0 then 0::numeric
                         else p_fill_price * r.matched - r.cost_out - r.fees_out - p_fill_fee end)
    from r
$$;
comment on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) is
  'The position arithmetic of one fill (average cost, fees on both legs), shared by order__record_fill and the '
  'positions__recompute oracle. Buy: qty, cost_basis and entry_fees_open grow. Sell: matched = least(fill, open '
  'qty); cost and entry fees leave pro rata (all of them when the sell closes the position); realised_delta = '
  'price * matched - cost out - entry fees out - sell fee. A sell that matches nothing realises nothing.';
