create table if not exists kapitaal.engine_processes (
  process_id text primary key,
  role text not null,
  host text not null,
  pid integer not null,
  pool_ids text[] not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  stopped_at timestamptz,
  reaped_at timestamptz,
  reap_reason text
);
create index if not exists engine_processes_live_idx on kapitaal.engine_processes (heartbeat_at)
  where stopped_at is null and reaped_at is null;

comment on table kapitaal.engine_processes is
  'Every engine process that runs Graphile Worker jobs, with its pool ids and heartbeat. A dead process''s '
  'locked jobs are released at once by its successor (engine_processes__reap) instead of after Graphile Worker''s 4 h.';
comment on column kapitaal.engine_processes.role is 'What the process runs: ingest, execution, demo, test.';
comment on column kapitaal.engine_processes.pool_ids is
  'Graphile Worker pool ids of this process: the locked_by value of the jobs it holds. Recorded right after the '
  'pool starts; jobs locked by a pool no process knows are orphans, released once older than the stale interval.';
comment on column kapitaal.engine_processes.reaped_at is 'When a successor found this process dead and unlocked its jobs.';
comment on column kapitaal.engine_processes.reap_reason is 'Why it was judged dead: its pid is gone on this host, or its heartbeat is stale.';
comment on column kapitaal.engine_processes.process_id is
  'Chosen by the process at start: role-host-pid-random hex, unique per start.';
comment on column kapitaal.engine_processes.host is
  'Host name the process runs on; pid liveness is only checked for processes on the same host.';
comment on column kapitaal.engine_processes.pid is 'Operating-system process id on host.';
comment on column kapitaal.engine_processes.started_at is
  'When engine_process__register ran (its p_now, database clock by default).';
comment on column kapitaal.engine_processes.heartbeat_at is
  'Last engine_process__heartbeat (never moves back); stale heartbeats get the process reaped.';
comment on column kapitaal.engine_processes.stopped_at is
  'When the process stopped cleanly (engine_process__stop); null while running or when it died.';
