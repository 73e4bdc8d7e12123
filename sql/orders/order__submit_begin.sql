-- First step of the order__submit job: the generation gate for entries that were never sent, then
-- order__begin_submit. Committed before any exchange call.
create or replace function kapitaal.order__submit_begin(p_order_id bigint, p_now timestamptz default now())
returns table (
  action text,
  order_id bigint,
  status text,
  client_order_id text,
  exchange_order_id text,
  symbol text,
  side text,
  order_type text,
  post_only boolean,
  price text,
  qty text,
  purpose text,
  submit_attempts integer,
  gate_allowed boolean,
  reason text,
  marker text
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_gate record;
  v_begin record;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__submit_begin: order % does not exist', p_order_id using errcode = 'P0002';
  end if;

  gate_allowed := true;
  if v_order.purpose = 'entry' and v_order.status in ('new', 'submitting') then
    -- State-first contract, rule 4: an entry goes out only while the decision cluster still shows the
    -- generation its decision read. Exits reduce risk and are not gated (their mark must be fresh instead).
    select * into v_gate from kapitaal.generation_gate__check(v_order.run_id, v_order.generation_id, p_now);
    gate_allowed := v_gate.allowed;
    reason := v_gate.reason;
    if not v_gate.allowed then
      marker := v_gate.marker;
    end if;
    if not v_gate.allowed and v_order.status = 'new' then
      perform kapitaal.order__transition(
        p_order_id, 'rejected', null,
        jsonb_build_object('gate', to_jsonb(v_gate), 'run_id', v_order.run_id, 'generation_id', v_order.generation_id),
        p_now, 'EXECUTION_BLOCKED_GENERATION_MISMATCH: ' || v_gate.reason || '; nothing was sent');
      return query select 'blocked'::text, v_order.order_id, 'rejected'::text, v_order.client_order_id,
                          v_order.exchange_order_id, v_order.symbol, v_order.side, v_order.order_type, v_order.post_only,
                          trim_scale(v_order.price)::text, trim_scale(v_order.qty)::text, v_order.purpose,
                          v_order.submit_attempts, false, v_gate.reason, v_gate.marker;
      return;
    end if;
  end if;

  select * into v_begin from kapitaal.order__begin_submit(p_order_id, p_now);
  action := case when not v_begin.proceed then 'done'
                 when v_begin.must_query_exchange then 'query_first'
                 else 'send' end;
  if action = 'done' then
    reason := format('order is %s: never sent again', v_begin.status);
  elsif action = 'query_first' then
    marker := coalesce(marker, 'ORDER_SUBMIT_RECOVERY_QUERY');
    reason := format('attempt %s: an earlier attempt may have reached the exchange; ask for client order id %s first%s',
                     v_begin.submit_attempts, v_order.client_order_id,
                     case when gate_allowed then '' else '; the gate now blocks, so send nothing if the exchange does not know it' end);
  end if;
  return query select action, v_order.order_id, v_begin.status, v_order.client_order_id, v_order.exchange_order_id,
                      v_order.symbol, v_order.side, v_order.order_type, v_order.post_only, trim_scale(v_order.price)::text,
                      trim_scale(v_order.qty)::text, v_order.purpose, v_begin.submit_attempts, gate_allowed, reason, marker;
end
$$;
comment on function kapitaal.order__submit_begin(bigint, timestamptz) is
  'Start of the order__submit job (commit it before calling the exchange). For an entry still new it first checks '
  'generation_gate__check(run_id, generation_id, p_now): blocked -> the order is rejected with the gate''s reason '
  '(action blocked, marker EXECUTION_BLOCKED_GENERATION_MISMATCH) and nothing is ever sent. Otherwise '
  'order__begin_submit: action send (new -> submitting), query_first (an earlier attempt may have reached the exchange: '
  'look up the client order id and send only if unknown and gate_allowed), or done (already acknowledged or final: '
  'never send again). Prices and quantities are returned as exact text without trailing zeros.';
