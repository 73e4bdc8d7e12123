-- The refresh job's body without a cadence wait while data streams (supersedes
-- run_symbol_state__refresh_job of sql/state/refresh_job.sql, which always waited the cadence).
create or replace function kapitaal.run_symbol_state__refresh_cycle(
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
  next_run_at timestamptz,
  next_mode text
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_key text := 'run_symbol_state__refresh:' || p_run_id;
  v_payload jsonb;
  v_pending record;
begin
  if p_cadence_seconds is not null and (p_cadence_seconds <= 0 or p_cadence_seconds > 3600) then
    raise exception 'run_symbol_state__refresh_cycle: cadence must be in (0, 3600] seconds, got %', p_cadence_seconds
      using errcode = '22023';
  end if;
  select o.generation_id, o.run_id, o.refreshed_at, o.ticker_rows, o.trade_rows, o.l2_rows, o.l3_rows, o.rows_read,
         o.symbols, o.symbols_changed, o.buckets_deleted, o.watermark_from, o.watermark_to, o.state_digest, o.duration_ms
    into generation_id, run_id, refreshed_at, ticker_rows, trade_rows, l2_rows, l3_rows, rows_read,
         symbols, symbols_changed, buckets_deleted, watermark_from, watermark_to, state_digest, duration_ms
    from kapitaal.refresh_run_symbol_state(p_run_id, p_now) o;

  select r.status into run_status from kapitaal.ingest_runs r where r.run_id = p_run_id;
  requeued := run_status = 'running';
  if not requeued then
    return next;
    return;
  end if;
  -- Rows committed meanwhile but above this refresh's horizon (their writer was still running,
  -- or an older transaction was): the next refresh has work now. New statement, so it sees them.
  if exists (select 1 from kapitaal.ticker_samples t where t.run_id = p_run_id and t.txid >= watermark_to)
     or exists (select 1 from kapitaal.trade_samples t where t.run_id = p_run_id and t.txid >= watermark_to)
     or exists (select 1 from kapitaal.l2_snap_metrics t where t.run_id = p_run_id and t.txid >= watermark_to)
     or exists (select 1 from kapitaal.l3_queue_metrics t where t.run_id = p_run_id and t.txid >= watermark_to) then
    next_mode := 'immediate';
    next_run_at := p_now;
  else
    -- Idle: nothing left to fold in. A writer's batch record pulls this forward
    -- (run_symbol_state__refresh_wake), so the cadence only paces an idle run.
    next_mode := 'cadence';
    next_run_at := p_now + coalesce(make_interval(secs => p_cadence_seconds::double precision),
                                    (select p.cadence from kapitaal.state_refresh_policy p where p.policy = 'default'),
                                    interval '2 seconds');
  end if;
  v_payload := jsonb_build_object('run_id', p_run_id);
  if p_cadence_seconds is not null then
    v_payload := v_payload || jsonb_build_object('cadence_seconds', p_cadence_seconds);
  end if;
  -- A wake (or the watchdog) may already have queued the next refresh while this one ran.
  select j.run_at into v_pending from graphile_worker._private_jobs j where j.key = v_key and j.locked_at is null;
  if found and v_pending.run_at <= next_run_at then
    next_run_at := v_pending.run_at;
    return next;
    return;
  end if;
  -- Same transaction as the refresh. preserve_run_at: a wake committed while this waited on the
  -- key keeps its (sooner) time; at most one pending refresh per run (job key).
  perform graphile_worker.add_job(
    'run_symbol_state__refresh',
    v_payload::json,
    queue_name => v_key, -- one refresh of a run at a time (as job_chain__next)
    run_at => next_run_at,
    job_key => v_key,
    job_key_mode => case when found then 'replace' else 'preserve_run_at' end,
    max_attempts => (select p.chain_max_attempts from kapitaal.decision_policy p where p.policy = 'default'));
  return next;
end
$$;
comment on function kapitaal.run_symbol_state__refresh_cycle(bigint, numeric, timestamptz) is
  'Body of the Graphile Worker task run_symbol_state__refresh (supersedes run_symbol_state__refresh_job): '
  'refresh_run_symbol_state, then, while the ingest run is running, queue the next refresh in the same transaction '
  '(job_key run_symbol_state__refresh:<run_id>): at once (next_mode immediate) when committed raw rows above this '
  'refresh''s horizon exist, else at p_now + cadence (next_mode cadence: p_cadence_seconds, else '
  'state_refresh_policy.cadence). A pending refresh queued sooner (by run_symbol_state__refresh_wake) is kept.';

revoke all on function kapitaal.run_symbol_state__refresh_cycle(bigint, numeric, timestamptz) from public;
grant execute on function kapitaal.run_symbol_state__refresh_cycle(bigint, numeric, timestamptz) to kapitaal_ingest_writer;
