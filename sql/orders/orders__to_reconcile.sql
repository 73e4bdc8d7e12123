-- The orders the reconcile task asks the exchange about.
create or replace function kapitaal.orders__to_reconcile(p_now timestamptz default now(), p_stuck_after interval default interval '2 minutes')
returns table (order_id bigint, client_order_id text, exchange_order_id text, status text, symbol text, post_only boolean,
               purpose text, maker_action text, maker_reason text)
language sql
stable
security definer
set search_path = kapitaal, pg_temp
as $$
  select o.order_id, o.client_order_id, o.exchange_order_id, o.status, o.symbol, o.post_only, o.purpose,
         d.action, d.reason
    from kapitaal.orders o
    left join lateral (
      select * from kapitaal.order__maker_fallback_decision(o.order_id, p_now)
       where o.post_only and o.purpose = 'entry') d on true
   where o.status in ('open', 'partially_filled')
      -- A submit that stopped half-way (its job gave up): the exchange may have the order.
      or (o.status = 'submitting' and o.updated_at < p_now - p_stuck_after)
      -- Maker entries cancelled without a fallback decision yet.
      or (o.post_only and o.purpose = 'entry' and o.status in ('cancelled', 'expired') and o.filled_qty < o.qty
          and o.updated_at >= p_now - (kapitaal.order_policy__for(o.strategy)).maker_fallback_window
          and not exists (select 1 from kapitaal.maker_fallbacks m where m.order_id = o.order_id))
   order by o.order_id
$$;
comment on function kapitaal.orders__to_reconcile(timestamptz, interval) is
  'Orders whose status the reconcile task syncs with the exchange: working ones (open, partially_filled), submits '
  'stuck in submitting longer than p_stuck_after, and recently cancelled maker entries without a maker_fallbacks '
  'row; for maker entries with the maker fallback decision (wait, cancel, cancel_and_taker, none).';
