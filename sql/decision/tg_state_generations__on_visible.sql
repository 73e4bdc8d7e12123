create or replace function kapitaal.tg_state_generations__on_visible()
returns trigger
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_set kapitaal.decision_settings;
begin
  select * into v_set from kapitaal.decision_settings d where d.singleton;
  if v_set.cluster_role = 'ingest' then
    -- The refresh just committed a generation here: feed it to the decision cluster.
    if v_set.feed = 'sync' then
      perform kapitaal.job_chain__next('state__sync', 'state__sync:' || new.run_id,
                                       jsonb_build_object('run_id', new.run_id), 'immediate');
    end if;
  else
    -- The generation becomes visible here with this transaction (sync, replication apply, or
    -- the refresh itself on a shared database).
    insert into kapitaal.state_generation_visibility (generation_id, run_id, refreshed_at, visible_at, feed)
    values (new.generation_id, new.run_id, new.refreshed_at, clock_timestamp(), coalesce(v_set.feed, 'none'))
    on conflict do nothing;
    if v_set.evaluation_enabled then
      perform kapitaal.job_chain__next('evaluation__run', 'evaluation__run', '{}'::jsonb, 'immediate');
    end if;
  end if;
  return null;
end
$$;
comment on function kapitaal.tg_state_generations__on_visible() is
  'After a state_generations row is inserted: on an ingest cluster in sync mode, queue state__sync for the run; '
  'elsewhere record when the generation became visible (state_generation_visibility) and, when an execution runtime '
  'evaluates here, queue evaluation__run. Same transaction as the generation, so each step queues the next exactly '
  'when it commits.';

drop trigger if exists _500_on_visible on kapitaal.state_generations;
create trigger _500_on_visible
  after insert on kapitaal.state_generations
  for each row execute function kapitaal.tg_state_generations__on_visible();
-- ALWAYS: also fires in the logical replication apply worker (session_replication_role = replica).
alter table kapitaal.state_generations enable always trigger _500_on_visible;
comment on trigger _500_on_visible on kapitaal.state_generations is
  'Chains the next step when a generation is recorded (see tg_state_generations__on_visible); enabled ALWAYS so that '
  'replicated generations trigger the evaluation too.';
