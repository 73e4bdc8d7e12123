create or replace function kapitaal.ingest_run__create_partitions(p_run_id bigint)
returns setof regclass
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_table text;
  v_partition text;
begin
  if p_run_id is null or p_run_id <= 0 then
    raise exception 'ingest_run__create_partitions: run_id must be a positive run id, got %', p_run_id
      using errcode = '22023';
  end if;
  -- Two callers for the same run queue here; the second finds the partitions made.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_run__create_partitions', p_run_id));
  foreach v_table in array kapitaal.raw_tables() loop
    v_partition := format('%s_r%s', v_table, p_run_id);
    if to_regclass(format('kapitaal.%I', v_partition)) is null then
      execute format(
        'create table kapitaal.%I partition of kapitaal.%I for values from (%s) to (%s)',
        v_partition, v_table, p_run_id, p_run_id + 1);
      execute format('comment on table kapitaal.%I is %L', v_partition,
        format('Partition of %s for ingest run %s.', v_table, p_run_id));
    end if;
    return next format('kapitaal.%I', v_partition)::regclass;
  end loop;
end
$$;
comment on function kapitaal.ingest_run__create_partitions(bigint) is
  'Creates the partition of every raw table for one ingest run and returns them. Idempotent; concurrent calls for '
  'the same run are serialised by an advisory lock, so both succeed and one set of partitions exists.';
