create or replace function kapitaal.position__exit_decision(
  p_position_id bigint,
  p_mark_price numeric,
  p_regime text default null,
  p_now timestamptz default now()
)
returns table (exit boolean, trigger text, details jsonb)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pos kapitaal.positions;
  v_policy kapitaal.exit_policy;
  v_high numeric;
  v_armed boolean;
  v_armed_at timestamptz;
  v_stop numeric;
  v_take numeric;
  v_arm numeric;
  v_trail numeric;
  v_fired text[] := '{}';
  v_pending bigint;
  v_trigger text;
  v_details jsonb;
begin
  if p_mark_price is null or p_mark_price <= 0 then
    raise exception 'position__exit_decision: mark price must be positive (got %)', p_mark_price using errcode = '22023';
  end if;
  select * into v_pos from kapitaal.positions p where p.position_id = p_position_id for update;
  if not found then
    raise exception 'position__exit_decision: position % does not exist', p_position_id using errcode = 'P0002';
  end if;
  if v_pos.closed_at is not null then
    return query select false, null::text, jsonb_build_object('position_id', p_position_id, 'reason', 'position_closed',
                                                              'closed_at', v_pos.closed_at);
    return;
  end if;
  select * into v_policy from kapitaal.exit_policy e where e.strategy in (v_pos.strategy, 'default')
   order by e.strategy = v_pos.strategy desc limit 1;
  if not found then
    raise exception 'position__exit_decision: no exit_policy row for strategy % and no default row', v_pos.strategy
      using errcode = 'P0002';
  end if;

  -- Trailing state first: the mark raises the high-water mark, which may arm the trail.
  v_high := greatest(v_pos.high_water_price, p_mark_price);
  v_arm := v_pos.avg_entry_price * (1 + v_policy.trailing_arm_pct / 100);
  v_armed := v_pos.trail_armed or (v_arm is not null and v_high >= v_arm);
  v_armed_at := case when v_pos.trail_armed then v_pos.trail_armed_at when v_armed then p_now end;
  if v_high <> v_pos.high_water_price or v_armed <> v_pos.trail_armed then
    update kapitaal.positions p
       set high_water_price = v_high, trail_armed = v_armed, trail_armed_at = v_armed_at, updated_at = p_now
     where p.position_id = p_position_id;
  end if;

  v_stop := v_pos.avg_entry_price * (1 - v_policy.stop_loss_pct / 100);
  v_take := v_pos.avg_entry_price * (1 + v_policy.take_profit_pct / 100);
  v_trail := case when v_armed then v_high * (1 - v_policy.trailing_retrace_pct / 100) end;

  -- Every rule is inclusive: it fires at exactly its threshold. Order = priority of the reported trigger.
  if p_mark_price <= v_stop then v_fired := v_fired || 'stop_loss'::text; end if;
  if p_mark_price <= v_trail then v_fired := v_fired || 'trailing_stop'::text; end if;
  if p_mark_price >= v_take then v_fired := v_fired || 'take_profit'::text; end if;
  if p_now - v_pos.opened_at >= v_policy.max_hold then v_fired := v_fired || 'time_stop'::text; end if;
  if p_regime = any (v_policy.exit_regimes)
     or (v_policy.exit_on_regime_change and v_pos.entry_regime is not null and p_regime is not null
         and p_regime <> v_pos.entry_regime) then
    v_fired := v_fired || 'regime_change'::text;
  end if;
  v_trigger := v_fired[1];

  select o.order_id into v_pending from kapitaal.orders o
   where o.position_id = p_position_id and o.purpose = 'exit'
     and o.status in ('new', 'submitting', 'open', 'partially_filled')
   order by o.order_id limit 1;

  v_details := jsonb_build_object(
    'position_id', p_position_id, 'strategy', v_pos.strategy, 'policy', v_policy.strategy,
    'mark_price', p_mark_price, 'avg_entry_price', v_pos.avg_entry_price, 'qty', v_pos.qty,
    'stop_loss_price', v_stop, 'take_profit_price', v_take,
    'high_water_price', v_high, 'trail_arm_price', v_arm, 'trail_armed', v_armed, 'trail_stop_price', v_trail,
    'held', p_now - v_pos.opened_at, 'max_hold', v_policy.max_hold,
    'regime', p_regime, 'entry_regime', v_pos.entry_regime, 'exit_regimes', to_jsonb(v_policy.exit_regimes),
    'fired', to_jsonb(v_fired), 'pending_exit_order_id', v_pending);
  if v_pending is not null then
    -- Never two exits for one position: the one in flight decides.
    return query select false, null::text, v_details || jsonb_build_object('reason', 'exit_order_in_flight',
                                                                           'would_trigger', v_trigger);
    return;
  end if;
  return query select v_trigger is not null, v_trigger,
                      v_details || jsonb_build_object('reason', coalesce(v_trigger, 'hold'));
end
$$;
comment on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) is
  'Decides whether an open position must exit at p_mark_price, with the pair''s current regime at p_now, under its '
  'strategy''s exit_policy (or ''default''). First raises high_water_price and arms the trailing stop (both '
  'persisted), then checks, each inclusive of its threshold: stop_loss (mark <= entry * (1 - sl%)), trailing_stop '
  '(armed and mark <= high water * (1 - retrace%)), take_profit (mark >= entry * (1 + tp%)), time_stop (held >= '
  'max_hold), regime_change (regime in exit_regimes, or differs from entry_regime when exit_on_regime_change). '
  'trigger is the first that fired in that order; details lists all thresholds and every rule that fired. Returns '
  'exit = false while an exit order of the position is in flight, or when the position is closed.';
