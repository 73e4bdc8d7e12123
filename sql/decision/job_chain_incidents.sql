create table if not exists kapitaal.job_chain_incidents (
  incident_id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  task_identifier text not null,
  job_key text,
  job_id bigint,
  action text not null check (action in ('step_failed', 'seeded', 'reseeded_failed', 'backoff_capped', 'pruned_failed')),
  failures integer,
  next_run_at timestamptz,
  detail text
);
create index if not exists job_chain_incidents_at_idx on kapitaal.job_chain_incidents (at desc);
comment on table kapitaal.job_chain_incidents is
  'What kept the job chain (refresh -> sync -> evaluate) going: failed steps and the next cycle queued with backoff, '
  'and every watchdog repair (missing chain job seeded, permanently failed one replaced, Graphile retry delay capped, '
  'old failed jobs pruned). Together with job_queue_status it explains any gap in the chain.';
comment on column kapitaal.job_chain_incidents.action is
  'step_failed: a chain step failed, the next cycle was queued with backoff; seeded: a missing chain job was created; '
  'reseeded_failed: a permanently failed job held the key, a new one replaced it; backoff_capped: a retrying job was '
  'rescheduled to chain_max_backoff; pruned_failed: old failed jobs were deleted.';
comment on column kapitaal.job_chain_incidents.failures is 'Consecutive failures of the chain step (payload failures).';
comment on column kapitaal.job_chain_incidents.detail is 'Error message or what the watchdog saw.';
comment on column kapitaal.job_chain_incidents.incident_id is 'Identity, in recording order.';
comment on column kapitaal.job_chain_incidents.at is
  'p_now of job_chain__failed or job_chain__watchdog (database clock by default).';
comment on column kapitaal.job_chain_incidents.task_identifier is
  'Graphile Worker task of the chain step (evaluation__run, state__sync, run_symbol_state__refresh); ''*'' for pruned_failed.';
comment on column kapitaal.job_chain_incidents.job_key is
  'Graphile Worker job key that holds the chain step (e.g. run_symbol_state__refresh:<run_id>); null for pruned_failed.';
comment on column kapitaal.job_chain_incidents.job_id is
  'graphile_worker.jobs id concerned; null when the job was seeded, or for pruned_failed.';
comment on column kapitaal.job_chain_incidents.next_run_at is
  'step_failed only: when the next cycle was queued to run (after backoff); null when the chain is not wanted.';
