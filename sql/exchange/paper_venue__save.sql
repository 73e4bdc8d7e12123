-- One save of the paper venue: the orders that changed, the new fills, the counter and cursors, in
-- one transaction, so a crash leaves either the state before or after an operation.
create or replace function kapitaal.paper_venue__save(
  p_venue text, p_seq bigint, p_cursors jsonb, p_orders jsonb, p_trades jsonb
)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, kapitaal
as $$
declare
  v_seq bigint;
begin
  if jsonb_typeof(p_orders) <> 'array' or jsonb_typeof(p_trades) <> 'array' then
    raise exception 'paper_venue__save: orders and trades must be JSON arrays' using errcode = '22023';
  end if;
  -- The counter never moves back: fills are numbered by it (the engine's paper fills cursor), so a
  -- second process saving an older copy of the venue would reuse fill numbers.
  select v.seq into v_seq from kapitaal.paper_venues v where v.venue = p_venue for update;
  if v_seq > p_seq then
    raise exception 'paper_venue__save: venue % is at seq %, this save is at % (another process owns this paper venue?)',
      p_venue, v_seq, p_seq using errcode = '40001';
  end if;
  insert into kapitaal.paper_venues as v (venue, seq, cursors, saved_at)
  values (p_venue, p_seq, p_cursors, now())
  on conflict (venue) do update
    set seq = excluded.seq, cursors = v.cursors || excluded.cursors, saved_at = excluded.saved_at;
  insert into kapitaal.paper_orders as o (venue, txid, seq, cl_ord_id, symbol, status, order_doc, updated_at)
  select p_venue, e->>'txid', (e->>'seq')::bigint, e->>'clOrdId', e->>'symbol', e->>'status', e, now()
    from jsonb_array_elements(p_orders) e
  on conflict (venue, txid) do update
    set status = excluded.status, order_doc = excluded.order_doc, updated_at = excluded.updated_at;
  insert into kapitaal.paper_trades (venue, seq, txid, order_txid, symbol, trade_doc)
  select p_venue, (e->>'seq')::bigint, e->>'txid', e->>'orderTxid', e->>'symbol', e
    from jsonb_array_elements(p_trades) e
  on conflict (venue, seq) do nothing;
end
$$;
comment on function kapitaal.paper_venue__save(text, bigint, jsonb, jsonb, jsonb) is
  'Saves one step of the paper venue: p_orders (changed orders, upserted by txid), p_trades (new fills, kept once '
  'by seq), the venue counter p_seq and the market cursors (merged per symbol). Refuses (40001) a save whose '
  'counter is behind the stored one, i.e. a second process writing the same venue. Called by src/exchange/paper-store.ts.';
