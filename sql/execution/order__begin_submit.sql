create or replace function kapitaal.order__begin_submit(p_order_id bigint, p_now timestamptz default now())
returns table (proceed boolean, must_query_exchange boolean, status text, client_order_id text, submit_attempts integer)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__begin_submit: order % does not exist', p_order_id using errcode = 'P0002';
  end if;

  if v_order.status = 'new' then
    update kapitaal.orders o set submit_attempts = o.submit_attempts + 1 where o.order_id = p_order_id;
    perform kapitaal.order__transition(p_order_id, 'submitting', null, null, p_now, 'submit attempt 1');
    return query select true, false, 'submitting'::text, v_order.client_order_id, v_order.submit_attempts + 1;
  elsif v_order.status = 'submitting' then
    -- An earlier attempt committed 'submitting' and may have reached the exchange before it died.
    update kapitaal.orders o set submit_attempts = o.submit_attempts + 1, updated_at = p_now
     where o.order_id = p_order_id;
    insert into kapitaal.order_events (order_id, from_status, to_status, at, exchange_order_id, note)
    values (p_order_id, 'submitting', 'submitting', p_now, v_order.exchange_order_id,
            format('submit attempt %s: an earlier attempt may have reached the exchange; query client order id %s first',
                   v_order.submit_attempts + 1, v_order.client_order_id));
    return query select true, true, 'submitting'::text, v_order.client_order_id, v_order.submit_attempts + 1;
  else
    -- Already acknowledged or finished: submitting again could double the order.
    return query select false, false, v_order.status, v_order.client_order_id, v_order.submit_attempts;
  end if;
end
$$;
comment on function kapitaal.order__begin_submit(bigint, timestamptz) is
  'Start of the order__submit job, committed before any exchange call. new -> submitting: proceed, no query needed. '
  'Already submitting (an earlier attempt died after this point): proceed, but must_query_exchange = true, i.e. '
  'first look the client order id up on the exchange and only send when it is not there. Any later status: '
  'proceed = false, the order must not be sent again.';
