--! Previous: sha1:0ae34c89cb0dc38b36de75eacc5bcb9b82796a84
--! Hash: sha1:05a572439ce4dc087d8c03c647c9b10fd75009dc
--! Message: Missing fills: order__fills_missing (exchange executed quantity and trade ids against the ledger, overdue after a grace) and fills__rewind (move a venue's fills cursor back; the inbox drops re-read trades)

--! split: 1-current.sql
-- Enter migration here

--! split: 2-fills-missing.sql
--! Included orders/order__fills_missing.sql
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
--! EndIncluded orders/order__fills_missing.sql
--! Included orders/fills__rewind.sql
-- Moves a venue's fills cursor back so that the next poll reads the exchange's fills again from there.
-- The inbox keeps each trade once (unique per exchange and trade id), so re-reading is safe; what the
-- cursor had passed by is stored and booked.
create or replace function kapitaal.fills__rewind(p_venue text, p_cursor text, p_now timestamptz default now())
returns table (venue text, previous_cursor text, cursor text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_prev text;
begin
  if p_cursor is null or p_cursor = '' then
    raise exception 'fills__rewind: a cursor is required (null would re-read the whole history)' using errcode = '22004';
  end if;
  select c.cursor into v_prev from kapitaal.exchange_fill_cursors c where c.venue = p_venue for update;
  if not found then
    raise exception 'fills__rewind: venue % has no fills cursor', p_venue using errcode = 'P0002';
  end if;
  update kapitaal.exchange_fill_cursors c set cursor = p_cursor, updated_at = p_now where c.venue = p_venue;
  return query select p_venue, v_prev, p_cursor;
end
$$;
comment on function kapitaal.fills__rewind(text, text, timestamptz) is
  'Sets the venue''s fills cursor to p_cursor (an Exchange.fillsCursorAt value, typically just before an order '
  'opened) and returns the previous one. Used by the reconcile task when order__fills_missing finds an overdue '
  'shortfall; an operator may call it too. Re-read trades are dropped as duplicates by fills__ingest. Raises for an '
  'empty cursor or an unknown venue.';

revoke all on function kapitaal.fills__rewind(text, text, timestamptz) from public;
grant execute on function kapitaal.fills__rewind(text, text, timestamptz) to kapitaal_execution;
--! EndIncluded orders/fills__rewind.sql
