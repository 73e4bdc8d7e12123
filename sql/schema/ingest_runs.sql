create table if not exists kapitaal.ingest_runs (
  run_id bigint generated always as identity primary key,
  parent_run_id bigint references kapitaal.ingest_runs (run_id) on delete set null,
  status text not null default 'running'
    check (status in ('running', 'ended', 'failed', 'abandoned')),
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  ended_at timestamptz,
  end_reason text,
  config jsonb not null,
  config_hash text not null,
  code_version text not null,
  host text not null,
  pid integer,
  partitions_dropped_at timestamptz,
  constraint ingest_runs_ended_iff_final check ((status = 'running') = (ended_at is null))
);
create index if not exists ingest_runs_config_hash_idx on kapitaal.ingest_runs (config_hash, run_id desc);
create index if not exists ingest_runs_status_idx on kapitaal.ingest_runs (status) where status = 'running';

comment on table kapitaal.ingest_runs is
  'One row per persistent ingest run (`kapitaal ingest`). A run owns one partition of each raw table.';
comment on column kapitaal.ingest_runs.run_id is 'Run identity; also the partition key of every raw table.';
comment on column kapitaal.ingest_runs.parent_run_id is
  'Lineage: the previous run with the same config_hash (the run this one continues), or null for the first.';
comment on column kapitaal.ingest_runs.status is
  'running while the process lives; ended (clean stop), failed (stopped by an error) or abandoned (heartbeat lost, closed by a successor).';
comment on column kapitaal.ingest_runs.heartbeat_at is 'Last sign of life; execution attaches only to runs with a fresh heartbeat.';
comment on column kapitaal.ingest_runs.end_reason is 'Why the run ended, in plain words (signal, error message).';
comment on column kapitaal.ingest_runs.config is 'The ingest configuration the run started with (never contains secrets).';
comment on column kapitaal.ingest_runs.config_hash is 'md5 of config as jsonb text: runs with the same hash form one lineage.';
comment on column kapitaal.ingest_runs.code_version is 'Version of the engine (package version and git commit when known).';
comment on column kapitaal.ingest_runs.host is 'Host name of the machine that ran the ingest process.';
comment on column kapitaal.ingest_runs.pid is 'Operating-system process id of the ingest process.';
comment on column kapitaal.ingest_runs.partitions_dropped_at is 'When retention dropped this run''s raw partitions (the run row stays for lineage).';
comment on column kapitaal.ingest_runs.started_at is
  'When ingest_run__start created the run (its p_now, database clock by default).';
comment on column kapitaal.ingest_runs.ended_at is
  'When the run reached its final status (ingest_run__end or abandoned by a successor); null exactly while status = running.';
