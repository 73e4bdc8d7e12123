create or replace function kapitaal.order__conform_to_limits(
  p_side text,
  p_price numeric,
  p_qty numeric,
  p_price_increment numeric,
  p_qty_increment numeric,
  p_qty_min numeric,
  p_cost_min numeric,
  p_mode text default 'round'
)
returns table (ok boolean, price numeric, qty numeric, cost numeric, reason text)
language sql
immutable
parallel safe
as $$
  with c as (
    -- mod() on numeric is exact, so rounding never drifts across a tick boundary.
    select case when p_price_increment > 0 and p_price > 0 then
                  trim_scale(case p_side
                    when 'buy' then p_price - mod(p_price, p_price_increment)
                    when 'sell' then p_price - mod(p_price, p_price_increment)
                                     + case when mod(p_price, p_price_increment) = 0 then 0 else p_price_increment end
                  end)
           end as price,
           case when p_qty_increment > 0 and p_qty > 0 then trim_scale(p_qty - mod(p_qty, p_qty_increment)) end as qty
  ), r as (
    select c.price, c.qty, c.price * c.qty as cost,
           case
             when p_mode is null or p_mode not in ('round', 'strict') then 'invalid_mode'
             when p_side is null or p_side not in ('buy', 'sell') then 'invalid_side'
             when p_price_increment is null or p_qty_increment is null or p_qty_min is null or p_cost_min is null
               or p_price_increment <= 0 or p_qty_increment <= 0 or p_qty_min < 0 or p_cost_min < 0 then 'unknown_limits'
             when p_price is null or p_qty is null or p_price <= 0 or p_qty <= 0 then 'non_positive'
             when p_mode = 'strict' and c.price <> p_price then 'off_tick_price'
             when p_mode = 'strict' and c.qty <> p_qty then 'off_lot_qty'
             when c.price <= 0 then 'price_below_tick'
             when c.qty <= 0 or c.qty < p_qty_min then 'below_min_qty'
             when c.price * c.qty < p_cost_min then 'below_min_cost'
             else 'ok'
           end as reason
      from c
  )
  select r.reason = 'ok', r.price, r.qty, r.cost, r.reason from r
$$;
comment on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) is
  'Makes an order obey the pair''s exchange limits (run_pairs: price_increment, qty_increment, qty_min, cost_min) '
  'or says why it cannot. Never a worse price than intended: a buy price rounds DOWN to the tick, a sell price UP. '
  'The quantity rounds DOWN to the lot step (never more than sized). Then qty >= qty_min and price * qty >= '
  'cost_min must hold (after rounding). p_mode ''strict'' refuses off-tick prices and off-lot quantities instead '
  'of rounding. reason: ok, below_min_qty, below_min_cost, price_below_tick, non_positive, off_tick_price, '
  'off_lot_qty, unknown_limits (a limit missing or not positive), invalid_side, invalid_mode. For market orders '
  'pass the reference price: the cost check uses it.';
