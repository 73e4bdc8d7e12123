--! Previous: sha1:4c743ab0ea16f7998a941deb7fe9d654714f0edb
--! Hash: sha1:881c53a92c3eb7fe443e25b1de6bda2b06c6ea12
--! Message: a final exchange status waits for the order's fills: cancelled/expired/rejected is applied only once the ledger has booked what the exchange reports executed

--! split: 1-current.sql
-- Enter migration here

--! split: 2-cancel-waits-for-fills.sql
--! Included orders/order__apply_exchange_state.sql
-- What the exchange says about one of our orders, applied to the OrderTracker. Fills are booked by
-- order__record_fill (they move an order to partially_filled/filled); this function records the
-- acknowledgement and the exchange's final verdicts (cancelled, expired, rejected).
-- A final verdict waits for the order's fills: while the exchange reports more executed (p_data qty_exec)
-- than the ledger has booked, the order stays working here. Otherwise a market exit that filled in part
-- before Kraken cancelled the rest would look over while its position still shows the whole quantity,
-- and the exit scan would sell the whole quantity again.
create or replace function kapitaal.order__apply_exchange_state(
  p_order_id bigint,
  p_exchange_status text,
  p_exchange_order_id text,
  p_data jsonb default null,
  p_now timestamptz default now(),
  p_note text default null
)
returns table (order_id bigint, from_status text, to_status text, changed boolean, note text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_to text;
  v_t record;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__apply_exchange_state: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  if p_exchange_status not in ('new', 'open', 'partially_filled', 'filled', 'cancelled', 'rejected', 'expired') then
    raise exception 'order__apply_exchange_state: unknown exchange status %', p_exchange_status using errcode = '22023';
  end if;
  -- Working or filled on the exchange: acknowledged. The fills themselves come from the fills ledger.
  v_to := case when p_exchange_status in ('new', 'open', 'partially_filled', 'filled') then 'open' else p_exchange_status end;

  if v_to = 'open' and v_order.status in ('open', 'partially_filled', 'filled') then
    -- Already past the acknowledgement: only learn the txid if we did not know it.
    v_to := v_order.status;
  end if;
  if v_to in ('cancelled', 'expired', 'rejected') and v_order.status in ('open', 'partially_filled')
     and coalesce((p_data ->> 'qty_exec')::numeric, 0) > v_order.filled_qty then
    return query select p_order_id, v_order.status, v_order.status, false,
                        format('exchange reports %s with %s executed, %s booked here: final once its fills are booked (fills__poll)',
                               p_exchange_status, trim_scale((p_data ->> 'qty_exec')::numeric), trim_scale(v_order.filled_qty));
    return;
  end if;
  if v_order.status = v_to or exists (select 1 from kapitaal.order_status_transitions t
                                       where t.from_status = v_order.status and t.to_status = v_to) then
    select * into v_t from kapitaal.order__transition(p_order_id, v_to, p_exchange_order_id, p_data, p_now,
                                                      coalesce(p_note, 'exchange reports ' || p_exchange_status));
    return query select p_order_id, v_t.from_status, v_t.to_status, v_t.changed, coalesce(p_note, 'exchange reports ' || p_exchange_status);
  else
    -- e.g. the exchange says cancelled for an order our ledger has filled: keep ours, say so.
    return query select p_order_id, v_order.status, v_order.status, false,
                        format('exchange reports %s, order is %s here: no transition %s -> %s; left as is',
                               p_exchange_status, v_order.status, v_order.status, v_to);
  end if;
end
$$;
comment on function kapitaal.order__apply_exchange_state(bigint, text, text, jsonb, timestamptz, text) is
  'Applies the exchange''s status of an order (our vocabulary: new/open/partially_filled/filled map to the '
  'acknowledgement open; cancelled, rejected, expired are final) through order__transition, learning the txid. Fills '
  'are not booked here: order__record_fill moves orders to partially_filled/filled. A final status waits while the '
  'exchange reports more executed (p_data->>''qty_exec'') than the ledger has booked: the order stays working, so no '
  'second exit or fallback is sized on a quantity already traded. A status the transition table does not allow from the '
  'current one (e.g. cancelled after filled) changes nothing and says why in note.';
--! EndIncluded orders/order__apply_exchange_state.sql
