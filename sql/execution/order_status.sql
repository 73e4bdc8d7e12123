create or replace view kapitaal.order_status as
select o.order_id, o.client_order_id, o.exchange_order_id, o.account, o.symbol, o.side, o.order_type, o.post_only,
       o.price, o.qty, o.filled_qty, o.avg_fill_price, o.fees, o.status, s.terminal, o.purpose, o.strategy,
       o.exit_trigger, o.position_id, o.evaluation_id, o.generation_id, o.submit_attempts, o.reason,
       o.created_at, o.updated_at,
       e.event_id as last_event_id, e.from_status as last_from_status, e.at as last_event_at, e.note as last_event_note,
       (select count(*) from kapitaal.fills f where f.order_id = o.order_id) as fill_count
  from kapitaal.orders o
  join kapitaal.order_statuses s on s.status = o.status
  left join lateral (
    select ev.event_id, ev.from_status, ev.at, ev.note from kapitaal.order_events ev
     where ev.order_id = o.order_id order by ev.event_id desc limit 1) e on true;
comment on view kapitaal.order_status is
  'Every order with its current status, whether that is terminal, its fill totals and its last event '
  '(order_events). Filter on terminal = false for the orders still working.';

-- Column comments (\d+ in psql). Money columns are in the pair's quote currency, quantities in base currency.
comment on column kapitaal.order_status.order_id is 'orders.order_id: identity, in creation order.';
comment on column kapitaal.order_status.client_order_id is 'orders.client_order_id: deterministic id sent to Kraken as cl_ord_id.';
comment on column kapitaal.order_status.exchange_order_id is 'orders.exchange_order_id: Kraken txid once acknowledged; null before.';
comment on column kapitaal.order_status.account is 'orders.account: trading account (capital_policy.account).';
comment on column kapitaal.order_status.symbol is 'orders.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.order_status.side is 'orders.side: buy (entries) or sell (exits).';
comment on column kapitaal.order_status.order_type is 'orders.order_type: limit or market.';
comment on column kapitaal.order_status.post_only is 'orders.post_only: a limit order that must rest on the book (maker only).';
comment on column kapitaal.order_status.price is 'orders.price: limit price, quote per base; null for market orders.';
comment on column kapitaal.order_status.qty is 'orders.qty: order quantity, base currency.';
comment on column kapitaal.order_status.filled_qty is 'orders.filled_qty: sum of the quantities of the order''s fills, base currency.';
comment on column kapitaal.order_status.avg_fill_price is 'orders.avg_fill_price: filled quote / filled_qty, quote per base.';
comment on column kapitaal.order_status.fees is 'orders.fees: sum of the order''s fill fees, quote currency.';
comment on column kapitaal.order_status.status is 'orders.status: current lifecycle status (order_statuses); history in order_events.';
comment on column kapitaal.order_status.terminal is
  'order_statuses.terminal of the status: true when no transition leaves it; false = the order is still working.';
comment on column kapitaal.order_status.purpose is 'orders.purpose: entry (buy) or exit (sell of position_id).';
comment on column kapitaal.order_status.strategy is 'orders.strategy: strategy that decided the order; an exit carries its position''s.';
comment on column kapitaal.order_status.exit_trigger is 'orders.exit_trigger: for exits, the rule that fired or manual; null for entries.';
comment on column kapitaal.order_status.position_id is
  'orders.position_id: the position the order opened or added to (set at the first fill) or closes.';
comment on column kapitaal.order_status.evaluation_id is 'orders.evaluation_id: the evaluation that decided it; null for exits from the exit loop.';
comment on column kapitaal.order_status.generation_id is 'orders.generation_id: the state generation the decision read.';
comment on column kapitaal.order_status.submit_attempts is 'orders.submit_attempts: how often the submit job started on the order.';
comment on column kapitaal.order_status.reason is 'orders.reason: why the order exists, in words.';
comment on column kapitaal.order_status.created_at is 'orders.created_at: p_now of order__create_intent.';
comment on column kapitaal.order_status.updated_at is 'orders.updated_at: p_now of the last write to the order (submit, transition, fill).';
comment on column kapitaal.order_status.last_event_id is 'order_events.event_id of the order''s newest event (highest event_id).';
comment on column kapitaal.order_status.last_from_status is
  'order_events.from_status of that event: the status before it; null when it is the creation event.';
comment on column kapitaal.order_status.last_event_at is 'order_events.at of that event (p_now of the writing function).';
comment on column kapitaal.order_status.last_event_note is 'order_events.note of that event: why, in words.';
comment on column kapitaal.order_status.fill_count is 'Number of fills rows of the order.';
