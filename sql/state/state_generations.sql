create sequence if not exists kapitaal.state_generation_seq;
comment on sequence kapitaal.state_generation_seq is 'Generation ids of state refreshes (unique across runs).';

create table if not exists kapitaal.state_generations (
  generation_id bigint primary key,
  run_id bigint not null,
  refreshed_at timestamptz not null,
  symbols integer not null,
  symbols_changed integer not null,
  state_digest text not null,
  ticker_rows integer not null,
  trade_rows integer not null,
  l2_rows integer not null,
  l3_rows integer not null,
  duration_ms numeric not null,
  created_at timestamptz not null default clock_timestamp()
);
create index if not exists state_generations_run_idx on kapitaal.state_generations (run_id, generation_id desc);

comment on table kapitaal.state_generations is
  'One row per state refresh: the generation it stamped on run_symbol_state, what it read and a digest of the state '
  'it left. Synced to the decision cluster with the state; execution runs only on the generation it evaluated.';
comment on column kapitaal.state_generations.refreshed_at is 'Effective time of the refresh (p_now, clamped to be non-decreasing per run).';
comment on column kapitaal.state_generations.symbols is 'Rows of run_symbol_state for the run after the refresh (all stamped with this generation).';
comment on column kapitaal.state_generations.symbols_changed is 'Symbols with new raw rows in this refresh.';
comment on column kapitaal.state_generations.state_digest is
  'run_symbol_state__digest(run_id) right after the refresh: md5 over the rows without generation_id/refreshed_at, '
  'so any cluster can check that it holds exactly this state.';
comment on column kapitaal.state_generations.ticker_rows is 'Raw ticker rows read (new since the previous refresh).';
comment on column kapitaal.state_generations.duration_ms is 'Wall time of the refresh inside the database.';
comment on column kapitaal.state_generations.created_at is 'Clock time the generation was recorded.';
comment on column kapitaal.state_generations.generation_id is
  'From state_generation_seq; stamped on every run_symbol_state row the refresh wrote.';
comment on column kapitaal.state_generations.run_id is
  'The ingest run (ingest_runs.run_id) that was refreshed; no foreign key (also synced to the decision cluster).';
comment on column kapitaal.state_generations.trade_rows is 'Raw trade rows read (new since the previous refresh).';
comment on column kapitaal.state_generations.l2_rows is 'Raw L2 samples read (new since the previous refresh).';
comment on column kapitaal.state_generations.l3_rows is 'Raw L3 samples read (new since the previous refresh).';
