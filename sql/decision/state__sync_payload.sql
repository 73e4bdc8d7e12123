-- json, not jsonb: the document is only ever sent as text, and json_agg of the wide state rows
-- costs a third of jsonb_agg(to_jsonb(...)) (numerics are copied as text, no key sorting).
drop function if exists kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer);
create function kapitaal.state__sync_payload(
  p_run_id bigint,
  p_after_generation bigint default null,
  p_after_epoch bigint default null,
  p_pairs_after timestamptz default null,
  p_max_epochs integer default 100
)
returns json
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  -- One statement, one snapshot: the newest generation and the state rows it stamped are
  -- read together (a refresh commits both in one transaction).
  with recursive lineage as (
    select r.run_id, r.parent_run_id from kapitaal.ingest_runs r where r.run_id = p_run_id
    union
    select r.run_id, r.parent_run_id from kapitaal.ingest_runs r join lineage l on r.run_id = l.parent_run_id
  ),
  g as (
    select * from kapitaal.state_generations sg where sg.run_id = p_run_id order by sg.generation_id desc limit 1
  ),
  gn as (
    select * from g where g.generation_id > coalesce(p_after_generation, 0)
  ),
  e as (
    select * from kapitaal.ingest_epochs ie
     where ie.run_id = p_run_id and ie.epoch > coalesce(p_after_epoch, 0)
     order by ie.epoch
     limit greatest(p_max_epochs, 1)
  )
  select json_build_object(
    'run_id', p_run_id,
    'read_at', clock_timestamp(),
    -- The decision side checks it: state digests only compare within one PostgreSQL major version.
    'server_version_num', current_setting('server_version_num')::integer,
    'newest_generation_id', (select g.generation_id from g),
    'runs', (select json_agg(r order by r.run_id)
               from kapitaal.ingest_runs r where r.run_id in (select l.run_id from lineage l)),
    'pairs', (select json_agg(p order by p.symbol)
                from kapitaal.run_pairs p
               where p.run_id = p_run_id and (p_pairs_after is null or p.updated_at >= p_pairs_after)),
    'epochs', (select json_agg(e order by e.epoch) from e),
    'snapshots', (select json_agg(s order by s.epoch, s.symbol)
                    from kapitaal.ingest_snapshots s join e on s.run_id = e.run_id and s.epoch = e.epoch),
    'more_epochs', exists (select 1 from kapitaal.ingest_epochs ie
                            where ie.run_id = p_run_id and ie.epoch > coalesce((select max(e.epoch) from e), p_after_epoch, 0)),
    'generation', (select row_to_json(gn) from gn),
    'state', case when exists (select 1 from gn) then
               coalesce((select json_agg(s order by s.symbol)
                           from kapitaal.run_symbol_state s where s.run_id = p_run_id), '[]'::json)
             end
  )
$$;
comment on function kapitaal.state__sync_payload(bigint, bigint, bigint, timestamptz, integer) is
  'Ingest side of the sync: one json document with what the decision cluster lacks of a run (its cursor from '
  'state__sync_cursor): the run and its lineage (ingest_runs), changed run_pairs, up to p_max_epochs new epochs with '
  'their snapshots, and the newest generation with all its run_symbol_state rows when it is newer than '
  'p_after_generation (older generations are skipped: each generation is the complete state). Read in one snapshot, '
  'so the state rows are exactly those of the generation. Columns are generic (row_to_json of the row). json, not jsonb: it is '
  'sent as text and read by sync_run_symbol_state_to_decision(jsonb).';
