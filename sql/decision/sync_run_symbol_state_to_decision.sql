create or replace function kapitaal.sync_run_symbol_state_to_decision(p_payload jsonb, p_now timestamptz default now())
returns table (
  run_id bigint,
  generation_id bigint,
  applied boolean,
  reason text,
  symbols integer,
  state_digest text,
  refreshed_at timestamptz,
  visible_generation_id bigint,
  runs_upserted integer,
  pairs_upserted integer,
  epochs_inserted integer,
  snapshots_inserted integer,
  more_epochs boolean
)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_run bigint := (p_payload->>'run_id')::bigint;
  v_gen jsonb := nullif(p_payload->'generation', 'null'::jsonb);
  v_current bigint;
  v_digest text;
  v_rows integer;
  v_other integer;
  v_ingest_major integer := (p_payload->>'server_version_num')::integer / 10000;
  v_local_major integer := current_setting('server_version_num')::integer / 10000;
begin
  if v_run is null then
    raise exception 'sync_run_symbol_state_to_decision: payload without run_id' using errcode = '22023';
  end if;
  if exists (select 1 from kapitaal.decision_settings d where d.feed = 'replication')
     or exists (select 1 from pg_subscription s join pg_database db on db.oid = s.subdbid
                 where db.datname = current_database()) then
    raise exception 'sync_run_symbol_state_to_decision: this database is fed by logical replication; the sync must not write it'
      using errcode = '55000';
  end if;
  -- Syncs of one run are serialised; an older payload arriving late is skipped below.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.sync_run_symbol_state_to_decision', v_run));

  run_id := v_run;
  runs_upserted := kapitaal.decision__upsert_rows('kapitaal.ingest_runs', p_payload->'runs');
  pairs_upserted := kapitaal.decision__upsert_rows('kapitaal.run_pairs', p_payload->'pairs');
  insert into kapitaal.ingest_epochs
  select * from jsonb_populate_recordset(null::kapitaal.ingest_epochs, coalesce(nullif(p_payload->'epochs', 'null'::jsonb), '[]'::jsonb))
  on conflict do nothing;
  get diagnostics epochs_inserted = row_count;
  insert into kapitaal.ingest_snapshots
  select * from jsonb_populate_recordset(null::kapitaal.ingest_snapshots, coalesce(nullif(p_payload->'snapshots', 'null'::jsonb), '[]'::jsonb))
  on conflict do nothing;
  get diagnostics snapshots_inserted = row_count;
  more_epochs := coalesce((p_payload->>'more_epochs')::boolean, false);

  select max(g.generation_id) into v_current from kapitaal.state_generations g where g.run_id = v_run;
  visible_generation_id := v_current;
  applied := false;
  if v_gen is null then
    generation_id := (p_payload->>'newest_generation_id')::bigint;
    reason := case when generation_id is null then 'NO_GENERATION: the run has not been refreshed yet'
                   else format('ALREADY_VISIBLE: generation %s is visible here', v_current) end;
    return next;
    return;
  end if;
  generation_id := (v_gen->>'generation_id')::bigint;
  symbols := (v_gen->>'symbols')::integer;
  state_digest := v_gen->>'state_digest';
  refreshed_at := (v_gen->>'refreshed_at')::timestamptz;
  if v_current >= generation_id then
    reason := format('ALREADY_VISIBLE: generation %s is visible here (this payload carries %s)', v_current, generation_id);
    return next;
    return;
  end if;

  -- Said plainly before any digest is compared: hash_record_extended (the digest's row hash) is only
  -- stable within one major version, so across majors every generation would fail to verify.
  if v_ingest_major is not null and v_ingest_major <> v_local_major then
    raise exception 'sync_run_symbol_state_to_decision: the ingest cluster runs PostgreSQL % and this decision cluster PostgreSQL %; state digests only compare within one major version, so no generation can verify here',
      v_ingest_major, v_local_major
      using errcode = '0A000', hint = 'Run both clusters on the same PostgreSQL major version.';
  end if;

  -- The whole generation in this transaction: the run's rows are replaced by the generation's
  -- (every refresh rewrites all rows of a run anyway), verified, then the generation row is added
  -- last (its trigger records visibility and enqueues the evaluation, both as of the commit).
  -- Generic: the table's own row type, no column list.
  delete from kapitaal.run_symbol_state s where s.run_id = v_run;
  insert into kapitaal.run_symbol_state
  select * from jsonb_populate_recordset(null::kapitaal.run_symbol_state,
                                         coalesce(nullif(p_payload->'state', 'null'::jsonb), '[]'::jsonb));

  select count(*) filter (where s.generation_id = (v_gen->>'generation_id')::bigint),
         count(*) filter (where s.generation_id <> (v_gen->>'generation_id')::bigint)
    into v_rows, v_other
    from kapitaal.run_symbol_state s where s.run_id = v_run;
  v_digest := kapitaal.run_symbol_state__digest(v_run);
  if v_rows <> symbols or v_other <> 0 or v_digest is distinct from state_digest then
    raise exception 'sync_run_symbol_state_to_decision: generation % of run % does not verify here (rows %/% of it, % of others, digest % <> %)',
      generation_id, v_run, v_rows, symbols, v_other, v_digest, state_digest
      using errcode = 'XX001';
  end if;
  insert into kapitaal.state_generations
  select * from jsonb_populate_record(null::kapitaal.state_generations, v_gen);
  applied := true;
  visible_generation_id := generation_id;
  reason := 'APPLIED: digest verified';
  return next;
end
$$;
comment on function kapitaal.sync_run_symbol_state_to_decision(jsonb, timestamptz) is
  'Decision side of the sync, in one transaction: upserts the run (and lineage) rows and changed run_pairs, adds new '
  'epochs and snapshots, and, when the payload''s generation is newer than the newest one here, replaces all '
  'run_symbol_state rows of the run by the generation''s and adds its state_generations row, then verifies row count and '
  'run_symbol_state__digest against state_digest (a mismatch raises: nothing of the generation becomes visible). '
  'Older or equal generations are skipped. Refuses to run on a database fed by logical replication.';
