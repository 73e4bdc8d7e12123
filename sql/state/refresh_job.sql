create or replace function kapitaal.run_symbol_state__refresh_job(
  p_run_id bigint,
  p_cadence_seconds numeric default null,
  p_now timestamptz default now()
)
returns table (
  generation_id bigint,
  run_id bigint,
  refreshed_at timestamptz,
  ticker_rows integer,
  trade_rows integer,
  l2_rows integer,
  l3_rows integer,
  rows_read integer,
  symbols integer,
  symbols_changed integer,
  buckets_deleted integer,
  watermark_from xid8,
  watermark_to xid8,
  state_digest text,
  duration_ms numeric,
  run_status text,
  requeued boolean,
  next_run_at timestamptz
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_cadence interval;
  v_payload jsonb;
begin
  if p_cadence_seconds is not null and (p_cadence_seconds <= 0 or p_cadence_seconds > 3600) then
    raise exception 'run_symbol_state__refresh_job: cadence must be in (0, 3600] seconds, got %', p_cadence_seconds
      using errcode = '22023';
  end if;
  select o.generation_id, o.run_id, o.refreshed_at, o.ticker_rows, o.trade_rows, o.l2_rows, o.l3_rows, o.rows_read,
         o.symbols, o.symbols_changed, o.buckets_deleted, o.watermark_from, o.watermark_to, o.state_digest, o.duration_ms
    into generation_id, run_id, refreshed_at, ticker_rows, trade_rows, l2_rows, l3_rows, rows_read,
         symbols, symbols_changed, buckets_deleted, watermark_from, watermark_to, state_digest, duration_ms
    from kapitaal.refresh_run_symbol_state(p_run_id, p_now) o;

  select r.status into run_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  requeued := run_status = 'running';
  if requeued then
    v_cadence := coalesce(make_interval(secs => p_cadence_seconds::double precision),
                          (select p.cadence from kapitaal.state_refresh_policy p where p.policy = 'default'),
                          interval '2 seconds');
    next_run_at := p_now + v_cadence;
    v_payload := jsonb_build_object('run_id', p_run_id);
    if p_cadence_seconds is not null then
      v_payload := v_payload || jsonb_build_object('cadence_seconds', p_cadence_seconds);
    end if;
    -- Same transaction as the refresh: either both happen or neither. The job key keeps at
    -- most one pending refresh per run (a running job's key is released by add_job).
    perform graphile_worker.add_job(
      'run_symbol_state__refresh',
      v_payload::json,
      run_at => next_run_at,
      job_key => 'run_symbol_state__refresh:' || p_run_id,
      job_key_mode => 'replace');
  end if;
  return next;
end
$$;
comment on function kapitaal.run_symbol_state__refresh_job(bigint, numeric, timestamptz) is
  'Body of the Graphile Worker task run_symbol_state__refresh: refresh_run_symbol_state, then, while the ingest run is '
  'still running, re-queue the task (job_key run_symbol_state__refresh:<run_id>, run_at = p_now + cadence) in the same '
  'transaction. Cadence: p_cadence_seconds, else state_refresh_policy.cadence (default 2 s).';
