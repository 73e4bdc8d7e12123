-- New raw rows start the refresh at once: the writer's batch record pulls the run's pending
-- refresh forward, so no refresh waits out its cadence while data streams.
create or replace function kapitaal.run_symbol_state__refresh_wake(p_run_id bigint, p_now timestamptz default now())
returns timestamptz
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_key text := 'run_symbol_state__refresh:' || p_run_id;
  v_job record;
begin
  if to_regclass('graphile_worker._private_jobs') is null then
    return null;
  end if;
  -- Plain read first: on a busy run the next refresh is usually already due, and then the
  -- writer takes no lock at all.
  select j.run_at, j.locked_at, j.attempts, j.flags, j.payload into v_job
    from graphile_worker._private_jobs j where j.key = v_key;
  if not found then
    return null; -- no refresh chain for this run here (the watchdog seeds a missing one)
  end if;
  if v_job.locked_at is null and (v_job.run_at <= p_now or v_job.attempts > 0 or coalesce(v_job.flags ? 'chain_backoff', false)) then
    -- Already due, or a retry after a failure: new rows never pull a backoff forward.
    return v_job.run_at;
  end if;
  -- Pending for later (idle cadence): run now. Running: the running refresh may have taken its
  -- horizon before these rows, so queue a follow-up now (the running job's key moves to it).
  return kapitaal.job_chain__next('run_symbol_state__refresh', v_key, v_job.payload::jsonb, 'immediate',
                                  interval '0', 0, p_now);
end
$$;
comment on function kapitaal.run_symbol_state__refresh_wake(bigint, timestamptz) is
  'Pulls the next refresh of an ingest run forward to now because new raw rows were committed (called by the '
  'trigger on ingest_write_batches, in the writer''s transaction, so the job becomes visible with the rows): a refresh '
  'pending for later runs now; a running one gets a follow-up queued now; a due one or a retry after a failure '
  '(attempts > 0, chain_backoff) is left alone; no refresh job: nothing (job_chain__watchdog seeds it). Returns the '
  'pending refresh''s run_at (null: none).';

create or replace function kapitaal.tg_ingest_write_batches__wake_refresh()
returns trigger
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
begin
  perform kapitaal.run_symbol_state__refresh_wake(b.run_id)
     from (select distinct n.run_id from new_batches n) b;
  return null;
end
$$;
comment on function kapitaal.tg_ingest_write_batches__wake_refresh() is
  'After a statement inserting ingest_write_batches rows (one per collector batch): wake the refresh of each run '
  'written (run_symbol_state__refresh_wake).';

drop trigger if exists _500_wake_refresh on kapitaal.ingest_write_batches;
create trigger _500_wake_refresh
  after insert on kapitaal.ingest_write_batches
  referencing new table as new_batches
  for each statement execute function kapitaal.tg_ingest_write_batches__wake_refresh();
comment on trigger _500_wake_refresh on kapitaal.ingest_write_batches is
  'New raw rows of a run were committed with this batch: start its refresh now instead of after the cadence.';

revoke all on function kapitaal.run_symbol_state__refresh_wake(bigint, timestamptz) from public;
