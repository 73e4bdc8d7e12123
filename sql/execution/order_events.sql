-- OrderTracker history: one row per status change (and per submit retry), never changed afterwards.
create table if not exists kapitaal.order_events (
  event_id bigint generated always as identity primary key,
  order_id bigint not null references kapitaal.orders (order_id) on delete restrict,
  from_status text references kapitaal.order_statuses (status) on delete restrict,
  to_status text not null references kapitaal.order_statuses (status) on delete restrict,
  at timestamptz not null,
  exchange_order_id text,
  data jsonb,
  note text
);
create index if not exists order_events_order_idx on kapitaal.order_events (order_id, event_id);

comment on table kapitaal.order_events is
  'Append-only lifecycle of every order: creation (from_status null), each status transition, and submit retries '
  '(from_status = to_status = submitting). UPDATE, DELETE and TRUNCATE are refused by trigger and not granted.';
comment on column kapitaal.order_events.at is 'When it happened (the p_now of the writing function).';
comment on column kapitaal.order_events.data is 'What the exchange said (response, execution report, fill), as received.';
comment on column kapitaal.order_events.note is 'Why, in words.';
comment on column kapitaal.order_events.event_id is 'Identity, in recording order.';
comment on column kapitaal.order_events.order_id is 'The order (orders.order_id).';
comment on column kapitaal.order_events.from_status is 'Status before the event; null for the creation event.';
comment on column kapitaal.order_events.to_status is
  'Status after the event (equal to from_status, submitting, for a submit retry).';
comment on column kapitaal.order_events.exchange_order_id is
  'The order''s exchange id (Kraken txid) known at the event; null before the acknowledgement.';

create or replace trigger _500_append_only
  before update or delete on kapitaal.order_events
  for each row execute function kapitaal.tg__append_only();
create or replace trigger _501_append_only_truncate
  before truncate on kapitaal.order_events
  for each statement execute function kapitaal.tg__append_only();
comment on trigger _500_append_only on kapitaal.order_events is
  'Refuses UPDATE and DELETE of order_events rows (tg__append_only, SQLSTATE 42501): the ledger only grows.';
comment on trigger _501_append_only_truncate on kapitaal.order_events is
  'Refuses TRUNCATE of order_events (tg__append_only, SQLSTATE 42501), which row triggers do not see.';
