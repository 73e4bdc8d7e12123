create table if not exists kapitaal.evaluations (
  evaluation_id bigint generated always as identity primary key,
  run_id bigint,
  epoch bigint,
  generation_id bigint,
  outcome text not null
    check (outcome in ('candidates', 'economically_empty', 'data_blocked', 'attach_blocked', 'generation_blocked')),
  reason text not null,
  marker text,
  symbols integer not null default 0,
  symbols_eligible integer not null default 0,
  symbols_not_ready integer not null default 0,
  symbols_regime_blocked integer not null default 0,
  symbols_stale integer not null default 0,
  symbols_integrity integer not null default 0,
  candidates integer not null default 0,
  selected_symbol text,
  selected_strategy text,
  generation_refreshed_at timestamptz,
  generation_age interval,
  evaluated_at timestamptz not null,
  created_at timestamptz not null default clock_timestamp(),
  duration_ms numeric not null default 0
);
create index if not exists evaluations_run_idx on kapitaal.evaluations (run_id, evaluation_id desc);
create index if not exists evaluations_evaluated_at_idx on kapitaal.evaluations (evaluated_at);

comment on table kapitaal.evaluations is
  'One row per evaluation (evaluation__run) on the decision cluster: which ingest run, epoch and state generation it '
  'read, and the outcome. Execution of its candidates is allowed only while generation_gate__check passes for '
  '(run_id, generation_id).';
comment on column kapitaal.evaluations.run_id is 'The ingest run the evaluation was bound to (null: attach blocked with no run visible).';
comment on column kapitaal.evaluations.epoch is 'Newest epoch of the run visible at evaluation time (the attach binding).';
comment on column kapitaal.evaluations.generation_id is 'The state generation read; the generation gate compares it with the current one.';
comment on column kapitaal.evaluations.outcome is
  'candidates: at least one proposal worth trading (selectable); economically_empty: data fine, nothing worth trading; '
  'data_blocked: no symbol with fresh, valid data (stale feed, integrity); attach_blocked: no live ingest run with an '
  'epoch; generation_blocked: no complete, fresh generation visible (feed or refresh behind).';
comment on column kapitaal.evaluations.reason is 'Why this outcome, in words with the deciding numbers.';
comment on column kapitaal.evaluations.marker is
  'Log marker of a blocked outcome (EXECUTION_ATTACH_BLOCKED, EXECUTION_BLOCKED_GENERATION_MISMATCH, '
  'ROUTE_EXECUTION_BLOCKED_STALE_DATA, DATA_INTEGRITY_CHECKSUM_MISMATCH); null otherwise.';
comment on column kapitaal.evaluations.symbols_stale is 'Symbols without a fresh entry route (apply_route_freshness_filter).';
comment on column kapitaal.evaluations.symbols_integrity is 'Symbols whose newest L2 sample failed its checksum.';
comment on column kapitaal.evaluations.symbols_regime_blocked is 'Symbols whose regime is not established or trades no strategy (CHAOS, LOW_LIQUIDITY).';
comment on column kapitaal.evaluations.symbols_not_ready is 'Symbols with fresh data and a tradable regime whose strategies are not ready.';
comment on column kapitaal.evaluations.symbols_eligible is 'Symbols with fresh, valid data, an eligible regime and at least one ready strategy on a fresh entry route.';
comment on column kapitaal.evaluations.candidates is
  'Selectable proposals (positive net edge after fees, no gate) in evaluation_rankings, the strategy layer''s '
  'ranking of this evaluation; without the strategy layer, eligible symbol x strategy pairs.';
comment on column kapitaal.evaluations.selected_symbol is 'Top-1 proposal of the ranking (evaluation_rankings.selected), if any.';
comment on column kapitaal.evaluations.selected_strategy is 'Strategy of the top-1 proposal.';
comment on column kapitaal.evaluations.generation_age is 'evaluated_at - refreshed_at of the generation read.';
comment on column kapitaal.evaluations.evaluated_at is 'The evaluation''s clock (p_now).';
comment on column kapitaal.evaluations.duration_ms is 'Wall time of evaluation__run in the database.';
comment on column kapitaal.evaluations.evaluation_id is 'Identity, in evaluation order.';
comment on column kapitaal.evaluations.symbols is
  'Symbols of the run''s current generation looked at (one evaluation_symbols row each).';
comment on column kapitaal.evaluations.generation_refreshed_at is
  'refreshed_at of the generation read (ingest cluster''s refresh time); null when no generation was visible.';
comment on column kapitaal.evaluations.created_at is
  'clock_timestamp() when the row was inserted (database clock); evaluated_at is the evaluation''s own p_now.';

create table if not exists kapitaal.evaluation_symbols (
  evaluation_id bigint not null references kapitaal.evaluations (evaluation_id) on delete cascade,
  symbol text not null,
  status text not null check (status in ('eligible', 'not_ready', 'regime_blocked', 'stale', 'integrity')),
  regime text,
  reasons text[] not null,
  routes jsonb not null,
  readiness jsonb not null,
  primary key (evaluation_id, symbol)
);
comment on table kapitaal.evaluation_symbols is
  'Per evaluation and symbol: the data verdict and why (kept for decision_policy.evaluation_symbols_retention). The '
  'economic ranking of the same evaluation is in evaluation_rankings (strategy layer).';
comment on column kapitaal.evaluation_symbols.status is
  'stale (no fresh entry route), integrity (book checksum failed), regime_blocked, not_ready (no permitted strategy '
  'ready on a fresh route) or eligible. Checked in this order.';
comment on column kapitaal.evaluation_symbols.reasons is 'The reasons behind status: route freshness reasons, readiness details per strategy, regime, or the eligible strategies.';
comment on column kapitaal.evaluation_symbols.routes is 'apply_route_freshness_filter per route type: exec_allowed, marker, reason.';
comment on column kapitaal.evaluation_symbols.readiness is 'strategy_readiness per strategy: ready, reason codes, detail.';
comment on column kapitaal.evaluation_symbols.evaluation_id is
  'The evaluation (evaluations.evaluation_id); rows go with it (on delete cascade) or earlier by retention.';
comment on column kapitaal.evaluation_symbols.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.evaluation_symbols.regime is
  'Effective regime of the symbol in the generation read (run_symbol_state.regime); null: not established.';

create table if not exists kapitaal.evaluation_gate_checks (
  check_id bigint generated always as identity primary key,
  evaluation_id bigint not null references kapitaal.evaluations (evaluation_id) on delete cascade,
  checked_at timestamptz not null,
  allowed boolean not null,
  reason text not null,
  marker text,
  current_generation_id bigint
);
create index if not exists evaluation_gate_checks_eval_idx on kapitaal.evaluation_gate_checks (evaluation_id);
comment on table kapitaal.evaluation_gate_checks is
  'Every generation gate check of an evaluation (evaluation__gate): when, the verdict and the generation current then. '
  'Explains why an evaluation''s candidates were or were not executed.';
comment on column kapitaal.evaluation_gate_checks.check_id is 'Identity, in check order.';
comment on column kapitaal.evaluation_gate_checks.evaluation_id is
  'The evaluation whose candidates the gate was checked for (evaluations.evaluation_id).';
comment on column kapitaal.evaluation_gate_checks.checked_at is
  'p_now of evaluation__gate (database clock by default).';
comment on column kapitaal.evaluation_gate_checks.allowed is
  'true: the evaluation''s generation was still the current, complete and fresh one of a running run: its candidates may execute.';
comment on column kapitaal.evaluation_gate_checks.reason is
  'generation_gate__check''s reason: a code (GENERATION_CURRENT, GENERATION_SUPERSEDED, GENERATION_STALE, …) and the deciding numbers.';
comment on column kapitaal.evaluation_gate_checks.marker is
  'EXECUTION_BLOCKED_GENERATION_MISMATCH when blocked; null when allowed.';
comment on column kapitaal.evaluation_gate_checks.current_generation_id is
  'The run''s current generation at the check (null: none visible); differs from evaluations.generation_id when superseded.';
