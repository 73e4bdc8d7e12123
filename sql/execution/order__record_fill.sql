create or replace function kapitaal.order__record_fill(
  p_order_id bigint,
  p_exchange text,
  p_exchange_trade_id text,
  p_price numeric,
  p_qty numeric,
  p_fee numeric,
  p_liquidity text,
  p_filled_at timestamptz,
  p_data jsonb default null,
  p_now timestamptz default now()
)
returns table (fill_id bigint, is_new boolean, order_status text, position_id bigint)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_fill kapitaal.fills;
  v_pos kapitaal.positions;
  v_has_pos boolean;
  v_step record;
  v_position_id bigint;
  v_filled numeric;
  v_status text;
begin
  -- Serialises with transitions and other fills of this order.
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__record_fill: order % does not exist', p_order_id using errcode = 'P0002';
  end if;

  select * into v_fill from kapitaal.fills f where f.exchange = p_exchange and f.exchange_trade_id = p_exchange_trade_id;
  if found then
    if (v_fill.order_id, v_fill.price, v_fill.qty, v_fill.fee) is distinct from (p_order_id, p_price, p_qty, p_fee) then
      raise exception 'order__record_fill: % trade % is already booked as order % % @ % fee %, not order % % @ % fee %',
        p_exchange, p_exchange_trade_id, v_fill.order_id, v_fill.qty, v_fill.price, v_fill.fee,
        p_order_id, p_qty, p_price, p_fee using errcode = '23505';
    end if;
    return query select v_fill.fill_id, false, v_order.status, v_fill.position_id;
    return;
  end if;

  if p_price is null or p_price <= 0 or p_qty is null or p_qty <= 0 or p_fee is null or p_fee < 0 then
    raise exception 'order__record_fill: price and qty must be positive and fee not negative (got % @ %, fee %)',
      p_qty, p_price, p_fee using errcode = '22023';
  end if;
  if v_order.status in ('new', 'rejected') then
    raise exception 'order__record_fill: order % is %, it cannot have fills', p_order_id, v_order.status
      using errcode = '55000';
  end if;
  v_filled := v_order.filled_qty + p_qty;
  if v_filled > v_order.qty then
    raise exception 'order__record_fill: trade % would overfill order % (% + % > %)',
      p_exchange_trade_id, p_order_id, v_order.filled_qty, p_qty, v_order.qty using errcode = '23514';
  end if;

  -- One writer per position key: two orders of one key cannot both open a position.
  perform pg_advisory_xact_lock(hashtextextended(
    format('kapitaal.positions:%s:%s:%s', v_order.account, v_order.symbol, v_order.strategy), 0));
  select * into v_pos from kapitaal.positions p
   where p.account = v_order.account and p.symbol = v_order.symbol and p.strategy = v_order.strategy
     and p.closed_at is null
   for update;
  v_has_pos := found;

  if v_order.side = 'buy' or v_has_pos then
    select * into v_step from kapitaal.position__step(
      case when v_has_pos then v_pos.qty else 0 end,
      case when v_has_pos then v_pos.cost_basis else 0 end,
      case when v_has_pos then v_pos.entry_fees_open else 0 end,
      v_order.side, p_price, p_qty, p_fee);
  end if;

  if v_order.side = 'buy' and not v_has_pos then
    insert into kapitaal.positions as p (account, symbol, strategy, entry_order_id, opened_run_id, entry_regime,
                                         opened_at, qty, cost_basis, avg_entry_price, entry_fees_open, fees,
                                         realised_pnl, bought_qty, bought_quote, sold_qty, sold_quote,
                                         high_water_price, updated_at)
    values (v_order.account, v_order.symbol, v_order.strategy, v_order.order_id, v_order.run_id, v_order.regime,
            p_filled_at, v_step.qty, v_step.cost_basis, trim_scale(v_step.cost_basis / v_step.qty), v_step.entry_fees_open, p_fee,
            0, p_qty, p_price * p_qty, 0, 0, p_price, p_now)
    returning p.position_id into v_position_id;
  elsif v_order.side = 'buy' then
    update kapitaal.positions p
       set qty = v_step.qty, cost_basis = v_step.cost_basis, avg_entry_price = trim_scale(v_step.cost_basis / v_step.qty),
           entry_fees_open = v_step.entry_fees_open, fees = p.fees + p_fee,
           bought_qty = p.bought_qty + p_qty, bought_quote = p.bought_quote + p_price * p_qty,
           high_water_price = greatest(p.high_water_price, p_price), updated_at = p_now
     where p.position_id = v_pos.position_id;
    v_position_id := v_pos.position_id;
  elsif v_has_pos then
    update kapitaal.positions p
       set qty = v_step.qty, cost_basis = v_step.cost_basis, entry_fees_open = v_step.entry_fees_open,
           fees = p.fees + p_fee, realised_pnl = trim_scale(p.realised_pnl + v_step.realised_delta),
           sold_qty = p.sold_qty + v_step.matched_qty, sold_quote = p.sold_quote + p_price * v_step.matched_qty,
           closed_at = case when v_step.qty = 0 then p_filled_at end, updated_at = p_now
     where p.position_id = v_pos.position_id;
    v_position_id := v_pos.position_id;
  end if;

  insert into kapitaal.fills as f (exchange, exchange_trade_id, order_id, account, symbol, side, strategy, price, qty,
                                   fee, liquidity, filled_at, recorded_at, position_id, unmatched_qty, data)
  values (p_exchange, p_exchange_trade_id, p_order_id, v_order.account, v_order.symbol, v_order.side,
          v_order.strategy, p_price, p_qty, p_fee, p_liquidity, p_filled_at, p_now, v_position_id,
          case when v_position_id is null then p_qty else p_qty - coalesce(v_step.matched_qty, 0) end, p_data)
  returning * into v_fill;

  update kapitaal.orders o
     set filled_qty = v_filled,
         filled_quote = o.filled_quote + p_price * p_qty,
         fees = o.fees + p_fee,
         avg_fill_price = (o.filled_quote + p_price * p_qty) / v_filled,
         position_id = coalesce(o.position_id, v_position_id),
         updated_at = p_now
   where o.order_id = p_order_id;

  v_status := v_order.status;
  if not (select s.terminal from kapitaal.order_statuses s where s.status = v_order.status) then
    v_status := case when v_filled = v_order.qty then 'filled' else 'partially_filled' end;
    perform kapitaal.order__transition(
      p_order_id, v_status, null,
      jsonb_build_object('fill_id', v_fill.fill_id, 'exchange_trade_id', p_exchange_trade_id, 'price', p_price,
                         'qty', p_qty, 'fee', p_fee, 'liquidity', p_liquidity),
      p_now, format('fill %s of %s', v_filled, v_order.qty));
  end if;
  return query select v_fill.fill_id, true, v_status, v_position_id;
end
$$;
comment on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) is
  'Books one exchange trade of an order: appends it to the fills ledger, updates the order''s filled quantity, '
  'quote, fees and average price, moves the order to partially_filled or filled (a terminal order such as a '
  'cancelled one keeps its status), and applies it to the position of the order''s (account, symbol, strategy) '
  'with position__step. A replayed trade (same exchange and trade id, same terms) returns is_new = false and '
  'changes nothing; the same trade id with other terms, a fill of a new or rejected order, or an overfill raises.';
