--! Previous: sha1:1a91b70d9de761527980ca0d6c8aade1d28d954a
--! Hash: sha1:35ef51c435c6bdfc16a9da11229a7b29eb3f6f28
--! Message: Placement calls dust left of a used cap no_room

--! split: 1-current.sql
-- Enter migration here

--! split: 3-dust-room.sql
--! Included orders/evaluation__place_orders.sql
-- The placement glue between an evaluation and the order book: top-1 candidate -> size -> pair limits
-- -> order intent (plus its submit job), all in the evaluation's transaction.
create or replace function kapitaal.evaluation__place_orders(
  p_evaluation_id bigint,
  p_run_id bigint,
  p_generation_id bigint,
  p_now timestamptz
)
returns kapitaal.evaluation_placements
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_done kapitaal.evaluation_placements;
  v_top kapitaal.evaluation_rankings;
  v_pair kapitaal.run_pairs;
  v_size record;
  v_lim record;
  v_order_id bigint;
  v_intent_client text;
  v_job_id bigint;
  v_created boolean;
  v_price numeric;
  v_outcome text;
  v_marker text;
  v_reason text;
  v_client_id text;
  v_details jsonb;
  v_generation bigint;
  v_halt record;
begin
  if p_evaluation_id is null then
    raise exception 'evaluation__place_orders: evaluation id is required' using errcode = '22004';
  end if;
  -- One decision per evaluation, also when two sessions place the same evaluation at once.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.evaluation_placements', p_evaluation_id));
  select * into v_done from kapitaal.evaluation_placements p where p.evaluation_id = p_evaluation_id;
  if found then
    return v_done;
  end if;

  select * into v_top from kapitaal.evaluation_rankings r
   where r.evaluation_id = p_evaluation_id and r.selected;
  v_generation := coalesce(v_top.generation_id, p_generation_id);
  v_details := jsonb_build_object('ranking', to_jsonb(v_top), 'now', p_now);

  if v_top.evaluation_id is null then
    v_outcome := 'no_candidate';
    v_marker := 'ORDER_LIMITS_REJECTED';
    v_reason := format('NO_CANDIDATE: evaluation %s has no selected proposal in evaluation_rankings', p_evaluation_id);
  else
    select * into v_pair from kapitaal.run_pairs rp where rp.run_id = p_run_id and rp.symbol = v_top.symbol;
    v_details := v_details || jsonb_build_object('limits', to_jsonb(v_pair));
    v_price := v_top.entry_price;
    select * into v_halt from kapitaal.capital__entry_halt(p_now);
    if v_pair.symbol is null then
      v_outcome := 'unknown_pair';
      v_marker := 'ORDER_LIMITS_REJECTED';
      v_reason := format('UNKNOWN_PAIR: %s has no run_pairs row for run %s on this cluster; never send an order with unverified limits',
                         v_top.symbol, p_run_id);
    elsif not (v_pair.status = 'online'
               or (v_pair.status = 'post_only' and v_top.post_only)
               or (v_pair.status = 'limit_only' and v_top.order_type = 'limit')) then
      v_outcome := 'pair_not_tradable';
      v_marker := 'ORDER_LIMITS_REJECTED';
      v_reason := format('PAIR_NOT_TRADABLE: %s is %s, a %s%s entry is not accepted', v_top.symbol, v_pair.status,
                         v_top.order_type, case when v_top.post_only then ' post-only' else '' end);
    elsif v_price is null or v_price <= 0 then
      v_outcome := 'invalid_price';
      v_marker := 'ORDER_LIMITS_REJECTED';
      v_reason := format('INVALID_PRICE: proposal %s/%s has entry price %s', v_top.strategy, v_top.symbol, coalesce(v_price::text, 'null'));
    elsif v_halt.halted then
      -- The kill switch or the daily loss limit: no new entry, whatever the ranking says (exits go on).
      v_reason := v_halt.reason;
      v_details := v_details || jsonb_build_object('halt', to_jsonb(v_halt));
      v_outcome := 'halted';
      v_marker := 'ENTRIES_HALTED';
    else
      select * into v_size from kapitaal.capital__position_size(v_top.symbol, v_price, p_now);
      v_details := v_details || jsonb_build_object('sizing', to_jsonb(v_size));
      if coalesce(v_size.qty, 0) <= 0 then
        v_outcome := 'no_room';
        v_marker := 'CAPITAL_NO_ROOM';
        v_reason := format('NO_ROOM: %s for %s (equity basis %s, allocated %s, reserved %s, position room %s, total room %s)',
                           v_size.reason, v_top.symbol, v_size.equity_basis, v_size.allocated_quote, v_size.reserved_quote,
                           v_size.position_room, v_size.total_room);
      else
        select * into v_lim from kapitaal.order__conform_to_limits('buy', v_price, v_size.qty, v_pair.price_increment,
                                                                   v_pair.qty_increment, v_pair.qty_min, v_pair.cost_min);
        v_details := v_details || jsonb_build_object('conformed', to_jsonb(v_lim));
        if not v_lim.ok and v_lim.reason in ('below_min_qty', 'below_min_cost')
           and ((v_size.reason = 'ok_position_cap' and v_size.symbol_exposure > 0)
                or (v_size.reason = 'ok_total_cap' and v_size.allocated_quote + v_size.reserved_quote > 0)) then
          -- What is left of a cap that exposure already used is below the pair's minimum order: that is a
          -- full cap (typically dust left by lot rounding), said as such rather than as a limits failure.
          v_outcome := 'no_room';
          v_marker := 'CAPITAL_NO_ROOM';
          v_reason := format('NO_ROOM: %s nearly reached for %s: %s quote left (exposure in the symbol %s, allocated %s, reserved %s), '
                             'below its minimum order (qty_min %s, cost_min %s)',
                             case v_size.reason when 'ok_position_cap' then 'position cap' else 'total cap' end, v_top.symbol,
                             trim_scale(round(v_size.quote_size, 10)), v_size.symbol_exposure, v_size.allocated_quote,
                             v_size.reserved_quote, v_pair.qty_min, v_pair.cost_min);
        elsif not v_lim.ok then
          v_outcome := 'below_minimum';
          v_marker := 'ORDER_LIMITS_REJECTED';
          v_reason := format('LIMITS_%s: %s %s @ %s sized %s quote (%s) fails %s limits (qty_min %s, cost_min %s, tick %s, lot %s)',
                             upper(v_lim.reason), v_top.symbol, trim_scale(v_size.qty), v_price, v_size.quote_size, v_size.reason,
                             v_top.symbol, v_pair.qty_min, v_pair.cost_min, v_pair.price_increment, v_pair.qty_increment);
        else
          v_client_id := kapitaal.order__client_id('entry', p_evaluation_id, '0');
          v_reason := format('%s %s entry on %s (%s): %s; net edge %s bps after fees %s bps, fill probability %s; size %s quote (%s) -> %s @ %s',
                             v_top.strategy, v_top.order_type, v_top.symbol, coalesce(v_top.regime, 'no regime'), v_top.reason,
                             v_top.net_edge_bps, v_top.fee_bps, v_top.fill_probability, round(v_size.quote_size, 8), v_size.reason,
                             trim_scale(v_lim.qty), trim_scale(v_lim.price));
          select i.order_id, i.client_order_id, i.job_id, i.created into v_order_id, v_intent_client, v_job_id, v_created
            from kapitaal.order__create_intent(
            p_client_order_id => v_client_id,
            p_run_id => p_run_id,
            p_symbol => v_top.symbol,
            p_side => 'buy',
            p_order_type => v_top.order_type,
            p_qty => trim_scale(v_lim.qty),
            p_price => case when v_top.order_type = 'limit' then trim_scale(v_lim.price) end,
            p_strategy => v_top.strategy,
            p_purpose => 'entry',
            p_reason => v_reason,
            p_evaluation_id => p_evaluation_id,
            p_generation_id => v_generation,
            p_post_only => v_top.post_only,
            p_reference_price => trim_scale(v_lim.price),
            p_regime => v_top.regime,
            p_now => p_now) i;
          v_outcome := 'placed';
          v_marker := 'ORDER_INTENT_CREATED';
          v_details := v_details || jsonb_build_object('job_id', v_job_id, 'created', v_created);
        end if;
      end if;
    end if;
  end if;

  insert into kapitaal.evaluation_placements (evaluation_id, run_id, generation_id, symbol, strategy, outcome, marker,
                                              reason, order_id, client_order_id, details, decided_at)
  values (p_evaluation_id, p_run_id, v_generation, v_top.symbol, v_top.strategy, v_outcome, v_marker, v_reason,
          v_order_id, v_intent_client, v_details, p_now)
  returning * into v_done;
  return v_done;
end
$$;
comment on function kapitaal.evaluation__place_orders(bigint, bigint, bigint, timestamptz) is
  'Execution of one evaluation, in the caller''s (the evaluation''s) transaction: takes the selected top-1 row of '
  'evaluation_rankings, checks capital__entry_halt (kill switch, daily loss limit: outcome halted), sizes it with capital__position_size, conforms it to the pair''s run_pairs limits of p_run_id '
  '(unknown pair: nothing placed) and writes the entry intent with order__create_intent, whose submit job is queued in '
  'the same transaction. The client order id is order__client_id(''entry'', evaluation id, ''0''): a second call for '
  'the same evaluation returns the first decision and can never create a second order. Every outcome, including why '
  'nothing was placed, is stored in evaluation_placements.';

-- The hook evaluation__run calls (to_regprocedure('kapitaal.evaluation__place_orders(bigint)')).
create or replace function kapitaal.evaluation__place_orders(p_evaluation_id bigint)
returns kapitaal.evaluation_placements
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_eval kapitaal.evaluations;
begin
  select * into v_eval from kapitaal.evaluations e where e.evaluation_id = p_evaluation_id;
  if not found then
    raise exception 'evaluation__place_orders: no evaluation %', p_evaluation_id using errcode = 'P0002';
  end if;
  return kapitaal.evaluation__place_orders(p_evaluation_id, v_eval.run_id, v_eval.generation_id, v_eval.evaluated_at);
end
$$;
comment on function kapitaal.evaluation__place_orders(bigint) is
  'The execution hook of evaluation__run: evaluation__place_orders(evaluation id, its run, its generation, its '
  'evaluated_at as p_now).';
--! EndIncluded orders/evaluation__place_orders.sql
