-- What execution did with each evaluation that had candidates: the order it placed, or why it placed
-- nothing. One row per evaluation (the primary key makes evaluation__place_orders idempotent).
create table if not exists kapitaal.evaluation_placements (
  evaluation_id bigint primary key,
  run_id bigint,
  generation_id bigint,
  symbol text,
  strategy text,
  outcome text not null check (outcome in ('placed', 'no_candidate', 'unknown_pair', 'pair_not_tradable',
                                           'no_room', 'below_minimum', 'invalid_price', 'halted')),
  marker text not null,
  reason text not null check (btrim(reason) <> ''),
  order_id bigint references kapitaal.orders (order_id) on delete restrict,
  client_order_id text,
  details jsonb not null,
  decided_at timestamptz not null,
  created_at timestamptz not null default clock_timestamp(),
  constraint evaluation_placements_order_iff_placed check ((outcome = 'placed') = (order_id is not null))
);
-- 'halted' (capital__entry_halt) came later: the check is replaced so that existing databases get it too.
alter table kapitaal.evaluation_placements drop constraint if exists evaluation_placements_outcome_check;
alter table kapitaal.evaluation_placements add constraint evaluation_placements_outcome_check
  check (outcome in ('placed', 'no_candidate', 'unknown_pair', 'pair_not_tradable', 'no_room', 'below_minimum',
                     'invalid_price', 'halted'));
create index if not exists evaluation_placements_decided_idx on kapitaal.evaluation_placements (decided_at);
comment on table kapitaal.evaluation_placements is
  'The execution side of an evaluation with candidates (evaluation__place_orders): the entry order it created '
  '(outcome placed) or why nothing was placed (no_candidate, unknown_pair, pair_not_tradable, no_room, below_minimum, '
  'invalid_price, halted), with every number used in details (ranking row, sizing, pair limits, conformed terms). No '
  'foreign key to evaluations (decision layer); join on evaluation_id.';
comment on column kapitaal.evaluation_placements.marker is
  'Log marker: ORDER_INTENT_CREATED, CAPITAL_NO_ROOM, ORDER_LIMITS_REJECTED or ENTRIES_HALTED.';
comment on column kapitaal.evaluation_placements.details is
  'ranking (the selected evaluation_rankings row), sizing (capital__position_size), limits (run_pairs row) and '
  'conformed (order__conform_to_limits) as JSON.';
comment on column kapitaal.evaluation_placements.evaluation_id is
  'The evaluation (evaluations.evaluation_id, no foreign key); one placement per evaluation.';
comment on column kapitaal.evaluation_placements.run_id is 'The ingest run the evaluation was bound to.';
comment on column kapitaal.evaluation_placements.generation_id is
  'The state generation of the selected ranking row (else the one passed in).';
comment on column kapitaal.evaluation_placements.symbol is 'Pair of the selected proposal; null for no_candidate.';
comment on column kapitaal.evaluation_placements.strategy is
  'Strategy of the selected proposal; null for no_candidate.';
comment on column kapitaal.evaluation_placements.outcome is
  'placed (order_id set), or why nothing was placed: no_candidate, unknown_pair, pair_not_tradable, no_room, below_minimum, '
  'invalid_price, halted (capital__entry_halt: kill switch or daily loss limit).';
comment on column kapitaal.evaluation_placements.reason is 'Why this outcome, in words with the numbers.';
comment on column kapitaal.evaluation_placements.order_id is
  'The entry order created (orders.order_id); set exactly when outcome = placed.';
comment on column kapitaal.evaluation_placements.client_order_id is
  'Client order id of that order (orders.client_order_id).';
comment on column kapitaal.evaluation_placements.decided_at is 'p_now of evaluation__place_orders.';
comment on column kapitaal.evaluation_placements.created_at is
  'clock_timestamp() when the row was inserted (database clock).';
