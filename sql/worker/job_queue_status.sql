create or replace view kapitaal.job_queue_status as
select j.task_identifier,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at <= now()) as waiting,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at > now()) as scheduled,
       count(*) filter (where j.locked_at is not null) as running,
       count(*) filter (where j.attempts >= j.max_attempts) as failed,
       count(*) filter (where j.last_error is not null and j.attempts < j.max_attempts) as retrying,
       max(j.last_error) filter (where j.attempts >= j.max_attempts) as last_failure
  from graphile_worker.jobs j
 group by j.task_identifier;
comment on view kapitaal.job_queue_status is
  'Graphile Worker queue per task: waiting, scheduled (run_at in the future), running (locked), failed '
  '(attempts exhausted: the chain stopped here, look at last_failure) and retrying.';
