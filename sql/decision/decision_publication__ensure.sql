create or replace function kapitaal.decision_publication__tables()
returns regclass[]
language sql
immutable
as $$
  select array['kapitaal.ingest_runs', 'kapitaal.run_pairs', 'kapitaal.ingest_epochs', 'kapitaal.ingest_snapshots',
               'kapitaal.run_symbol_state', 'kapitaal.state_generations']::regclass[]
$$;
comment on function kapitaal.decision_publication__tables() is
  'The tables the decision cluster receives from the ingest cluster, in sync mode and in logical replication mode alike.';

create or replace function kapitaal.decision_publication__ensure(p_publication text default 'kapitaal_decision')
returns text
language plpgsql
volatile
set search_path = kapitaal, pg_temp
as $$
declare
  v_tables text := (select string_agg(t::text, ', ') from unnest(kapitaal.decision_publication__tables()) t);
begin
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.decision_publication__ensure', 0));
  if exists (select 1 from pg_publication p where p.pubname = p_publication) then
    execute format('alter publication %I set table %s', p_publication, v_tables);
    return 'updated';
  end if;
  execute format('create publication %I for table %s', p_publication, v_tables);
  return 'created';
end
$$;
comment on function kapitaal.decision_publication__ensure(text) is
  'Ingest side of logical replication mode: creates the publication (default kapitaal_decision) of '
  'decision_publication__tables(), or resets its table list. Idempotent; needs wal_level = logical to be useful.';
