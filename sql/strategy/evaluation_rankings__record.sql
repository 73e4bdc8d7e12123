-- Stores the whole ranking of strategy__rank for an evaluation. Idempotent per evaluation id.
drop function if exists kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text);
create function kapitaal.evaluation_rankings__record(
  p_evaluation_id bigint,
  p_run_id bigint,
  p_now timestamptz default now(),
  p_size_quote numeric default null,
  p_account text default 'default'
)
returns setof kapitaal.evaluation_rankings
language plpgsql
volatile
as $$
begin
  if p_evaluation_id is null or p_run_id is null then
    raise exception 'evaluation_rankings__record: evaluation id and run id are required (got %, %)',
      p_evaluation_id, p_run_id using errcode = '22004';
  end if;
  -- One recording per evaluation even when two sessions try at once: the second returns the first's rows.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.evaluation_rankings', p_evaluation_id));
  if not exists (select 1 from kapitaal.evaluation_rankings c where c.evaluation_id = p_evaluation_id) then
    insert into kapitaal.evaluation_rankings
      (evaluation_id, symbol, strategy, rank, score, net_edge_bps, selected, reason, inputs, run_id, generation_id,
       regime, side, entry_liquidity, order_type, post_only, entry_price, queue_ahead_qty, gross_edge_bps, fee_bps,
       fill_probability, selectable, gates, recorded_at)
    select p_evaluation_id, r.symbol, r.strategy, r.rank, r.score, r.net_edge_bps, r.selected, r.reason, r.inputs,
           r.run_id, r.generation_id, r.regime, r.side, r.entry_liquidity, r.order_type, r.post_only, r.entry_price,
           r.queue_ahead_qty, r.gross_edge_bps, r.fee_bps, r.fill_probability, r.selectable, r.gates, p_now
      from kapitaal.strategy__rank(p_run_id, p_now, p_size_quote, p_account) r;
  end if;
  return query
    select c.* from kapitaal.evaluation_rankings c where c.evaluation_id = p_evaluation_id order by c.rank;
end
$$;
comment on function kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text) is
  'Stores every proposal of strategy__rank(p_run_id, p_now, p_size_quote, p_account) with its rank, score, selection '
  'and loss reason under p_evaluation_id (an id the decision layer''s evaluation created; no foreign key) and returns '
  'the stored rows by rank. Idempotent: a second call for the same evaluation id (also concurrently, serialised by an '
  'advisory lock) stores nothing and returns the first recording. A run without state stores no rows.';
