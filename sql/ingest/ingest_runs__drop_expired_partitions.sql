create or replace function kapitaal.ingest_runs__drop_expired_partitions(
  p_keep interval,
  p_now timestamptz default now()
)
returns table (run_id bigint, dropped text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_run bigint;
  v_table text;
  v_partition regclass;
begin
  if p_keep is null or p_keep < interval '0' then
    raise exception 'ingest_runs__drop_expired_partitions: keep must be a positive interval, got %', p_keep
      using errcode = '22023';
  end if;
  -- One maintainer at a time; a second concurrent call waits, then finds nothing left to drop.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.ingest_runs__drop_expired_partitions', 0));
  for v_run in
    select r.run_id from ingest_runs r
     where r.status <> 'running' and r.ended_at < p_now - p_keep and r.partitions_dropped_at is null
     order by r.run_id
  loop
    foreach v_table in array raw_tables() loop
      v_partition := to_regclass(format('kapitaal.%I', format('%s_r%s', v_table, v_run)));
      if v_partition is not null then
        run_id := v_run;
        dropped := v_partition::text;
        execute format('alter table kapitaal.%I detach partition %s', v_table, v_partition);
        execute format('drop table %s', v_partition);
        return next;
      end if;
    end loop;
    update ingest_runs set partitions_dropped_at = p_now where ingest_runs.run_id = v_run;
  end loop;
end
$$;
comment on function kapitaal.ingest_runs__drop_expired_partitions(interval, timestamptz) is
  'Retention: detaches and drops the raw partitions of runs that ended more than p_keep before p_now. Running runs '
  'are never touched; the run rows stay for lineage, with partitions_dropped_at set.';
