create or replace function kapitaal.ingest_write_batch__record(
  p_run_id bigint,
  p_batch_no bigint,
  p_ticker_rows integer,
  p_trade_rows integer,
  p_l2_rows integer,
  p_l3_rows integer,
  p_attempts integer default 1,
  p_now timestamptz default now()
)
returns boolean
language sql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
  insert into ingest_write_batches (run_id, batch_no, committed_at, ticker_rows, trade_rows, l2_rows, l3_rows, attempts)
  values (p_run_id, p_batch_no, p_now, p_ticker_rows, p_trade_rows, p_l2_rows, p_l3_rows, p_attempts)
  on conflict (run_id, batch_no) do nothing
  returning true
$$;
comment on function kapitaal.ingest_write_batch__record(bigint, bigint, integer, integer, integer, integer, integer, timestamptz) is
  'Claims a batch number inside the transaction that writes the batch. Returns true when claimed, null when the '
  'batch was committed before (the writer then rolls back and treats the batch as written).';
