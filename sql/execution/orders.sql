-- DB-first orders: the evaluation writes the intent here (and queues its submit job in the same
-- transaction) before anything is sent. Written only through order__create_intent, order__begin_submit,
-- order__transition and order__record_fill. Spot, long only: entries buy, exits sell.
create table if not exists kapitaal.orders (
  order_id bigint generated always as identity primary key,
  client_order_id text not null unique
    check (client_order_id ~ '^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|[A-Za-z0-9_-]{1,18})$'),
  account text not null default 'default',
  run_id bigint not null,
  evaluation_id bigint,
  generation_id bigint,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  order_type text not null check (order_type in ('limit', 'market')),
  post_only boolean not null default false,
  price numeric check (price > 0),
  reference_price numeric not null check (reference_price > 0),
  qty numeric not null check (qty > 0),
  strategy text not null,
  purpose text not null check (purpose in ('entry', 'exit')),
  exit_trigger text check (exit_trigger in ('stop_loss', 'take_profit', 'trailing_stop', 'time_stop', 'regime_change', 'manual')),
  regime text,
  position_id bigint,
  exchange_order_id text,
  status text not null default 'new' references kapitaal.order_statuses (status) on delete restrict,
  filled_qty numeric not null default 0,
  filled_quote numeric not null default 0,
  fees numeric not null default 0,
  avg_fill_price numeric,
  submit_attempts integer not null default 0,
  reason text not null check (btrim(reason) <> ''),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  constraint orders_price_by_type check (
    (order_type = 'limit' and price is not null) or (order_type = 'market' and price is null)),
  constraint orders_post_only_is_limit check (not post_only or order_type = 'limit'),
  constraint orders_long_only check (
    (purpose = 'entry' and side = 'buy' and exit_trigger is null)
    or (purpose = 'exit' and side = 'sell' and exit_trigger is not null and position_id is not null)),
  constraint orders_filled_within_qty check (filled_qty >= 0 and filled_qty <= qty)
);
create unique index if not exists orders_exchange_order_id_idx on kapitaal.orders (exchange_order_id)
  where exchange_order_id is not null;
create index if not exists orders_active_idx on kapitaal.orders (account, symbol)
  where status in ('new', 'submitting', 'open', 'partially_filled');
create index if not exists orders_position_idx on kapitaal.orders (position_id) where position_id is not null;
create index if not exists orders_evaluation_idx on kapitaal.orders (evaluation_id) where evaluation_id is not null;

comment on table kapitaal.orders is
  'Orders, written DB-first: the intent (status new) and its submit job are committed together before anything '
  'reaches the exchange; status is the current state of the append-only order_events history. Spot, long only: '
  'entries are buys, exits are sells of an open position.';
comment on column kapitaal.orders.client_order_id is
  'Deterministic id sent as Kraken cl_ord_id (UUID, 32 hex digits, or at most 18 of [A-Za-z0-9_-]); see '
  'order__client_id. A second intent with the same id is the same order.';
comment on column kapitaal.orders.account is 'Trading account (one Kraken API key, or paper); positions and capital are per account.';
comment on column kapitaal.orders.run_id is 'Ingest run whose data the decision used (no foreign key: ingest_runs lives on the ingest cluster).';
comment on column kapitaal.orders.evaluation_id is 'The evaluation that decided this order (null for exits from the exit loop).';
comment on column kapitaal.orders.generation_id is 'State generation the decision read; the submit job places nothing unless the decision cluster shows it.';
comment on column kapitaal.orders.price is 'Limit price (conformed to the tick); null for market orders.';
comment on column kapitaal.orders.reference_price is
  'Price the decision expected (the limit price for limit orders, the book price for market orders); reserves '
  'capital for the unfilled rest and explains slippage.';
comment on column kapitaal.orders.qty is 'Order quantity in base currency, conformed to the lot step.';
comment on column kapitaal.orders.purpose is 'entry (a buy opening or adding to a position) or exit (a sell of position_id).';
comment on column kapitaal.orders.exit_trigger is 'For exits: the rule that fired (see position__exit_decision) or manual.';
comment on column kapitaal.orders.regime is 'Regime of the pair when the decision was taken; an entry''s regime becomes the position''s entry_regime.';
comment on column kapitaal.orders.position_id is 'The position this order opened/added to (entries, set at the first fill) or closes (exits).';
comment on column kapitaal.orders.exchange_order_id is 'Kraken txid once acknowledged; never changes once set.';
comment on column kapitaal.orders.filled_qty is 'Sum of the quantities of this order''s fills.';
comment on column kapitaal.orders.filled_quote is 'Sum of price times quantity of this order''s fills (quote currency).';
comment on column kapitaal.orders.fees is 'Sum of this order''s fill fees (quote currency).';
comment on column kapitaal.orders.avg_fill_price is 'filled_quote / filled_qty.';
comment on column kapitaal.orders.submit_attempts is 'How often the submit job started on this order (order__begin_submit).';
comment on column kapitaal.orders.reason is 'Why the order exists, in words a DBA can read (the decision''s explanation).';
comment on column kapitaal.orders.order_id is 'Identity, in creation order.';
comment on column kapitaal.orders.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD (run_pairs.symbol).';
comment on column kapitaal.orders.side is 'buy for entries, sell for exits (spot, long only: orders_long_only).';
comment on column kapitaal.orders.order_type is 'limit (price set) or market (price null).';
comment on column kapitaal.orders.post_only is
  'Limit order that must rest on the book (maker only); the exchange cancels it rather than let it take.';
comment on column kapitaal.orders.strategy is
  'Strategy that decided the order (strategy_policy.strategy); an exit carries its position''s strategy.';
comment on column kapitaal.orders.status is
  'Current lifecycle status (order_statuses), changed only by order__transition; the history is in order_events.';
comment on column kapitaal.orders.created_at is 'p_now of order__create_intent (database clock by default).';
comment on column kapitaal.orders.updated_at is 'p_now of the last write to the row (submit, transition, fill).';
