-- Fill reconciliation state: where each venue's fill feed was read up to, and every fill the venue
-- reported (the inbox), matched to our orders by exchange order id or client order id. The cursor and
-- the inbox rows of one page commit together, so a crash can lose neither; booking a fill
-- (order__record_fill) is idempotent per trade id, so a replay is harmless.
create table if not exists kapitaal.exchange_fill_cursors (
  venue text primary key,
  cursor text,
  fills_seen bigint not null default 0,
  polls bigint not null default 0,
  last_poll_at timestamptz,
  last_fill_at timestamptz,
  updated_at timestamptz not null default now()
);
comment on table kapitaal.exchange_fill_cursors is
  'Per venue (e.g. paper:<session>, simulator:<url>, kraken:<account>): the opaque Exchange.fillsSince cursor up to '
  'which fills are stored in exchange_fill_inbox. Advanced only in the transaction that stores the fills it covers.';
comment on column kapitaal.exchange_fill_cursors.venue is
  'Fill feed identity: paper:<session>, simulator:<url> or kraken:<account>.';
comment on column kapitaal.exchange_fill_cursors.cursor is
  'Opaque Exchange.fillsSince cursor up to which fills are stored; null before the first page.';
comment on column kapitaal.exchange_fill_cursors.fills_seen is
  'Inbox rows this venue''s polls stored (duplicates not counted).';
comment on column kapitaal.exchange_fill_cursors.polls is 'Pages stored by fills__ingest for this venue.';
comment on column kapitaal.exchange_fill_cursors.last_poll_at is 'p_now of the last fills__ingest call for this venue.';
comment on column kapitaal.exchange_fill_cursors.last_fill_at is
  'p_now of the last call that stored at least one new fill (not the exchange''s trade time).';
comment on column kapitaal.exchange_fill_cursors.updated_at is
  'p_now of the last write (same as last_poll_at once polled).';

create table if not exists kapitaal.exchange_fill_inbox (
  venue text not null,
  exchange text not null check (exchange in ('kraken', 'sim', 'paper')),
  trade_id text not null,
  exchange_order_id text not null,
  client_order_id text,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  price numeric not null,
  qty numeric not null,
  fee numeric not null,
  liquidity text not null check (liquidity in ('maker', 'taker')),
  filled_at timestamptz not null,
  data jsonb not null,
  received_at timestamptz not null,
  inbox_seq bigint generated always as identity,
  order_id bigint references kapitaal.orders (order_id) on delete restrict,
  fill_id bigint,
  matched_at timestamptz,
  attempts integer not null default 0,
  last_error text,
  primary key (exchange, trade_id)
);
create index if not exists exchange_fill_inbox_unmatched_idx on kapitaal.exchange_fill_inbox (inbox_seq) where matched_at is null;
comment on table kapitaal.exchange_fill_inbox is
  'Every fill the exchange reported, as reported (decimal text kept exactly), and which order and fills-ledger row it '
  'became. Unmatched rows (matched_at null) wait for their order (e.g. its txid is learnt by the submit recovery) or '
  'carry last_error; fills__match retries them.';
comment on column kapitaal.exchange_fill_inbox.exchange is 'The fills ledger''s exchange name: kraken (live), sim (simulator), paper.';
comment on column kapitaal.exchange_fill_inbox.attempts is 'How often fills__match tried to book it.';
comment on column kapitaal.exchange_fill_inbox.venue is 'Fill feed the trade came from (exchange_fill_cursors.venue).';
comment on column kapitaal.exchange_fill_inbox.trade_id is
  'The exchange''s trade id; with exchange the key, and fills.exchange_trade_id once booked.';
comment on column kapitaal.exchange_fill_inbox.exchange_order_id is
  'The exchange''s order id (Kraken txid) of the filled order: how the fill is matched to orders.exchange_order_id.';
comment on column kapitaal.exchange_fill_inbox.client_order_id is
  'Our client order id as the exchange echoed it (orders.client_order_id); null when not reported.';
comment on column kapitaal.exchange_fill_inbox.symbol is 'Pair symbol as the exchange reported it.';
comment on column kapitaal.exchange_fill_inbox.side is 'buy or sell, as reported.';
comment on column kapitaal.exchange_fill_inbox.price is
  'Trade price in quote currency, numeric (the reported decimal text, exactly).';
comment on column kapitaal.exchange_fill_inbox.qty is 'Traded quantity in base currency, numeric.';
comment on column kapitaal.exchange_fill_inbox.fee is 'Fee in quote currency, numeric.';
comment on column kapitaal.exchange_fill_inbox.liquidity is 'maker or taker, as reported.';
comment on column kapitaal.exchange_fill_inbox.filled_at is 'The exchange''s time of the trade.';
comment on column kapitaal.exchange_fill_inbox.data is 'The fill object as reported (Exchange Fill JSON).';
comment on column kapitaal.exchange_fill_inbox.received_at is 'p_now of the fills__ingest call that stored it.';
comment on column kapitaal.exchange_fill_inbox.inbox_seq is
  'Identity, in arrival order: fills__match works through unmatched rows in this order.';
comment on column kapitaal.exchange_fill_inbox.order_id is 'The order the fill was matched to; null while unmatched.';
comment on column kapitaal.exchange_fill_inbox.fill_id is
  'The fills-ledger row it was booked as (fills.fill_id); null while unmatched.';
comment on column kapitaal.exchange_fill_inbox.matched_at is
  'p_now of the fills__match call that booked it; null: still waiting (see last_error).';
comment on column kapitaal.exchange_fill_inbox.last_error is
  'Why the last booking attempt failed (SQLSTATE: message); null after success or before any failure.';

create or replace function kapitaal.fills__ingest(
  p_venue text,
  p_exchange text,
  p_fills jsonb,
  p_prev_cursor text,
  p_next_cursor text,
  p_now timestamptz default now()
)
returns table (stored integer, duplicates integer, cursor_advanced boolean)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_total integer := coalesce(jsonb_array_length(p_fills), 0);
  v_stored integer;
  v_cur kapitaal.exchange_fill_cursors;
begin
  insert into kapitaal.exchange_fill_cursors (venue) values (p_venue) on conflict do nothing;
  select * into v_cur from kapitaal.exchange_fill_cursors c where c.venue = p_venue for update;

  insert into kapitaal.exchange_fill_inbox (venue, exchange, trade_id, exchange_order_id, client_order_id, symbol, side,
                                            price, qty, fee, liquidity, filled_at, data, received_at)
  select p_venue, p_exchange, f->>'tradeId', f->>'exchangeOrderId', nullif(f->>'clientOrderId', ''), f->>'symbol',
         f->>'side', (f->>'price')::numeric, (f->>'qty')::numeric, (f->>'fee')::numeric, f->>'liquidity',
         (f->>'time')::timestamptz, f, p_now
    from jsonb_array_elements(coalesce(p_fills, '[]'::jsonb)) f
  on conflict (exchange, trade_id) do nothing;
  get diagnostics v_stored = row_count;

  stored := v_stored;
  duplicates := v_total - v_stored;
  -- Two pollers of one venue: only the one that read the stored cursor moves it (the other's fills are
  -- stored all the same); a stale poller can never move the cursor backwards.
  cursor_advanced := v_cur.cursor is not distinct from p_prev_cursor;
  update kapitaal.exchange_fill_cursors c
     set cursor = case when cursor_advanced then p_next_cursor else c.cursor end,
         fills_seen = c.fills_seen + v_stored,
         polls = c.polls + 1,
         last_poll_at = p_now,
         last_fill_at = case when v_stored > 0 then p_now else c.last_fill_at end,
         updated_at = p_now
   where c.venue = p_venue;
  return next;
end
$$;
comment on function kapitaal.fills__ingest(text, text, jsonb, text, text, timestamptz) is
  'Stores one fillsSince page (JSON array of Exchange Fill objects) in exchange_fill_inbox (idempotent per exchange '
  'and trade id) and moves the venue''s cursor from p_prev_cursor to p_next_cursor in the same transaction; if the '
  'stored cursor is no longer p_prev_cursor (another poller moved it) the fills are stored but the cursor stays.';

create or replace function kapitaal.fills__match(
  p_exchange text,
  p_limit integer default 100,
  p_after_seq bigint default 0,
  p_now timestamptz default now()
)
returns table (inbox_seq bigint, trade_id text, order_id bigint, fill_id bigint, is_new boolean, order_status text, outcome text, note text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_in kapitaal.exchange_fill_inbox;
  v_order kapitaal.orders;
  v_fill record;
begin
  for v_in in
    select * from kapitaal.exchange_fill_inbox i
     where i.exchange = p_exchange and i.matched_at is null and i.inbox_seq > coalesce(p_after_seq, 0)
     order by i.inbox_seq
     limit p_limit
     for update skip locked
  loop
    select * into v_order from kapitaal.orders o
     where o.exchange_order_id = v_in.exchange_order_id
        or (v_in.client_order_id is not null and o.client_order_id = v_in.client_order_id
            and (o.exchange_order_id is null or o.exchange_order_id = v_in.exchange_order_id))
     order by (o.exchange_order_id = v_in.exchange_order_id) desc nulls last
     limit 1;
    if v_order.order_id is null then
      update kapitaal.exchange_fill_inbox i set attempts = i.attempts + 1,
             last_error = 'no order with this exchange order id or client order id (yet)'
       where i.exchange = v_in.exchange and i.trade_id = v_in.trade_id;
      return query select v_in.inbox_seq, v_in.trade_id, null::bigint, null::bigint, false, null::text, 'unmatched'::text,
                          'no order with exchange order id ' || v_in.exchange_order_id || ' or client order id '
                          || coalesce(v_in.client_order_id, '(none)');
      continue;
    end if;
    begin
      if v_order.exchange_order_id is null then
        -- The fill proves the exchange has the order: learn its txid (a same-status transition does only that).
        perform kapitaal.order__transition(v_order.order_id, v_order.status, v_in.exchange_order_id, null, p_now,
                                           'txid learnt from fill ' || v_in.trade_id);
      end if;
      select * into v_fill from kapitaal.order__record_fill(v_order.order_id, v_in.exchange, v_in.trade_id, v_in.price,
                                                            v_in.qty, v_in.fee, v_in.liquidity, v_in.filled_at, v_in.data, p_now);
      update kapitaal.exchange_fill_inbox i
         set order_id = v_order.order_id, fill_id = v_fill.fill_id, matched_at = p_now, attempts = i.attempts + 1,
             last_error = null
       where i.exchange = v_in.exchange and i.trade_id = v_in.trade_id;
      return query select v_in.inbox_seq, v_in.trade_id, v_order.order_id, v_fill.fill_id, v_fill.is_new, v_fill.order_status,
                          case when v_fill.is_new then 'recorded' else 'replay' end, null::text;
    exception when others then
      -- One bad fill (e.g. for a rejected order) must not stop the others: keep it unmatched with the error.
      update kapitaal.exchange_fill_inbox i set attempts = i.attempts + 1, last_error = sqlstate || ': ' || sqlerrm
       where i.exchange = v_in.exchange and i.trade_id = v_in.trade_id;
      return query select v_in.inbox_seq, v_in.trade_id, v_order.order_id, null::bigint, false, v_order.status, 'error'::text,
                          sqlstate || ': ' || sqlerrm;
    end;
  end loop;
end
$$;
comment on function kapitaal.fills__match(text, integer, bigint, timestamptz) is
  'Books up to p_limit unmatched inbox fills of p_exchange after inbox_seq p_after_seq, oldest first, each with order__record_fill (idempotent '
  'per trade id) after finding its order by exchange order id, else by client order id (learning the txid). A fill '
  'without an order stays unmatched; an error (e.g. a fill for a rejected order) is kept in last_error; neither '
  'stops the rest. Rows locked by a concurrent matcher are skipped.';
