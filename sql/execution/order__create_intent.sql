create or replace function kapitaal.order__create_intent(
  p_client_order_id text,
  p_run_id bigint,
  p_symbol text,
  p_side text,
  p_order_type text,
  p_qty numeric,
  p_price numeric,
  p_strategy text,
  p_purpose text,
  p_reason text,
  p_evaluation_id bigint default null,
  p_generation_id bigint default null,
  p_post_only boolean default false,
  p_reference_price numeric default null,
  p_exit_trigger text default null,
  p_position_id bigint default null,
  p_regime text default null,
  p_account text default 'default',
  p_max_attempts integer default 25,
  p_now timestamptz default now()
)
returns table (order_id bigint, client_order_id text, status text, created boolean, job_id bigint)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_pos kapitaal.positions;
  v_pending bigint;
  v_job_id bigint;
begin
  if p_client_order_id is null then
    raise exception 'order__create_intent: client order id is required' using errcode = '22004';
  end if;

  -- Idempotent: the same client id is the same order, whatever happened since.
  select * into v_order from kapitaal.orders o where o.client_order_id = p_client_order_id;
  if not found then
    if p_purpose = 'exit' then
      select * into v_pos from kapitaal.positions p where p.position_id = p_position_id for update;
      if not found or v_pos.closed_at is not null then
        raise exception 'order__create_intent: exit for position % which is not open', p_position_id
          using errcode = '55000';
      end if;
      if (v_pos.account, v_pos.symbol, v_pos.strategy) is distinct from (p_account, p_symbol, p_strategy) then
        raise exception 'order__create_intent: exit order (%, %, %) does not match position % (%, %, %)',
          p_account, p_symbol, p_strategy, p_position_id, v_pos.account, v_pos.symbol, v_pos.strategy
          using errcode = '22023';
      end if;
      if p_qty > v_pos.qty then
        raise exception 'order__create_intent: exit quantity % exceeds position % quantity %', p_qty, p_position_id, v_pos.qty
          using errcode = '22023';
      end if;
      select o.order_id into v_pending from kapitaal.orders o
       where o.position_id = p_position_id and o.purpose = 'exit'
         and o.status in ('new', 'submitting', 'open', 'partially_filled')
       limit 1;
      if found then
        raise exception 'order__create_intent: position % already has exit order % in flight', p_position_id, v_pending
          using errcode = '55000', hint = 'Never two exits for one position: wait for or cancel the first.';
      end if;
    end if;

    insert into kapitaal.orders as o (client_order_id, account, run_id, evaluation_id, generation_id, symbol, side,
                                      order_type, post_only, price, reference_price, qty, strategy, purpose,
                                      exit_trigger, regime, position_id, reason, created_at, updated_at)
    values (p_client_order_id, p_account, p_run_id, p_evaluation_id, p_generation_id, p_symbol, p_side,
            p_order_type, coalesce(p_post_only, false), p_price, coalesce(p_reference_price, p_price), p_qty,
            p_strategy, p_purpose, p_exit_trigger, p_regime, p_position_id, p_reason, p_now, p_now)
    on conflict (client_order_id) do nothing
    returning * into v_order;

    if found then
      insert into kapitaal.order_events (order_id, from_status, to_status, at, data, note)
      values (v_order.order_id, null, 'new', p_now,
              jsonb_build_object('evaluation_id', p_evaluation_id, 'generation_id', p_generation_id),
              'intent: ' || p_reason);
      select (graphile_worker.add_job(
                'order__submit',
                json_build_object('order_id', v_order.order_id),
                job_key => 'order__submit:' || v_order.order_id,
                max_attempts => p_max_attempts)).id
        into v_job_id;
      return query select v_order.order_id, v_order.client_order_id, v_order.status, true, v_job_id;
      return;
    end if;
    -- A concurrent transaction inserted the same client id first; read what it committed.
    select * into v_order from kapitaal.orders o where o.client_order_id = p_client_order_id;
  end if;

  if (v_order.account, v_order.symbol, v_order.side, v_order.order_type, v_order.qty, v_order.price, v_order.purpose)
     is distinct from (p_account, p_symbol, p_side, p_order_type, p_qty, p_price, p_purpose) then
    raise exception 'order__create_intent: client order id % already belongs to order % (% % % % @ %), not to this intent (% % % % @ %)',
      p_client_order_id, v_order.order_id, v_order.side, v_order.order_type, v_order.qty, v_order.symbol, v_order.price,
      p_side, p_order_type, p_qty, p_symbol, p_price
      using errcode = '23505';
  end if;
  return query select v_order.order_id, v_order.client_order_id, v_order.status, false, null::bigint;
end
$$;
comment on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) is
  'Writes an order intent (status new, with a creation event) and queues its order__submit job '
  '(job_key order__submit:<order_id>) in the caller''s transaction: both or neither. Idempotent by client order '
  'id: a repeated call returns the existing order with created = false and queues nothing; the same id with '
  'different terms is an error. Exits must name an open position of the same account/symbol/strategy, not exceed '
  'its quantity, and find no other exit of it in flight.';
