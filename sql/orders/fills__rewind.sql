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
