--! Previous: sha1:8b9121fb035c1718baf9cb982006c7a44b85daac
--! Hash: sha1:8889369c7284500248e77d7a9bcda4b90af908d8
--! Message: Paper venue saved in the decision cluster (paper_venues, paper_orders, paper_trades; paper_venue__save / __load)

--! split: 1-current.sql
-- Enter migration here

--! split: 4-paper.sql
--! Included exchange/paper_venue.sql
-- The paper exchange's own books (decision cluster): what a real exchange would remember about our
-- orders and fills, so that a restarted engine finds its paper orders where it left them instead
-- of reporting them missing forever. Written only through paper_venue__save().
create table if not exists kapitaal.paper_venues (
  venue text primary key,
  seq bigint not null check (seq >= 0),
  cursors jsonb not null default '{}'::jsonb check (jsonb_typeof(cursors) = 'object'),
  saved_at timestamptz not null default now()
);
comment on table kapitaal.paper_venues is
  'One row per paper venue (normally ''paper''): the venue''s placement counter and, per symbol, the market '
  'trade cursor (an ingest-cluster txid) up to which market trades were applied to resting paper orders.';
comment on column kapitaal.paper_venues.seq is 'Last placement/fill number handed out by the venue (orders and fills share it).';
comment on column kapitaal.paper_venues.cursors is 'Per symbol the market trade cursor, as {"BTC/USD": "<txid>"}.';
comment on column kapitaal.paper_venues.saved_at is 'When the venue was last saved (database clock).';

create table if not exists kapitaal.paper_orders (
  venue text not null references kapitaal.paper_venues (venue),
  txid text not null,
  seq bigint not null,
  cl_ord_id text,
  symbol text not null,
  status text not null check (status in ('pending', 'open', 'closed', 'canceled', 'expired')),
  order_doc jsonb not null check (jsonb_typeof(order_doc) = 'object'),
  updated_at timestamptz not null default now(),
  primary key (venue, txid)
);
comment on table kapitaal.paper_orders is
  'Every paper order as the paper venue holds it (Kraken''s vocabulary: txid, status pending/open/closed/canceled/'
  'expired). order_doc is the venue''s whole record; amounts in it are decimal strings, never JSON numbers.';
comment on column kapitaal.paper_orders.seq is 'Placement number: among closed orders sharing a client id the newest wins.';
comment on column kapitaal.paper_orders.cl_ord_id is 'The engine''s client order id (orders.client_order_id).';
comment on column kapitaal.paper_orders.order_doc is 'src/exchange/matching.ts VenueOrder as JSON (price, vol, volExec, cost, fee as decimal strings).';

create table if not exists kapitaal.paper_trades (
  venue text not null references kapitaal.paper_venues (venue),
  seq bigint not null,
  txid text not null,
  order_txid text not null,
  symbol text not null,
  trade_doc jsonb not null check (jsonb_typeof(trade_doc) = 'object'),
  primary key (venue, seq),
  unique (venue, txid)
);
comment on table kapitaal.paper_trades is
  'Every paper fill, append-only, numbered by the venue''s seq (the paper fills cursor). trade_doc is '
  'src/exchange/matching.ts VenueTrade as JSON (price, vol, cost, fee as decimal strings).';
comment on column kapitaal.paper_trades.order_txid is 'The paper order (paper_orders.txid) this fill belongs to.';
--! EndIncluded exchange/paper_venue.sql
--! Included exchange/paper_venue__save.sql
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
--! EndIncluded exchange/paper_venue__save.sql
--! Included exchange/paper_venue__load.sql
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
--! EndIncluded exchange/paper_venue__load.sql
--! Included exchange/grants.sql
-- Least privilege for the exchange objects: the nonce table is private; execution calls the function.
revoke all on kapitaal.kraken_nonces from public;
revoke all on function kapitaal.kraken_nonce__next(text, timestamptz) from public;
grant execute on function kapitaal.kraken_nonce__next(text, timestamptz) to kapitaal_execution;
grant select on kapitaal.kraken_nonces to kapitaal_readonly;
-- The paper venue's tables are private; the execution role saves and loads through the functions.
revoke all on kapitaal.paper_venues, kapitaal.paper_orders, kapitaal.paper_trades from public;
revoke all on function kapitaal.paper_venue__save(text, bigint, jsonb, jsonb, jsonb) from public;
revoke all on function kapitaal.paper_venue__load(text) from public;
grant execute on function kapitaal.paper_venue__save(text, bigint, jsonb, jsonb, jsonb) to kapitaal_execution;
grant execute on function kapitaal.paper_venue__load(text) to kapitaal_execution;
grant select on kapitaal.paper_venues, kapitaal.paper_orders, kapitaal.paper_trades to kapitaal_readonly;
--! EndIncluded exchange/grants.sql
