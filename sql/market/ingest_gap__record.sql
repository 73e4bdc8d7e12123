create or replace function kapitaal.ingest_gap__record(
  p_run_id bigint,
  p_table_name text,
  p_first_received_at timestamptz,
  p_last_received_at timestamptz,
  p_rows_dropped bigint,
  p_reason text,
  p_now timestamptz default now()
)
returns bigint
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  insert into ingest_gaps (run_id, table_name, first_received_at, last_received_at, rows_dropped, reason, recorded_at)
  values (p_run_id, p_table_name, p_first_received_at, p_last_received_at, p_rows_dropped, p_reason, p_now)
  returning gap_id
$$;
comment on function kapitaal.ingest_gap__record(bigint, text, timestamptz, timestamptz, bigint, text, timestamptz) is
  'Records a range of raw rows the collector dropped (see ingest_gaps) and returns its gap_id.';
