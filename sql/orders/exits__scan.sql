-- The exit loop's SQL: every open position against a fresh mark from run_symbol_state, through
-- position__exit_decision; a trigger becomes an exit intent on the same DB-first path as entries.
create table if not exists kapitaal.exit_scan_decisions (
  decision_id bigint generated always as identity primary key,
  scanned_at timestamptz not null,
  position_id bigint not null references kapitaal.positions (position_id) on delete restrict,
  symbol text not null,
  outcome text not null check (outcome in ('exit_created', 'exit_exists', 'in_flight', 'no_mark', 'stale_mark',
                                           'unknown_pair', 'below_minimum')),
  exit_trigger text,
  mark_price numeric,
  regime text,
  state_run_id bigint,
  state_generation_id bigint,
  order_id bigint references kapitaal.orders (order_id) on delete restrict,
  reason text not null,
  details jsonb not null
);
create index if not exists exit_scan_decisions_position_idx on kapitaal.exit_scan_decisions (position_id, decision_id);
create index if not exists exit_scan_decisions_scanned_idx on kapitaal.exit_scan_decisions (scanned_at);
comment on table kapitaal.exit_scan_decisions is
  'Every exits__scan verdict other than hold: an exit order created (or found from an earlier scan), an exit already '
  'in flight, or why a position could not be judged or exited (no mark, stale mark, unknown pair limits, below the '
  'pair''s minimum), with position__exit_decision''s details. Holds are returned by exits__scan but not stored.';
comment on column kapitaal.exit_scan_decisions.decision_id is 'Identity, in scan order.';
comment on column kapitaal.exit_scan_decisions.scanned_at is 'p_now of exits__scan.';
comment on column kapitaal.exit_scan_decisions.position_id is 'The open position judged (positions.position_id).';
comment on column kapitaal.exit_scan_decisions.symbol is 'The position''s pair symbol.';
comment on column kapitaal.exit_scan_decisions.outcome is
  'exit_created or exit_exists (an exit order for the trigger), in_flight (an exit already working), no_mark, stale_mark, unknown_pair or below_minimum (could not exit).';
comment on column kapitaal.exit_scan_decisions.exit_trigger is
  'The rule that fired (stop_loss, take_profit, trailing_stop, time_stop, regime_change); null when none fired or the position could not be judged.';
comment on column kapitaal.exit_scan_decisions.mark_price is
  'The mark used: run_symbol_state.mid (quote currency); null when the state had none.';
comment on column kapitaal.exit_scan_decisions.regime is
  'The pair''s effective regime in that state row (null: not established or no state).';
comment on column kapitaal.exit_scan_decisions.state_run_id is
  'run_id of the run_symbol_state row used for the mark (null: no state).';
comment on column kapitaal.exit_scan_decisions.state_generation_id is 'generation_id of that row.';
comment on column kapitaal.exit_scan_decisions.order_id is
  'The exit order created or found (orders.order_id); null for outcomes without an order.';
comment on column kapitaal.exit_scan_decisions.reason is 'Why this outcome, in words with the numbers.';
comment on column kapitaal.exit_scan_decisions.details is
  'position__exit_decision''s details, the state''s refreshed_at, mark age and limit, and the conformed order terms, as JSON.';

create or replace function kapitaal.exits__scan(p_now timestamptz default now(), p_account text default 'default')
returns table (position_id bigint, symbol text, outcome text, exit_trigger text, mark_price numeric, order_id bigint,
               client_order_id text, created boolean, reason text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pos kapitaal.positions;
  v_st kapitaal.run_symbol_state;
  v_pol kapitaal.order_policy;
  v_pair kapitaal.run_pairs;
  v_exit boolean;
  v_trigger text;
  v_details jsonb;
  v_lim record;
  v_lim_json jsonb;
  v_order_id bigint;
  v_client_id text;
  v_created boolean;
  v_attempt integer;
  v_client text;
  v_outcome text;
  v_reason text;
  v_age interval;
  v_ref numeric;
  v_reason_text text;
begin
  -- One scan at a time per account: two scans must not race for the same exit attempt.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.exits__scan:' || p_account, 0));
  for v_pos in
    select * from kapitaal.positions p where p.account = p_account and p.closed_at is null order by p.position_id
  loop
    v_pol := kapitaal.order_policy__for(v_pos.strategy);
    v_exit := false; v_trigger := null; v_details := null; v_lim_json := null;
    v_order_id := null; v_client_id := null; v_created := false;
    v_outcome := null;
    -- The newest state of the symbol on this (decision) cluster, whatever run it belongs to.
    select * into v_st from kapitaal.run_symbol_state s where s.symbol = v_pos.symbol
     order by s.refreshed_at desc, s.run_id desc limit 1;
    v_age := p_now - v_st.refreshed_at;
    if v_st.symbol is null or v_st.mid is null or v_st.mid <= 0 then
      v_outcome := 'no_mark';
      v_reason := format('NO_MARK: no run_symbol_state row with a mid for %s on this cluster', v_pos.symbol);
    elsif v_age > v_pol.exit_mark_max_age then
      v_outcome := 'stale_mark';
      v_reason := format('STALE_MARK: newest state of %s (run %s, generation %s) was refreshed %s ago > %s; not judged on it',
                         v_pos.symbol, v_st.run_id, v_st.generation_id, v_age, v_pol.exit_mark_max_age);
    else
      select d.exit, d.trigger, d.details into v_exit, v_trigger, v_details
        from kapitaal.position__exit_decision(v_pos.position_id, v_st.mid, v_st.regime, p_now) d;
      if not v_exit then
        if v_details->>'reason' = 'exit_order_in_flight' then
          v_outcome := 'in_flight';
          v_reason := format('IN_FLIGHT: exit order %s of position %s is working (would trigger: %s)',
                             v_details->>'exit_order_id', v_pos.position_id, coalesce(v_details->>'would_trigger', 'nothing'));
        else
          -- hold: returned, not stored
          return query select v_pos.position_id, v_pos.symbol, 'hold'::text, null::text, v_st.mid, null::bigint,
                              null::text, false, coalesce(v_details->>'reason', 'no exit rule fired');
          continue;
        end if;
      else
        select * into v_pair from kapitaal.run_pairs rp where rp.run_id = v_st.run_id and rp.symbol = v_pos.symbol;
        v_ref := coalesce(v_st.best_bid, v_st.mid);
        if v_pair.symbol is null then
          v_outcome := 'unknown_pair';
          v_reason := format('UNKNOWN_PAIR: %s exit of position %s wanted, but %s has no run_pairs row for run %s: never send unverified',
                             v_trigger, v_pos.position_id, v_pos.symbol, v_st.run_id);
        else
          select * into v_lim from kapitaal.order__conform_to_limits('sell', v_ref, v_pos.qty, v_pair.price_increment,
                                                                     v_pair.qty_increment, v_pair.qty_min, v_pair.cost_min);
          v_lim_json := to_jsonb(v_lim);
          if not v_lim.ok then
            v_outcome := 'below_minimum';
            v_reason := format('LIMITS_%s: %s exit of position %s: %s %s @ %s fails the limits (qty_min %s, cost_min %s, lot %s)',
                               upper(v_lim.reason), v_trigger, v_pos.position_id, trim_scale(v_pos.qty), v_pos.symbol,
                               v_ref, v_pair.qty_min, v_pair.cost_min, v_pair.qty_increment);
          else
            -- Deterministic per (position, exit attempt): a rerun of the same scan finds the same order.
            select count(*) + 1 into v_attempt from kapitaal.orders o
             where o.position_id = v_pos.position_id and o.purpose = 'exit';
            v_client := kapitaal.order__client_id('exit', v_pos.position_id, 'attempt:' || v_attempt);
            v_reason_text := format('%s exit of position %s (%s %s, avg entry %s) at mark %s, regime %s: %s',
                                    v_trigger, v_pos.position_id, trim_scale(v_pos.qty), v_pos.symbol,
                                    trim_scale(v_pos.avg_entry_price), v_st.mid, coalesce(v_st.regime, 'unknown'),
                                    coalesce(v_details->>'reason', v_trigger));
            select i.order_id, i.client_order_id, i.created into v_order_id, v_client_id, v_created
              from kapitaal.order__create_intent(
              p_client_order_id => v_client,
              p_run_id => v_st.run_id,
              p_symbol => v_pos.symbol,
              p_side => 'sell',
              p_order_type => 'market',
              p_qty => trim_scale(v_lim.qty),
              p_price => null,
              p_strategy => v_pos.strategy,
              p_purpose => 'exit',
              p_reason => v_reason_text,
              p_generation_id => v_st.generation_id,
              p_reference_price => v_ref,
              p_exit_trigger => v_trigger,
              p_position_id => v_pos.position_id,
              p_regime => v_st.regime,
              p_account => p_account,
              p_now => p_now) i;
            v_outcome := case when v_created then 'exit_created' else 'exit_exists' end;
            v_reason := v_reason_text;
          end if;
        end if;
      end if;
    end if;

    insert into kapitaal.exit_scan_decisions (scanned_at, position_id, symbol, outcome, exit_trigger, mark_price, regime,
                                              state_run_id, state_generation_id, order_id, reason, details)
    values (p_now, v_pos.position_id, v_pos.symbol, v_outcome, v_trigger, v_st.mid, v_st.regime, v_st.run_id,
            v_st.generation_id, v_order_id, v_reason,
            jsonb_build_object('decision', v_details, 'state_refreshed_at', v_st.refreshed_at, 'mark_age', v_age,
                               'max_mark_age', v_pol.exit_mark_max_age, 'conformed', v_lim_json));
    return query select v_pos.position_id, v_pos.symbol, v_outcome, v_trigger, v_st.mid, v_order_id,
                        v_client_id, v_created, v_reason;
  end loop;
end
$$;
comment on function kapitaal.exits__scan(timestamptz, text) is
  'The exit loop (task exits__scan): for every open position of the account takes the mark (mid) and regime from '
  'the newest run_symbol_state row of its symbol on this cluster, skips it when that row is older than '
  'order_policy.exit_mark_max_age (stale_mark) or has no mid (no_mark), calls position__exit_decision, and for a '
  'trigger writes a market sell of the whole position (conformed to run_pairs limits) with order__create_intent, '
  'purpose exit, exit_trigger and position_id, client id order__client_id(''exit'', position, ''attempt:N''): one '
  'exit per position even when scanned twice (the second finds it in flight). Serialised per account. Every verdict '
  'but hold is stored in exit_scan_decisions.';
