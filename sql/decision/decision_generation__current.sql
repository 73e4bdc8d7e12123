create or replace function kapitaal.decision_generation__current(p_run_id bigint)
returns table (
  run_id bigint,
  generation_id bigint,
  refreshed_at timestamptz,
  symbols integer,
  state_digest text,
  rows_of_generation integer,
  rows_of_other_generations integer,
  complete boolean
)
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select g.run_id, g.generation_id, g.refreshed_at, g.symbols, g.state_digest, c.own, c.other,
         c.own = g.symbols and c.other = 0
    from (select * from kapitaal.state_generations sg where sg.run_id = p_run_id
           order by sg.generation_id desc limit 1) g
   cross join lateral (
     select (count(*) filter (where s.generation_id = g.generation_id))::integer as own,
            (count(*) filter (where s.generation_id <> g.generation_id))::integer as other
       from kapitaal.run_symbol_state s where s.run_id = p_run_id
   ) c
$$;
comment on function kapitaal.decision_generation__current(bigint) is
  'The generation of a run this cluster shows as current (its newest state_generations row) and whether the state '
  'rows are exactly that generation: complete = every row carries it and there are as many as it recorded. No row: '
  'no generation visible yet.';
