-- Policies of the decision layer: plain rows a DBA reads and changes with psql. Defaults are
-- inserted with `on conflict do nothing`, so re-running the migration keeps operator changes.
create table if not exists kapitaal.decision_policy (
  policy text primary key default 'default' check (policy = 'default'),
  max_generation_age interval not null default interval '10 seconds' check (max_generation_age > interval '0'),
  attach_max_heartbeat_age interval not null default interval '30 seconds' check (attach_max_heartbeat_age > interval '0'),
  evaluation_cadence interval not null default interval '1 second' check (evaluation_cadence > interval '0'),
  sync_cadence interval not null default interval '2 seconds' check (sync_cadence > interval '0'),
  chain_max_backoff interval not null default interval '30 seconds' check (chain_max_backoff > interval '0'),
  chain_max_attempts integer not null default 5 check (chain_max_attempts between 1 and 25),
  failed_jobs_kept integer not null default 50 check (failed_jobs_kept >= 0),
  evaluation_retention interval not null default interval '7 days',
  evaluation_symbols_retention interval not null default interval '1 hour',
  updated_at timestamptz not null default now()
);
insert into kapitaal.decision_policy (policy) values ('default') on conflict do nothing;

comment on table kapitaal.decision_policy is 'Single-row policy of the decision cluster: generation gate, attach, job chain cadence and retention.';
comment on column kapitaal.decision_policy.max_generation_age is
  'Generation gate: the generation an evaluation used may be at most this old (p_now - refreshed_at) when execution '
  'runs; older means refresh or feed fell behind (EXECUTION_BLOCKED_GENERATION_MISMATCH).';
comment on column kapitaal.decision_policy.attach_max_heartbeat_age is 'Attach: an ingest run is live while its heartbeat (as seen on this cluster) is at most this old.';
comment on column kapitaal.decision_policy.evaluation_cadence is 'evaluation__run re-queues itself this long after finishing (new generations enqueue it at once).';
comment on column kapitaal.decision_policy.sync_cadence is 'state__sync re-queues itself this long after finishing (each refresh enqueues it at once).';
comment on column kapitaal.decision_policy.chain_max_backoff is
  'After a failed step the next cycle waits cadence * 2^failures, at most this long; the watchdog also caps Graphile''s own retry delay of chain jobs to it.';
comment on column kapitaal.decision_policy.chain_max_attempts is 'max_attempts of chain jobs (Graphile retries only when re-queueing the next cycle itself failed).';
comment on column kapitaal.decision_policy.failed_jobs_kept is 'Permanently failed chain jobs kept per task for inspection; older ones are pruned by the watchdog.';
comment on column kapitaal.decision_policy.evaluation_retention is 'evaluations rows older than this are pruned by the watchdog.';
comment on column kapitaal.decision_policy.evaluation_symbols_retention is 'evaluation_symbols rows (per-symbol reasons) of evaluations older than this are pruned.';
comment on column kapitaal.decision_policy.policy is 'Always ''default'': the table holds one row.';
comment on column kapitaal.decision_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change the policy.';
