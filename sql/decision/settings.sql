-- What this database is in the decision feed. One row per database, never replicated: each
-- cluster (ingest, decision, or the one shared database) says what its own triggers do.
create table if not exists kapitaal.decision_settings (
  singleton boolean primary key default true check (singleton),
  cluster_role text not null default 'shared' check (cluster_role in ('ingest', 'decision', 'shared')),
  feed text not null default 'none' check (feed in ('sync', 'replication', 'none')),
  evaluation_enabled boolean not null default false,
  updated_at timestamptz not null default now()
);
insert into kapitaal.decision_settings (singleton) values (true) on conflict do nothing;

comment on table kapitaal.decision_settings is
  'Single row per database: its role in the decision feed. Written by the runtimes at start '
  '(decision_settings__configure); read by the trigger on state_generations and by job_chain__watchdog.';
comment on column kapitaal.decision_settings.cluster_role is
  'ingest: raw data and refresh live here and state is fed to another cluster; decision: execution reads here; '
  'shared: one database plays both roles (no DECISION_DATABASE_URL), no feed needed.';
comment on column kapitaal.decision_settings.feed is
  'How state reaches the decision cluster: sync (the state__sync job after each refresh), replication (logical '
  'replication, publication kapitaal_decision) or none (shared database).';
comment on column kapitaal.decision_settings.evaluation_enabled is
  'An execution runtime evaluates on this database: every newly visible generation enqueues evaluation__run.';
comment on column kapitaal.decision_settings.singleton is 'Always true: the table holds one row.';
comment on column kapitaal.decision_settings.updated_at is
  'When decision_settings__configure last wrote the row (database clock).';

create or replace function kapitaal.decision_settings__configure(
  p_cluster_role text,
  p_feed text,
  p_evaluation_enabled boolean default null
)
returns kapitaal.decision_settings
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  insert into kapitaal.decision_settings as d (singleton, cluster_role, feed, evaluation_enabled, updated_at)
  values (true, p_cluster_role, p_feed, coalesce(p_evaluation_enabled, false), now())
  on conflict (singleton) do update
    set cluster_role = excluded.cluster_role,
        feed = excluded.feed,
        evaluation_enabled = coalesce(p_evaluation_enabled, d.evaluation_enabled),
        updated_at = now()
  returning *
$$;
comment on function kapitaal.decision_settings__configure(text, text, boolean) is
  'Sets this database''s role in the decision feed (ingest/decision/shared), the feed (sync/replication/none) and, when '
  'not null, whether an execution runtime evaluates here. Idempotent; returns the settings row.';
