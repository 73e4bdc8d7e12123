create or replace view kapitaal.job_queue_status as
select j.task_identifier,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at <= now()) as waiting,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at > now()) as scheduled,
       count(*) filter (where j.locked_at is not null) as running,
       -- Not locked: Graphile Worker counts an attempt when it locks a job, so a job on its last attempt is
       -- running, not failed, until it ends.
       count(*) filter (where j.locked_at is null and j.attempts >= j.max_attempts) as failed,
       count(*) filter (where j.last_error is not null and j.attempts < j.max_attempts) as retrying,
       (array_agg(j.last_error order by j.updated_at desc, j.id desc)
          filter (where j.locked_at is null and j.attempts >= j.max_attempts))[1] as last_failure
  from graphile_worker.jobs j
 group by j.task_identifier;
comment on view kapitaal.job_queue_status is
  'Graphile Worker queue per task: waiting, scheduled (run_at in the future), running (locked), failed '
  '(attempts exhausted: the chain stopped here, look at last_failure) and retrying.';

-- Column comments (\d+ in psql). Counts are jobs in graphile_worker.jobs (done jobs are deleted, so not counted).
comment on column kapitaal.job_queue_status.task_identifier is
  'graphile_worker.jobs.task_identifier: the task name (one row per task with at least one job).';
comment on column kapitaal.job_queue_status.waiting is
  'Jobs due now (run_at <= now()), not locked, attempts left: ready for the next free worker.';
comment on column kapitaal.job_queue_status.scheduled is
  'Jobs not locked, attempts left, run_at in the future: a delayed job or a retry waiting out its backoff.';
comment on column kapitaal.job_queue_status.running is 'Jobs locked by a worker (being run, or held by a dead worker until reaped).';
comment on column kapitaal.job_queue_status.failed is
  'Jobs not locked with attempts >= max_attempts: no more retries; the chain stopped here. (A job running its last '
  'attempt counts as running: Graphile Worker counts an attempt when it locks the job.)';
comment on column kapitaal.job_queue_status.retrying is
  'Jobs with a last_error and attempts left: failed at least once and will be tried again (also counted in waiting, '
  'scheduled or running).';
comment on column kapitaal.job_queue_status.last_failure is
  'last_error of the most recently updated job counted in failed; null when there is none.';
