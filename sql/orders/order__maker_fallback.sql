-- Maker fallback: a post-only entry still unfilled after order_policy.maker_wait is cancelled, and the
-- unfilled rest goes out as a taker order only when the edge, recomputed from current state, still
-- pays the taker fee on entry (and on the exit, as every proposal assumes).
create table if not exists kapitaal.maker_fallbacks (
  order_id bigint primary key references kapitaal.orders (order_id) on delete restrict,
  decided_at timestamptz not null,
  action text not null check (action in ('taker', 'cancel')),
  reason text not null,
  details jsonb not null,
  fallback_order_id bigint references kapitaal.orders (order_id) on delete restrict,
  constraint maker_fallbacks_order_iff_taker check ((action = 'taker') = (fallback_order_id is not null))
);
comment on table kapitaal.maker_fallbacks is
  'What became of each maker (post-only) entry that did not fill in time: replaced by a taker order (action taker, '
  'fallback_order_id) or only cancelled, with the recomputed taker edge and every input in details. One row per maker order.';
comment on column kapitaal.maker_fallbacks.order_id is
  'The post-only entry order that did not fill in time (orders.order_id).';
comment on column kapitaal.maker_fallbacks.decided_at is 'p_now of order__maker_fallback.';
comment on column kapitaal.maker_fallbacks.action is
  'taker: the unfilled rest went out as a market order (fallback_order_id); cancel: nothing replaced it.';
comment on column kapitaal.maker_fallbacks.reason is 'Why this action, with the deciding numbers (edge, fee, age).';
comment on column kapitaal.maker_fallbacks.details is
  'order__maker_fallback_decision''s inputs and recomputed taker edge, plus the conformed terms of a taker order, as JSON.';
comment on column kapitaal.maker_fallbacks.fallback_order_id is
  'The taker order that replaced the rest (orders.order_id); null when action = cancel.';

create or replace function kapitaal.order__maker_fallback_decision(p_order_id bigint, p_now timestamptz default now())
returns table (action text, reason text, details jsonb)
language plpgsql
stable
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_order kapitaal.orders;
  v_pol kapitaal.order_policy;
  v_prop record;
  v_st kapitaal.run_symbol_state;
  v_taker numeric;
  v_rest numeric;
  v_age interval;
  v_entry_cost numeric;
  v_fee numeric;
  v_net numeric;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id;
  if not found then
    raise exception 'order__maker_fallback_decision: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  v_pol := kapitaal.order_policy__for(v_order.strategy);
  v_age := p_now - v_order.created_at;
  v_rest := v_order.qty - v_order.filled_qty;
  details := jsonb_build_object('order_id', p_order_id, 'status', v_order.status, 'age', v_age,
                                'maker_wait', v_pol.maker_wait, 'unfilled_qty', v_rest);
  if v_order.purpose <> 'entry' or not v_order.post_only then
    action := 'none'; reason := 'NOT_MAKER: only post-only entries have a maker fallback';
    return next; return;
  end if;
  if v_rest <= 0 or v_order.status = 'filled' then
    action := 'none'; reason := 'FILLED: nothing left to fall back with';
    return next; return;
  end if;
  if v_order.status in ('new', 'submitting') then
    action := 'wait'; reason := format('NOT_WORKING: order is %s', v_order.status);
    return next; return;
  end if;
  if v_order.status in ('open', 'partially_filled') and v_age < v_pol.maker_wait then
    action := 'wait';
    reason := format('MAKER_WAITING: %s of %s waited', v_age, v_pol.maker_wait);
    return next; return;
  end if;
  if not v_pol.maker_fallback_to_taker then
    action := 'cancel';
    reason := format('MAKER_WAIT_EXPIRED: unfilled after %s; taker fallback disabled for %s', v_age, v_order.strategy);
    return next; return;
  end if;

  select * into v_st from kapitaal.run_symbol_state s where s.run_id = v_order.run_id and s.symbol = v_order.symbol;
  select p.* into v_prop from kapitaal.strategy__proposals(v_order.run_id, p_now) p
   where p.symbol = v_order.symbol and p.strategy = v_order.strategy;
  -- The same rates the proposal used (the exchange's for the account where known).
  select f.taker_fee_rate into v_taker from kapitaal.fee_rates__for(v_order.account, v_order.symbol) f;
  if v_prop.symbol is null or v_st.symbol is null or not v_prop.data_ok or v_st.mid is null or v_st.best_ask is null then
    action := 'cancel';
    reason := format('MAKER_WAIT_EXPIRED: unfilled after %s; current state of %s is not usable for a taker decision (%s)',
                     v_age, v_order.symbol, coalesce(v_prop.reason, 'no state row for run ' || v_order.run_id));
    details := details || jsonb_build_object('proposal_reason', v_prop.reason, 'data_ok', v_prop.data_ok);
    return next; return;
  end if;
  -- The proposal's own model, with a taker entry: move - entry cost at the ask - exit cost - taker fee on
  -- both legs - adverse selection.
  v_entry_cost := (v_st.best_ask - v_st.mid) / v_st.mid * 10000;
  v_fee := 2 * v_taker * 10000;
  v_net := round(v_prop.expected_move_bps - v_entry_cost - v_prop.exit_cost_bps - v_fee - v_prop.adverse_selection_bps, 6);
  details := details || jsonb_build_object(
    'generation_id', v_st.generation_id, 'mid', v_st.mid, 'best_ask', v_st.best_ask,
    'expected_move_bps', v_prop.expected_move_bps, 'taker_entry_cost_bps', round(v_entry_cost, 6),
    'exit_cost_bps', v_prop.exit_cost_bps, 'taker_fee_bps', v_fee, 'adverse_selection_bps', v_prop.adverse_selection_bps,
    'taker_net_edge_bps', v_net, 'maker_net_edge_bps', v_prop.net_edge_bps, 'taker_fee_rate', v_taker);
  if v_net > 0 then
    action := 'cancel_and_taker';
    reason := format('MAKER_FALLBACK_TAKER: unfilled after %s; taker edge %s bps = move %s - entry %s - exit %s - fees %s - adverse %s > 0',
                     v_age, v_net, v_prop.expected_move_bps, round(v_entry_cost, 6), v_prop.exit_cost_bps, v_fee,
                     v_prop.adverse_selection_bps);
  else
    action := 'cancel';
    reason := format('MAKER_FALLBACK_CANCEL: unfilled after %s; taker edge %s bps = move %s - entry %s - exit %s - fees %s - adverse %s does not pay the taker fee',
                     v_age, v_net, v_prop.expected_move_bps, round(v_entry_cost, 6), v_prop.exit_cost_bps, v_fee,
                     v_prop.adverse_selection_bps);
  end if;
  return next;
end
$$;
comment on function kapitaal.order__maker_fallback_decision(bigint, timestamptz) is
  'For a post-only entry: wait (younger than order_policy.maker_wait, or not working yet), none (filled / not a maker '
  'entry), cancel, or cancel_and_taker. The taker case requires the edge recomputed from the current state of the '
  'order''s run (strategy__proposals: expected move, exit cost, adverse selection; run_symbol_state: ask and mid; '
  'capital_policy taker fee on entry and exit) to be positive. Reads only; order__maker_fallback acts.';

create or replace function kapitaal.order__maker_fallback(p_order_id bigint, p_now timestamptz default now())
returns kapitaal.maker_fallbacks
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
declare
  v_done kapitaal.maker_fallbacks;
  v_order kapitaal.orders;
  v_dec record;
  v_pol kapitaal.order_policy;
  v_st kapitaal.run_symbol_state;
  v_pair kapitaal.run_pairs;
  v_lim record;
  v_action text;
  v_reason text;
  v_details jsonb;
  v_new_id bigint;
begin
  select * into v_order from kapitaal.orders o where o.order_id = p_order_id for update;
  if not found then
    raise exception 'order__maker_fallback: order % does not exist', p_order_id using errcode = 'P0002';
  end if;
  select * into v_done from kapitaal.maker_fallbacks m where m.order_id = p_order_id;
  if found then
    return v_done;
  end if;
  if v_order.status not in ('cancelled', 'expired') then
    raise exception 'order__maker_fallback: order % is %; cancel it on the exchange first', p_order_id, v_order.status
      using errcode = '55000';
  end if;
  select * into v_dec from kapitaal.order__maker_fallback_decision(p_order_id, p_now);
  if v_dec.action = 'none' or v_dec.action = 'wait' then
    return null;
  end if;
  v_pol := kapitaal.order_policy__for(v_order.strategy);
  v_action := 'cancel';
  v_reason := v_dec.reason;
  v_details := v_dec.details;
  if v_dec.action = 'cancel_and_taker' then
    if p_now - v_order.updated_at > v_pol.maker_fallback_window then
      v_reason := format('MAKER_FALLBACK_TOO_LATE: cancelled %s ago > %s; %s', p_now - v_order.updated_at,
                         v_pol.maker_fallback_window, v_dec.reason);
    else
      select * into v_st from kapitaal.run_symbol_state s where s.run_id = v_order.run_id and s.symbol = v_order.symbol;
      select * into v_pair from kapitaal.run_pairs rp where rp.run_id = v_order.run_id and rp.symbol = v_order.symbol;
      if v_pair.symbol is null then
        v_reason := format('UNKNOWN_PAIR: %s; but %s has no run_pairs row for run %s', v_dec.reason, v_order.symbol, v_order.run_id);
      else
        select * into v_lim from kapitaal.order__conform_to_limits('buy', v_st.best_ask, v_order.qty - v_order.filled_qty,
                                                                   v_pair.price_increment, v_pair.qty_increment,
                                                                   v_pair.qty_min, v_pair.cost_min);
        v_details := v_details || jsonb_build_object('conformed', to_jsonb(v_lim));
        if not v_lim.ok then
          v_reason := format('LIMITS_%s: %s; but the unfilled rest %s fails the pair limits', upper(v_lim.reason), v_dec.reason,
                             trim_scale(v_order.qty - v_order.filled_qty));
        else
          select i.order_id into v_new_id
            from kapitaal.order__create_intent(
              p_client_order_id => kapitaal.order__client_id('maker_fallback', p_order_id, '0'),
              p_run_id => v_order.run_id,
              p_symbol => v_order.symbol,
              p_side => 'buy',
              p_order_type => 'market',
              p_qty => trim_scale(v_lim.qty),
              p_price => null,
              p_strategy => v_order.strategy,
              p_purpose => 'entry',
              p_reason => format('taker fallback of maker order %s: %s', p_order_id, v_dec.reason),
              p_evaluation_id => v_order.evaluation_id,
              p_generation_id => v_st.generation_id,
              p_reference_price => v_st.best_ask,
              p_regime => v_st.regime,
              p_account => v_order.account,
              p_now => p_now) i;
          v_action := 'taker';
        end if;
      end if;
    end if;
  end if;
  insert into kapitaal.maker_fallbacks (order_id, decided_at, action, reason, details, fallback_order_id)
  values (p_order_id, p_now, v_action, v_reason, v_details, v_new_id)
  returning * into v_done;
  return v_done;
end
$$;
comment on function kapitaal.order__maker_fallback(bigint, timestamptz) is
  'After the maker entry was cancelled (or expired) on the exchange: decides again (order__maker_fallback_decision) '
  'and, when the taker edge still pays, writes a market buy of the unfilled rest (conformed to the pair''s limits) '
  'with client id order__client_id(''maker_fallback'', order id, ''0'') through order__create_intent; otherwise '
  'records the cancel with its reason. One row per maker order in maker_fallbacks (idempotent). Raises 55000 while '
  'the order is still working.';
