-- The fills ledger: one row per exchange trade, never changed. A replayed fill (same exchange and trade id)
-- is recognised by order__record_fill and changes nothing.
create table if not exists kapitaal.fills (
  fill_id bigint generated always as identity primary key,
  exchange text not null check (exchange ~ '^[a-z][a-z0-9_]*$'),
  exchange_trade_id text not null check (exchange_trade_id <> ''),
  order_id bigint not null references kapitaal.orders (order_id) on delete restrict,
  account text not null,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  strategy text not null,
  price numeric not null check (price > 0),
  qty numeric not null check (qty > 0),
  fee numeric not null check (fee >= 0),
  liquidity text not null check (liquidity in ('maker', 'taker')),
  filled_at timestamptz not null,
  recorded_at timestamptz not null,
  position_id bigint references kapitaal.positions (position_id) on delete restrict,
  unmatched_qty numeric not null default 0 check (unmatched_qty >= 0 and unmatched_qty <= qty),
  data jsonb,
  constraint fills_exchange_trade_key unique (exchange, exchange_trade_id)
);
create index if not exists fills_order_idx on kapitaal.fills (order_id);
create index if not exists fills_key_idx on kapitaal.fills (account, symbol, strategy, fill_id);

comment on table kapitaal.fills is
  'Fills ledger: one row per exchange trade, unique per (exchange, exchange_trade_id), append-only. Positions, '
  'order fill totals and ledger cash are derived from it, in fill_id (recording) order.';
comment on column kapitaal.fills.exchange is 'Where the trade happened: kraken, sim, paper.';
comment on column kapitaal.fills.exchange_trade_id is 'The exchange''s trade id (Kraken trade_id / exec_id of a trade execution).';
comment on column kapitaal.fills.account is 'Copied from the order, like symbol, side and strategy, so the ledger reads on its own.';
comment on column kapitaal.fills.fee is 'Fee in quote currency (a fee charged in base must be converted before recording).';
comment on column kapitaal.fills.liquidity is 'maker or taker (Kraken liquidity_ind m/t).';
comment on column kapitaal.fills.filled_at is 'Exchange time of the trade.';
comment on column kapitaal.fills.recorded_at is 'When the engine booked it (p_now).';
comment on column kapitaal.fills.position_id is 'Position this fill opened, increased or reduced; null for a sell with no open position.';
comment on column kapitaal.fills.unmatched_qty is
  'Part of a sell that found no open quantity (e.g. base bought outside the engine): booked as cash, not as P&L.';
comment on column kapitaal.fills.fill_id is
  'Identity, in recording order: the order positions and cash are derived in.';
comment on column kapitaal.fills.order_id is 'The order this trade filled (orders.order_id).';
comment on column kapitaal.fills.symbol is 'Copied from the order (Kraken WS v2 pair symbol).';
comment on column kapitaal.fills.side is 'Copied from the order: buy or sell.';
comment on column kapitaal.fills.strategy is 'Copied from the order.';
comment on column kapitaal.fills.price is 'Trade price in quote currency per unit of base, numeric.';
comment on column kapitaal.fills.qty is 'Traded quantity in base currency.';
comment on column kapitaal.fills.data is
  'The trade as the exchange reported it (raw document); null when recorded without one.';

create or replace trigger _500_append_only
  before update or delete on kapitaal.fills
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.fills
  for each statement execute function kapitaal.tg__append_only();
comment on trigger _500_append_only on kapitaal.fills is
  'Refuses UPDATE and DELETE of fills rows (tg__append_only, SQLSTATE 42501): the ledger only grows.';
comment on trigger _501_append_only_truncate on kapitaal.fills is
  'Refuses TRUNCATE of fills (tg__append_only, SQLSTATE 42501), which row triggers do not see.';
-- balance__drift reads an account's fills by exchange time since the balance baseline.
create index if not exists fills_account_filled_at_idx on kapitaal.fills (account, filled_at);
