create or replace function kapitaal.validation__ingest_proofs(
  p_now timestamptz default now(),
  p_max_age interval default interval '30 seconds'
)
returns table (proof text, ok boolean, detail text)
language sql
stable
as $$
  with run as (
    select r.* from kapitaal.ingest_runs r where r.status = 'running' order by r.run_id desc limit 1
  ), epoch as (
    select e.* from kapitaal.ingest_epochs e join run using (run_id) order by e.epoch desc limit 1
  ), gen as (
    select g.* from kapitaal.state_generations g join run using (run_id) order by g.generation_id desc limit 1
  )
  select 'bootstrap.run',
         exists (select 1 from run where heartbeat_at >= p_now - p_max_age),
         coalesce((select format('run %s, heartbeat %s s ago, parent %s', run_id,
                                 round(extract(epoch from p_now - heartbeat_at)::numeric, 1), coalesce(parent_run_id::text, 'none'))
                     from run), 'no running ingest run')
  union all
  select 'bootstrap.epoch',
         exists (select 1 from epoch where published_at >= p_now - p_max_age),
         coalesce((select format('epoch %s at %s: %s symbols, %s with a valid book; rows ticker %s trade %s l2 %s l3 %s',
                                 epoch, published_at, symbols, symbols_book_valid, ticker_rows, trade_rows, l2_rows, l3_rows)
                     from epoch), 'no epoch published')
  union all
  select 'bootstrap.state',
         exists (select 1 from gen where refreshed_at >= p_now - p_max_age),
         coalesce((select format('generation %s refreshed %s s ago over %s symbols', generation_id,
                                 round(extract(epoch from p_now - refreshed_at)::numeric, 1), symbols) from gen),
                  'no state generation')
$$;
comment on function kapitaal.validation__ingest_proofs(timestamptz, interval) is
  'Bootstrap proof on the ingest cluster: a running ingest run with a fresh heartbeat, a recent epoch and a recent '
  'state generation. One row per check with ok and the facts behind it (used by `kapitaal validate`).';
