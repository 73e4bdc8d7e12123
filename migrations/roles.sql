-- Cluster-wide group roles, created outside the migrations (roles belong to the
-- cluster, migrations to a database). Run as a superuser by `kapitaal db migrate`
-- before the migrations; safe to run again and from two sessions at once.
do $$
declare
  v_role text;
begin
  foreach v_role in array array['kapitaal_ingest_writer', 'kapitaal_execution', 'kapitaal_readonly'] loop
    if not exists (select 1 from pg_roles where rolname = v_role) then
      begin
        execute format('create role %I nologin', v_role);
      exception when duplicate_object or unique_violation then
        null; -- created concurrently by another migrator
      end;
    end if;
  end loop;
end
$$;
