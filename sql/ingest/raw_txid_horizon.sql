create or replace function kapitaal.raw_txid_horizon()
returns xid8
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  -- t0: latest completed transaction id + 1. Ids at or above it are running or not yet handed
  -- out; every id below it is finished unless a backend still holds it (checked below).
  v_next numeric := pg_snapshot_xmax(pg_current_snapshot())::text::numeric;
  v_epoch_base numeric;
  v_horizon numeric;
  v_xid numeric;
  v_full numeric;
begin
  v_horizon := v_next;
  if not (pg_has_role(current_user, 'pg_read_all_stats', 'member')
          or exists (select 1 from pg_roles where rolname = current_user and rolsuper)) then
    -- Without the right to see other sessions' xids, fall back to the cluster-wide
    -- horizon: slower to advance when other databases write, never wrong.
    return pg_snapshot_xmin(pg_current_snapshot());
  end if;
  v_epoch_base := v_next - mod(v_next, 4294967296);
  -- t1 (after t0): writers of this database that are still running. A transaction that
  -- held an id at t0 is either listed here or has finished by now, and one that gets its
  -- id after t0 gets one at or above v_next.
  for v_xid in
    select a.backend_xid::text::numeric
      from pg_stat_activity a
     where a.datname = current_database() and a.backend_xid is not null and a.pid <> pg_backend_pid()
    union all
    select p.transaction::text::numeric from pg_prepared_xacts p where p.database = current_database()
  loop
    -- Widen the 32-bit xid to the full id nearest v_next: running ids lie within 2^31 of it,
    -- on either side (snapshot xmax is latest completed + 1, so running ids may exceed it).
    v_full := v_epoch_base + v_xid;
    if v_full > v_next + 2147483648 then
      v_full := v_full - 4294967296;
    elsif v_full < v_next - 2147483648 then
      v_full := v_full + 4294967296;
    end if;
    v_horizon := least(v_horizon, v_full);
  end loop;
  return v_horizon::text::xid8;
end
$$;
comment on function kapitaal.raw_txid_horizon() is
  'The txid below which every transaction that could write this database''s raw tables has finished: rows with a '
  'smaller txid are final and visible to every later statement. Like pg_snapshot_xmin(pg_current_snapshot()) but '
  'ignores transactions of other databases on the cluster, so a long transaction elsewhere does not hold back the '
  'refresh and epoch watermarks. Call it in its own statement, before the statement that reads the rows.';
revoke all on function kapitaal.raw_txid_horizon() from public;
grant execute on function kapitaal.raw_txid_horizon() to kapitaal_ingest_writer, kapitaal_execution, kapitaal_readonly;
