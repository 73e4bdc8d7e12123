create or replace function kapitaal.state__sync_cursor(p_run_id bigint)
returns table (run_id bigint, generation_id bigint, epoch bigint, pairs_updated_at timestamptz)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select p_run_id,
         (select max(g.generation_id) from kapitaal.state_generations g where g.run_id = p_run_id),
         (select max(e.epoch) from kapitaal.ingest_epochs e where e.run_id = p_run_id),
         (select max(p.updated_at) from kapitaal.run_pairs p where p.run_id = p_run_id)
$$;
comment on function kapitaal.state__sync_cursor(bigint) is
  'Decision side of the sync, first step: what this cluster already holds of an ingest run (newest generation, '
  'newest epoch, newest run_pairs change), so the ingest side sends only what is missing.';
