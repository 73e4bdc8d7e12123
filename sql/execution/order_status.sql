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
