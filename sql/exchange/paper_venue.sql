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
comment on column kapitaal.paper_venues.venue is
  'Paper venue name (normally ''paper''); the key of its orders and trades.';

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
comment on column kapitaal.paper_orders.venue is 'The paper venue holding the order (paper_venues.venue).';
comment on column kapitaal.paper_orders.txid is
  'The venue''s order id (Kraken-style txid), what orders.exchange_order_id holds for a paper order.';
comment on column kapitaal.paper_orders.symbol is 'Pair symbol of the order, e.g. BTC/USD.';
comment on column kapitaal.paper_orders.status is
  'Kraken order status as the venue holds it: pending, open, closed, canceled or expired.';
comment on column kapitaal.paper_orders.updated_at is 'When paper_venue__save last wrote the row (database clock).';

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
comment on column kapitaal.paper_trades.venue is 'The paper venue (paper_venues.venue).';
comment on column kapitaal.paper_trades.seq is
  'The venue''s number for this fill (shared counter with placements): the paper fills cursor.';
comment on column kapitaal.paper_trades.txid is
  'The venue''s trade id, unique per venue (fills.exchange_trade_id once booked).';
comment on column kapitaal.paper_trades.symbol is 'Pair symbol of the fill, e.g. BTC/USD.';
comment on column kapitaal.paper_trades.trade_doc is
  'src/exchange/matching.ts VenueTrade as JSON (price, vol, cost, fee as decimal strings).';
