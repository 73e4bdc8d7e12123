create or replace function kapitaal.evaluation__run(p_run_id bigint default null, p_now timestamptz default now())
returns kapitaal.evaluations
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_t0 timestamptz := clock_timestamp();
  v_pol kapitaal.decision_policy;
  v_att record;
  v_gen jsonb;
  v_rows kapitaal.evaluation_symbols[];
  v_n int; v_eligible int; v_not_ready int; v_regime int; v_stale int; v_integrity int; v_cands int;
  v_mixed boolean;
  v_eval kapitaal.evaluations;
  v_outcome text;
  v_reason text;
  v_marker text;
  v_counts record;
  v_age interval;
  v_ranked record;
  v_strategy_layer boolean := to_regprocedure('kapitaal.evaluation_rankings__record(bigint, bigint, timestamptz, numeric, text)') is not null;
begin
  select * into v_pol from kapitaal.decision_policy p where p.policy = 'default';
  select * into v_att from kapitaal.execution_attach__resolve(p_now, p_run_id);
  if not v_att.attached then
    insert into kapitaal.evaluations (run_id, epoch, outcome, reason, marker, evaluated_at, duration_ms)
    values (v_att.run_id, v_att.epoch, 'attach_blocked', v_att.reason, 'EXECUTION_ATTACH_BLOCKED', p_now,
            round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3))
    returning * into v_eval;
    return v_eval;
  end if;

  -- ONE statement, so one snapshot whatever the isolation level: the generation, the state rows,
  -- route freshness and readiness are all read from the same committed state (the stable functions
  -- run with the snapshot of this query). A generation synced meanwhile is seen completely or not.
  with st as (
    select s.* from kapitaal.run_symbol_state s where s.run_id = v_att.run_id
  ),
  pol as (
    -- Strategy fan-out of the strategy layer: entry route per strategy, regimes it may enter in.
    select sp.strategy, sp.route_type,
           coalesce(array_agg(e.regime) filter (where e.eligible), '{}') as regimes
      from kapitaal.strategy_policy sp
      left join kapitaal.strategy_regime_eligibility e on e.strategy = sp.strategy
     where sp.enabled
     group by sp.strategy, sp.route_type
  ),
  fr as (
    select f.symbol,
           jsonb_agg(jsonb_build_object('route_type', f.route_type, 'exec_allowed', f.exec_allowed,
                                        'marker', f.marker, 'reason', f.reason) order by f.route_type) as routes,
           coalesce(array_agg(f.route_type) filter (where f.exec_allowed), '{}') as allowed,
           coalesce(array_agg(f.route_type) filter (where f.exec_allowed and f.route_type in (select route_type from pol)), '{}')
             as allowed_entry,
           coalesce(array_agg(distinct f.marker || ': ' || f.reason)
                      filter (where not f.exec_allowed and f.route_type in (select route_type from pol)), '{}') as blocked,
           count(distinct f.generation_id) filter (where f.generation_id is distinct from (select max(x.generation_id) from st x)) as foreign_gens
      from kapitaal.apply_route_freshness_filter(v_att.run_id, p_now) f
     group by f.symbol
  ),
  rd as (
    select r.symbol,
           jsonb_agg(jsonb_build_object('strategy', r.strategy, 'ready', r.ready, 'reasons', r.reasons, 'detail', r.detail)
                     order by r.strategy) as readiness,
           coalesce(array_agg(r.strategy) filter (where r.ready), '{}') as ready,
           jsonb_object_agg(r.strategy, r.detail) as details,
           count(distinct r.generation_id) filter (where r.generation_id is distinct from (select max(x.generation_id) from st x)) as foreign_gens
      from kapitaal.strategy_readiness(v_att.run_id, p_now) r
     group by r.symbol
  ),
  fan as (
    select st.symbol, p.strategy, p.route_type,
           p.strategy = any (coalesce(rd.ready, '{}')) as ready,
           p.route_type = any (coalesce(fr.allowed, '{}')) as route_ok,
           rd.details->>p.strategy as detail
      from st
      join pol p on st.regime = any (p.regimes)
      left join rd on rd.symbol = st.symbol
      left join fr on fr.symbol = st.symbol
  ),
  fan_agg as (
    select f.symbol,
           jsonb_agg(jsonb_build_object('strategy', f.strategy, 'route_type', f.route_type) order by f.strategy)
             filter (where f.ready and f.route_ok) as cands,
           coalesce(array_agg(f.strategy || ': ' || case when not f.ready then coalesce(f.detail, 'not ready')
                                                      else 'route ' || f.route_type || ' not fresh' end
                              order by f.strategy) filter (where not (f.ready and f.route_ok)), '{}') as why
      from fan f
     group by f.symbol
  ),
  cls as (
    select st.symbol, st.regime, st.generation_id, st.mid, st.spread_bps,
           coalesce(fr.routes, '[]'::jsonb) as routes, coalesce(rd.readiness, '[]'::jsonb) as readiness,
           coalesce(fa.cands, '[]'::jsonb) as cands,
           coalesce(fr.foreign_gens, 0) + coalesce(rd.foreign_gens, 0) as foreign_gens,
           case
             when cardinality(coalesce(fr.allowed_entry, '{}')) = 0 then 'stale'
             when st.book_valid is false then 'integrity'
             when st.regime is null or fa.symbol is null then 'regime_blocked'
             when fa.cands is null then 'not_ready'
             else 'eligible'
           end as status,
           case
             when cardinality(coalesce(fr.allowed_entry, '{}')) = 0 then
               case when fr.symbol is null then array['NO_ROUTES: no enabled route type for this symbol'] else fr.blocked end
             when st.book_valid is false then array['BOOK_INVALID: newest L2 sample failed its checksum']
             when st.regime is null then array['REGIME_NOT_ESTABLISHED: ' || coalesce(st.regime_reason, 'regime not confirmed yet')]
             when fa.symbol is null then array[format('REGIME_%s: no strategy enters in this regime (%s)', st.regime, coalesce(st.regime_reason, ''))]
             when fa.cands is null then fa.why
             else array(select format('%s via %s', c->>'strategy', c->>'route_type') from jsonb_array_elements(fa.cands) c)
           end as reasons
      from st
      left join fr on fr.symbol = st.symbol
      left join rd on rd.symbol = st.symbol
      left join fan_agg fa on fa.symbol = st.symbol
  )
  ,
  gen as (
    select g.* from kapitaal.decision_generation__current(v_att.run_id) g
  )
  -- The per-symbol rows stay a row array (no jsonb round trip) and are counted in the same pass.
  select (select to_jsonb(g) from gen g),
         array_agg(row(null, c.symbol, c.status, c.regime, c.reasons, c.routes, c.readiness)::kapitaal.evaluation_symbols
                   order by c.symbol),
         count(*)::int,
         (count(*) filter (where c.status = 'eligible'))::int,
         (count(*) filter (where c.status = 'not_ready'))::int,
         (count(*) filter (where c.status = 'regime_blocked'))::int,
         (count(*) filter (where c.status = 'stale'))::int,
         (count(*) filter (where c.status = 'integrity'))::int,
         coalesce(sum(jsonb_array_length(c.cands)), 0)::int,
         coalesce(bool_or(c.foreign_gens > 0 or c.generation_id is distinct from (select g.generation_id from gen g)), false)
    into v_gen, v_rows, v_n, v_eligible, v_not_ready, v_regime, v_stale, v_integrity, v_cands, v_mixed
    from cls c;

  select v_n as n, v_eligible as eligible, v_not_ready as not_ready, v_regime as regime, v_stale as stale,
         v_integrity as integrity, v_cands as cands, v_mixed as mixed
    into v_counts;
  v_age := greatest(p_now - (v_gen->>'refreshed_at')::timestamptz, interval '0');

  if v_gen is null or jsonb_typeof(v_gen) = 'null' then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('NO_GENERATION: no state generation of run %s is visible on this cluster', v_att.run_id);
  elsif not (v_gen->>'complete')::boolean or v_counts.mixed then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('GENERATION_INCOMPLETE: generation %s shows %s of %s rows, %s of other generations',
                       v_gen->>'generation_id', v_gen->>'rows_of_generation', v_gen->>'symbols', v_gen->>'rows_of_other_generations');
  elsif v_age > v_pol.max_generation_age then
    v_outcome := 'generation_blocked';
    v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
    v_reason := format('GENERATION_STALE: newest visible generation %s is %s old > %s (refresh or feed fell behind)',
                       v_gen->>'generation_id', v_age, v_pol.max_generation_age);
  elsif v_counts.n = 0 then
    v_outcome := 'data_blocked';
    v_marker := 'ROUTE_EXECUTION_BLOCKED_STALE_DATA';
    v_reason := format('NO_SYMBOLS: generation %s holds no symbol state', v_gen->>'generation_id');
  elsif v_counts.stale + v_counts.integrity = v_counts.n then
    v_outcome := 'data_blocked';
    v_marker := case when v_counts.stale > 0 then 'ROUTE_EXECUTION_BLOCKED_STALE_DATA' else 'DATA_INTEGRITY_CHECKSUM_MISMATCH' end;
    v_reason := format('DATA_BLOCKED: no symbol has fresh, valid data (%s stale, %s failed integrity, of %s)',
                       v_counts.stale, v_counts.integrity, v_counts.n);
  else
    -- Data fine on some symbols: worth trading is decided after the ranking below.
    v_outcome := 'economically_empty';
  end if;

  insert into kapitaal.evaluations (
    run_id, epoch, generation_id, outcome, reason, marker, symbols, symbols_eligible, symbols_not_ready,
    symbols_regime_blocked, symbols_stale, symbols_integrity, candidates, generation_refreshed_at, generation_age,
    evaluated_at)
  values (
    v_att.run_id, v_att.epoch, (v_gen->>'generation_id')::bigint, v_outcome, coalesce(v_reason, 'RANKING'), v_marker,
    v_counts.n, v_counts.eligible, v_counts.not_ready, v_counts.regime, v_counts.stale, v_counts.integrity, 0,
    (v_gen->>'refreshed_at')::timestamptz, v_age, p_now)
  returning * into v_eval;

  insert into kapitaal.evaluation_symbols (evaluation_id, symbol, status, regime, reasons, routes, readiness)
  select v_eval.evaluation_id, x.symbol, x.status, x.regime, x.reasons, x.routes, x.readiness
    from unnest(v_rows) x;

  if v_outcome = 'economically_empty' then
    -- Competitive scoring (strategy layer): every proposal ranked on net edge after fees, stored
    -- in evaluation_rankings under this evaluation id. Only when some symbol is eligible (regime,
    -- readiness and a fresh entry route all pass): otherwise nothing can be selectable and
    -- evaluation_symbols already says why. Without that layer, eligible = candidate.
    if v_strategy_layer and v_counts.eligible > 0 then
      execute 'select count(*) filter (where c.selectable)::int as selectable,
                      count(*) filter (where c.generation_id is distinct from $3)::int as foreign_gens,
                      max(c.symbol) filter (where c.selected) as symbol, max(c.strategy) filter (where c.selected) as strategy
                 from kapitaal.evaluation_rankings__record($1, $2, $4) c'
        into v_ranked
        using v_eval.evaluation_id, v_att.run_id, (v_gen->>'generation_id')::bigint, p_now;
    elsif v_strategy_layer then
      select 0 as selectable, 0 as foreign_gens, null::text as symbol, null::text as strategy into v_ranked;
    else
      select v_counts.cands as selectable, 0 as foreign_gens, null::text as symbol, null::text as strategy into v_ranked;
    end if;
    if v_ranked.foreign_gens > 0 then
      -- Read committed and a sync committed between the two reads: never mix generations.
      v_outcome := 'generation_blocked';
      v_marker := 'EXECUTION_BLOCKED_GENERATION_MISMATCH';
      v_reason := format('GENERATION_CHANGED: the ranking read another generation than %s; the next evaluation is queued',
                         v_gen->>'generation_id');
    elsif v_ranked.selectable > 0 then
      v_outcome := 'candidates';
      v_reason := format('CANDIDATES: %s selectable proposals on %s eligible of %s symbols%s', v_ranked.selectable,
                         v_counts.eligible, v_counts.n,
                         coalesce(format('; top-1 %s %s', v_ranked.strategy, v_ranked.symbol), ''));
    else
      v_reason := format('ECONOMICALLY_EMPTY: data fine on %s of %s symbols, nothing worth trading (%s eligible, %s regime blocked, %s not ready)',
                         v_counts.n - v_counts.stale - v_counts.integrity, v_counts.n, v_counts.eligible, v_counts.regime,
                         v_counts.not_ready);
    end if;
    update kapitaal.evaluations e
       set outcome = v_outcome, reason = v_reason, marker = v_marker,
           candidates = case when v_outcome = 'candidates' then v_ranked.selectable else 0 end,
           selected_symbol = v_ranked.symbol, selected_strategy = v_ranked.strategy
     where e.evaluation_id = v_eval.evaluation_id;
    if v_outcome = 'candidates' and to_regprocedure('kapitaal.evaluation__place_orders(bigint)') is not null then
      -- Hook for execution: the order intent of the top-1 (and its submit job) in this same transaction.
      execute 'select kapitaal.evaluation__place_orders($1)' using v_eval.evaluation_id;
    end if;
  end if;

  update kapitaal.evaluations e set duration_ms = round(extract(epoch from clock_timestamp() - v_t0) * 1000, 3)
   where e.evaluation_id = v_eval.evaluation_id
  returning * into v_eval;
  return v_eval;
end
$$;
comment on function kapitaal.evaluation__run(bigint, timestamptz) is
  'One evaluation on the decision cluster, reading only decision-cluster state: attach (execution_attach__resolve; '
  'p_run_id pins the run), then in ONE statement the current generation (decision_generation__current), route freshness '
  '(apply_route_freshness_filter), readiness (strategy_readiness) and regime per symbol, fanned out over '
  'strategy_policy/strategy_regime_eligibility. Stores the evaluations row with the outcome (attach_blocked, '
  'generation_blocked, data_blocked, candidates, economically_empty) and evaluation_symbols with the reasons per symbol; '
  'when some symbol is eligible it records the strategy layer''s ranking (evaluation_rankings__record) under the '
  'evaluation id: candidates = at least one selectable proposal. With candidates and an existing '
  'kapitaal.evaluation__place_orders(bigint) it calls that in the same transaction. Time is p_now. Run it in a REPEATABLE '
  'READ transaction (the task does) so the ranking reads the same snapshot; under READ COMMITTED a generation change '
  'between the reads gives generation_blocked (GENERATION_CHANGED), never a mixed decision.';
