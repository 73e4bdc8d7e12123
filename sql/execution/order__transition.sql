create or replace function kapitaal.order__transition(
  p_order_id bigint,
  p_to_status text,
  p_exchange_order_id text default null,
  p_data jsonb default null,
  p_now timestamptz default now(),
  p_note text default null
)
returns table (order_id bigint, from_status text, to_status text, changed boolean)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_allowed text;
begin
  -- The row lock serialises every writer of this order (transitions, fills, submit starts).
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__transition: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  if not exists (select 1 from kapitaal.order_statuses s where s.status = p_to_status) then
    raise exception 'order__transition: unknown order status %', coalesce(quote_literal(p_to_status), 'NULL')
      using errcode = '22023';
  end if;
  if p_exchange_order_id is not null and v_order.exchange_order_id is not null
     and p_exchange_order_id <> v_order.exchange_order_id then
    raise exception 'order__transition: order % already has exchange order id %, refusing %',
      p_order_id, v_order.exchange_order_id, p_exchange_order_id using errcode = '23505';
  end if;

  if v_order.status = p_to_status then
    -- A replayed report: nothing changes, except learning a txid we did not know yet.
    if v_order.exchange_order_id is null and p_exchange_order_id is not null then
      update kapitaal.orders o set exchange_order_id = p_exchange_order_id, updated_at = p_now
       where o.order_id = p_order_id;
    end if;
    return query select p_order_id, v_order.status, p_to_status, false;
    return;
  end if;

  if not exists (select 1 from kapitaal.order_status_transitions t
                  where t.from_status = v_order.status and t.to_status = p_to_status) then
    select string_agg(t.to_status, ', ' order by t.to_status) into v_allowed
      from kapitaal.order_status_transitions t where t.from_status = v_order.status;
    raise exception 'order__transition: order % cannot go from % to %', p_order_id, v_order.status, p_to_status
      using errcode = '55000',
            hint = 'Allowed from ' || v_order.status || ': ' || coalesce(v_allowed, 'nothing (terminal status)') || '.';
  end if;

  update kapitaal.orders o
     set status = p_to_status,
         exchange_order_id = coalesce(o.exchange_order_id, p_exchange_order_id),
         updated_at = p_now
   where o.order_id = p_order_id;
  insert into kapitaal.order_events (order_id, from_status, to_status, at, exchange_order_id, data, note)
  values (p_order_id, v_order.status, p_to_status, p_now, coalesce(p_exchange_order_id, v_order.exchange_order_id),
          p_data, p_note);
  return query select p_order_id, v_order.status, p_to_status, true;
end
$$;
comment on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) is
  'Moves an order to p_to_status if order_status_transitions allows it, records the event and the exchange order '
  'id (txid). Locks the order row, so concurrent transitions serialise. A transition to the current status is a '
  'no-op (changed = false: replays are harmless); a transition not allowed raises SQLSTATE 55000 and changes '
  'nothing; a txid different from the recorded one raises 23505.';
