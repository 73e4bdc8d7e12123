create table if not exists kapitaal.state_generation_visibility (
  generation_id bigint primary key,
  run_id bigint not null,
  refreshed_at timestamptz not null,
  visible_at timestamptz not null,
  feed text not null,
  lag interval generated always as (visible_at - refreshed_at) stored
);
create index if not exists state_generation_visibility_run_idx on kapitaal.state_generation_visibility (run_id, generation_id desc);
comment on table kapitaal.state_generation_visibility is
  'When each generation became visible on this (decision or shared) cluster, recorded by the trigger on '
  'state_generations inside the transaction that made it visible (sync transaction or replication apply). Local '
  'to the database, never replicated.';
comment on column kapitaal.state_generation_visibility.visible_at is 'clock_timestamp() in the transaction that made the generation visible (just before its commit).';
comment on column kapitaal.state_generation_visibility.feed is 'decision_settings.feed at that moment (sync, replication, none = shared database).';
comment on column kapitaal.state_generation_visibility.lag is 'visible_at - refreshed_at: how long the generation took from its refresh to this cluster.';
comment on column kapitaal.state_generation_visibility.generation_id is
  'The generation (state_generations.generation_id) that became visible.';
comment on column kapitaal.state_generation_visibility.run_id is
  'The ingest run (ingest_runs.run_id) of the generation.';
comment on column kapitaal.state_generation_visibility.refreshed_at is
  'state_generations.refreshed_at of the generation (the ingest refresh''s time).';
