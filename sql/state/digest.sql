create or replace function kapitaal.run_symbol_state__digest(p_run_id bigint)
returns text
language sql
stable
as $$
  select md5(coalesce(string_agg((to_jsonb(s) - '{generation_id,refreshed_at}'::text[])::text, E'\n' order by s.symbol), ''))
    from kapitaal.run_symbol_state s
   where s.run_id = p_run_id
$$;
comment on function kapitaal.run_symbol_state__digest(bigint) is
  'md5 over the run''s run_symbol_state rows in symbol order, as jsonb without generation_id and refreshed_at. '
  'Equal digests mean equal state; state_generations records it per refresh so the decision cluster can verify a sync.';
