-- The order lifecycle as data: statuses and the transitions between them. order__transition
-- accepts exactly the rows of order_status_transitions; anything else is an error.
create table if not exists kapitaal.order_statuses (
  status text primary key check (status ~ '^[a-z][a-z_]*$'),
  terminal boolean not null,
  description text not null
);
comment on table kapitaal.order_statuses is
  'Order statuses of the OrderTracker. Terminal statuses never change again (a late fill of a cancelled or '
  'expired order is still booked, but the status stays).';
comment on column kapitaal.order_statuses.terminal is 'True when no transition leaves this status.';
comment on column kapitaal.order_statuses.status is
  'Status name, the value orders.status and order_events.from_status/to_status hold.';
comment on column kapitaal.order_statuses.description is 'What the status means, in words.';

insert into kapitaal.order_statuses (status, terminal, description) values
  ('new',              false, 'Intent written by the evaluation''s transaction, submit job queued; nothing has been sent.'),
  ('submitting',       false, 'The submit job committed this before calling the exchange. A retry must first ask the exchange about the client order id: an earlier attempt may have reached it.'),
  ('open',             false, 'Acknowledged by the exchange (exchange_order_id set), resting, nothing filled yet.'),
  ('partially_filled', false, 'Some quantity filled, the rest still working.'),
  ('filled',           true,  'The whole quantity filled.'),
  ('cancelled',        true,  'Cancelled by us, by the exchange (e.g. a post-only order that would take) or before it was sent. May carry partial fills.'),
  ('rejected',         true,  'Refused before sending (limits, capital, gates) or by the exchange; never filled.'),
  ('expired',          true,  'Time in force ran out on the exchange. May carry partial fills.')
on conflict do nothing;

create table if not exists kapitaal.order_status_transitions (
  from_status text not null references kapitaal.order_statuses (status) on delete cascade,
  to_status text not null references kapitaal.order_statuses (status) on delete cascade,
  description text not null,
  primary key (from_status, to_status),
  check (from_status <> to_status)
);
comment on table kapitaal.order_status_transitions is
  'Allowed order status transitions. order__transition refuses every pair not listed here; a transition to the '
  'current status is a harmless no-op and needs no row.';
comment on column kapitaal.order_status_transitions.from_status is 'Status the order is in (order_statuses.status).';
comment on column kapitaal.order_status_transitions.to_status is 'Status order__transition may move it to.';
comment on column kapitaal.order_status_transitions.description is 'When this transition happens, in words.';

insert into kapitaal.order_status_transitions (from_status, to_status, description) values
  ('new',              'submitting',       'The submit job starts (order__begin_submit), before any exchange call.'),
  ('new',              'rejected',         'Refused before sending: exchange limits, capital, generation or freshness gate.'),
  ('new',              'cancelled',        'Withdrawn before it was sent.'),
  ('submitting',       'open',             'The exchange acknowledged the order (txid known).'),
  ('submitting',       'partially_filled', 'A fill arrived before (or with) the acknowledgement.'),
  ('submitting',       'filled',           'Filled at once (taker, IOC) before or with the acknowledgement.'),
  ('submitting',       'rejected',         'The exchange refused the order (e.g. EOrder:Cost minimum not met, post-only would take).'),
  ('submitting',       'cancelled',        'Accepted and cancelled at once (e.g. post-only that would take), or found cancelled on recovery.'),
  ('submitting',       'expired',          'Found expired on recovery.'),
  ('open',             'partially_filled', 'First partial fill.'),
  ('open',             'filled',           'Filled completely.'),
  ('open',             'cancelled',        'Cancelled with nothing filled.'),
  ('open',             'expired',          'Time in force ran out with nothing filled.'),
  ('partially_filled', 'filled',           'The rest filled.'),
  ('partially_filled', 'cancelled',        'Cancelled after a partial fill.'),
  ('partially_filled', 'expired',          'Expired after a partial fill.')
on conflict do nothing;
