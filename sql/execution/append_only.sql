-- Shared trigger function for ledgers that may only grow (order_events, fills).
create or replace function kapitaal.tg__append_only()
returns trigger
language plpgsql
as $$
begin
  raise exception '%.% is append-only: % is not allowed', tg_table_schema, tg_table_name, tg_op
    using errcode = '42501', hint = 'Record a new row (a new event or fill) instead of changing history.';
end
$$;
comment on function kapitaal.tg__append_only() is
  'Trigger function that refuses UPDATE, DELETE and TRUNCATE on append-only ledgers (order_events, fills).';
