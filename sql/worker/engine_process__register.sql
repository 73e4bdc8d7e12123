create or replace function kapitaal.engine_process__register(
  p_process_id text,
  p_role text,
  p_host text,
  p_pid integer,
  p_now timestamptz default now()
)
returns void
language sql
volatile
as $$
  insert into kapitaal.engine_processes (process_id, role, host, pid, pool_ids, started_at, heartbeat_at)
  values (p_process_id, p_role, p_host, p_pid, '{}', p_now, p_now)
$$;
comment on function kapitaal.engine_process__register(text, text, text, integer, timestamptz) is
  'Records a starting engine process, before its Graphile Worker pool exists.';

create or replace function kapitaal.engine_process__add_pool(p_process_id text, p_pool_id text)
returns void
language sql
volatile
as $$
  update kapitaal.engine_processes set pool_ids = array_append(pool_ids, p_pool_id)
   where process_id = p_process_id and not p_pool_id = any(pool_ids)
$$;
comment on function kapitaal.engine_process__add_pool(text, text) is
  'Records the Graphile Worker pool id (locked_by of its jobs) of an engine process.';

create or replace function kapitaal.engine_process__heartbeat(p_process_id text, p_now timestamptz default now())
returns boolean
language sql
volatile
as $$
  update kapitaal.engine_processes set heartbeat_at = greatest(heartbeat_at, p_now)
   where process_id = p_process_id and stopped_at is null and reaped_at is null
  returning true
$$;
comment on function kapitaal.engine_process__heartbeat(text, timestamptz) is
  'Marks a process alive. Returns null if it was reaped as dead meanwhile: the process must stop taking jobs.';

create or replace function kapitaal.engine_process__stop(p_process_id text, p_now timestamptz default now())
returns void
language sql
volatile
as $$
  update kapitaal.engine_processes set stopped_at = p_now where process_id = p_process_id and stopped_at is null
$$;
comment on function kapitaal.engine_process__stop(text, timestamptz) is 'Records a clean stop of an engine process.';
