-- The whole paper venue, as the adapter rebuilds it at start.
create or replace function kapitaal.paper_venue__load(p_venue text)
returns table (seq bigint, cursors jsonb, orders jsonb, trades jsonb)
language sql
stable
security definer
set search_path = pg_catalog, kapitaal
as $$
  select v.seq, v.cursors,
         coalesce((select jsonb_agg(o.order_doc order by o.seq) from kapitaal.paper_orders o where o.venue = v.venue), '[]'::jsonb),
         coalesce((select jsonb_agg(t.trade_doc order by t.seq) from kapitaal.paper_trades t where t.venue = v.venue), '[]'::jsonb)
    from kapitaal.paper_venues v
   where v.venue = p_venue
$$;
comment on function kapitaal.paper_venue__load(text) is
  'The saved paper venue: counter, market cursors, every order and every fill (oldest first) as the adapter''s JSON '
  'documents; no row when the venue was never saved. Called once when a paper exchange starts.';
