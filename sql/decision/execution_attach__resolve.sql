create or replace function kapitaal.execution_attach__resolve(p_now timestamptz default now(), p_run_id bigint default null)
returns table (
  attached boolean,
  run_id bigint,
  run_status text,
  heartbeat_at timestamptz,
  heartbeat_age interval,
  epoch bigint,
  epoch_published_at timestamptz,
  snapshot_symbols integer,
  reason text
)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  with pol as (
    select p.attach_max_heartbeat_age as max_age from kapitaal.decision_policy p where p.policy = 'default'
  ),
  runs as (
    select r.run_id, r.status, r.heartbeat_at, greatest(p_now - r.heartbeat_at, interval '0') as age,
           e.epoch, e.published_at, e.symbols
      from kapitaal.ingest_runs r
      left join lateral (
        select ie.epoch, ie.published_at, ie.symbols from kapitaal.ingest_epochs ie
         where ie.run_id = r.run_id order by ie.epoch desc limit 1
      ) e on true
     where p_run_id is null or r.run_id = p_run_id
  ),
  best as (
    select r.* from runs r, pol
     where r.status = 'running' and r.age <= pol.max_age and r.epoch is not null
     order by r.run_id desc limit 1
  ),
  nearest as (
    select r.* from runs r order by (r.status = 'running') desc, r.run_id desc limit 1
  )
  select true, b.run_id, b.status, b.heartbeat_at, b.age, b.epoch, b.published_at, b.symbols,
         format('ATTACHED: ingest run %s, epoch %s, heartbeat %s old', b.run_id, b.epoch, b.age)
    from best b
  union all
  select false, n.run_id, n.status, n.heartbeat_at, n.age, n.epoch, n.published_at, n.symbols,
         case
           when n.run_id is null then
             case when p_run_id is null then 'NO_INGEST_RUN: no ingest run is visible on the decision cluster'
                  else format('NO_INGEST_RUN: ingest run %s is not visible on the decision cluster', p_run_id) end
           when n.status <> 'running' then format('NO_LIVE_RUN: newest ingest run %s is %s', n.run_id, n.status)
           when n.age > pol.max_age then format('NO_LIVE_RUN: ingest run %s heartbeat %s old > %s', n.run_id, n.age, pol.max_age)
           else format('NO_EPOCH: ingest run %s has published no epoch yet', n.run_id)
         end
    from pol
    left join nearest n on true
   where not exists (select 1 from best)
$$;
comment on function kapitaal.execution_attach__resolve(timestamptz, bigint) is
  'Execution attach, as seen on the decision cluster: the newest live ingest run (status running, heartbeat at most '
  'decision_policy.attach_max_heartbeat_age old at p_now) that has published an epoch, with its newest epoch and '
  'snapshot size. attached = false with the reason (NO_INGEST_RUN, NO_LIVE_RUN, NO_EPOCH) when there is none. '
  'p_run_id restricts the choice to that run.';
