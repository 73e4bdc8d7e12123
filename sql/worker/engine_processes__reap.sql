create or replace function kapitaal.engine_processes__reap(
  p_dead_process_ids text[],
  p_stale_after interval default interval '30 seconds',
  p_now timestamptz default now()
)
returns table (process_id text, pool_ids text[], reason text)
language plpgsql
volatile
as $$
begin
  return query
  with dead as (
    update kapitaal.engine_processes p
       set reaped_at = p_now,
           reap_reason = case when p.process_id = any(coalesce(p_dead_process_ids, '{}'))
                              then 'process gone' else 'heartbeat stale since ' || p.heartbeat_at end
     where p.stopped_at is null and p.reaped_at is null
       and (p.process_id = any(coalesce(p_dead_process_ids, '{}')) or p.heartbeat_at < p_now - p_stale_after)
    returning p.process_id, p.pool_ids, p.reap_reason
  )
  select d.process_id, d.pool_ids, d.reap_reason from dead d;
  -- Jobs locked by a dead pool would otherwise stay locked for 4 hours. Orphans
  -- (a pool that died before it was recorded) are released once clearly old.
  perform graphile_worker.force_unlock_workers(array(
    select unnest(p.pool_ids) from kapitaal.engine_processes p where p.reaped_at = p_now
    union
    select j.locked_by from graphile_worker.jobs j
     where j.locked_by is not null and j.locked_at < p_now - p_stale_after
       and not exists (select 1 from kapitaal.engine_processes p
                        where j.locked_by = any(p.pool_ids) and p.stopped_at is null and p.reaped_at is null)));
end
$$;
comment on function kapitaal.engine_processes__reap(text[], interval, timestamptz) is
  'Declares dead the given processes (their pid is gone on this host) and every process whose heartbeat is older '
  'than p_stale_after, and unlocks their Graphile Worker jobs and queues at once; also unlocks jobs older than '
  'p_stale_after held by a pool no live process owns. Returns the processes it reaped.';
