-- Fills the exchange reports for one of our orders that the ledger does not hold. The reconcile task
-- asks after querying the order; a shortfall that outlives the grace period means a trade the fills
-- cursor passed by (e.g. listed late by TradesHistory, later than the adapter's look-back covers).
create or replace function kapitaal.order__fills_missing(
  p_order_id bigint,
  p_exchange_qty_exec numeric,
  p_exchange_trade_ids text[] default '{}',
  p_closed_at timestamptz default null,
  p_now timestamptz default now(),
  p_grace interval default interval '90 seconds'
)
returns table (order_id bigint, booked_qty numeric, exchange_qty_exec numeric, shortfall numeric,
               missing_trade_ids text[], overdue boolean)
language sql
stable
security definer
set search_path = kapitaal, pg_temp
as $$
  select o.order_id, o.filled_qty, p_exchange_qty_exec, s.shortfall,
         coalesce((select array_agg(t order by t)
                     from unnest(p_exchange_trade_ids) t
                    where not exists (select 1 from kapitaal.fills f
                                       where f.order_id = o.order_id and f.exchange_trade_id = t)), '{}'),
         -- Only a closed order: a working one can fill between the fills poll and the order query.
         s.shortfall > 0 and p_closed_at is not null and p_closed_at < p_now - p_grace
    from kapitaal.orders o
   cross join lateral (select greatest(p_exchange_qty_exec - o.filled_qty, 0) as shortfall) s
   where o.order_id = p_order_id
$$;
comment on function kapitaal.order__fills_missing(bigint, numeric, text[], timestamptz, timestamptz, interval) is
  'For one order: booked_qty (orders.filled_qty), the exchange''s executed quantity, shortfall = exchange minus booked '
  '(never negative), missing_trade_ids = the exchange''s trade ids of the order that are not in the fills ledger for it, '
  'and overdue = a shortfall on an order the exchange closed more than p_grace ago (a fill the fills cursor passed by; '
  'the reconcile task then logs FILL_MISSING and rewinds the cursor with fills__rewind). No row for an unknown order.';

revoke all on function kapitaal.order__fills_missing(bigint, numeric, text[], timestamptz, timestamptz, interval) from public;
grant execute on function kapitaal.order__fills_missing(bigint, numeric, text[], timestamptz, timestamptz, interval)
  to kapitaal_execution, kapitaal_readonly;
