--! Previous: sha1:cdf0f5e19d508ef5216297ce96ab4e083867c0ca
--! Hash: sha1:0e03255150cc646de8df8aa83244432af4c7ded3
--! Message: Entry halts: capital_policy.entries_enabled (kill switch) and max_daily_loss_pct, capital__entry_halt, placement outcome halted

--! split: 1-current.sql
-- Enter migration here

--! split: 3-entry-halt.sql
--! Included execution/capital_policy.sql
-- Capital policy per account: sizing mode, caps and fee rates. Plain rows a DBA can read and change.
create table if not exists kapitaal.capital_policy (
  account text primary key default 'default',
  mode text not null default 'fixed' check (mode in ('fixed', 'compounding')),
  fixed_equity numeric not null default 220 check (fixed_equity > 0),
  initial_cash numeric not null default 220 check (initial_cash >= 0),
  max_position_quote numeric check (max_position_quote > 0),
  max_position_pct numeric not null default 25 check (max_position_pct > 0 and max_position_pct <= 100),
  max_total_exposure_pct numeric not null default 90 check (max_total_exposure_pct > 0 and max_total_exposure_pct <= 100),
  maker_fee_rate numeric not null default 0.0025 check (maker_fee_rate >= 0 and maker_fee_rate < 1),
  taker_fee_rate numeric not null default 0.0040 check (taker_fee_rate >= 0 and taker_fee_rate < 1),
  max_snapshot_age interval not null default interval '60 seconds' check (max_snapshot_age > interval '0'),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.capital_policy is
  'How much capital an account may put at risk, used by capital__position_size and capital__snapshot. Percentages '
  'are in percent (25 = 25 %), fee rates are fractions (0.0025 = 0.25 %). Spot without leverage: exposure never '
  'exceeds 100 % of equity.';
comment on column kapitaal.capital_policy.mode is
  'fixed: sizes from fixed_equity whatever the P&L. compounding: sizes from the equity of the newest capital '
  'snapshot (cash + positions at market, realised P&L included), so size grows with profit and shrinks with loss.';
comment on column kapitaal.capital_policy.fixed_equity is 'Equity assumed in fixed mode (the old engine''s 220).';
comment on column kapitaal.capital_policy.initial_cash is
  'Quote cash at the start of the fills ledger; capital__snapshot derives cash from it and the fills when no exchange balance is given (paper).';
comment on column kapitaal.capital_policy.max_position_quote is 'Absolute cap on the exposure in one symbol (quote); null = only the percentage cap.';
comment on column kapitaal.capital_policy.max_position_pct is 'Cap on the exposure in one symbol, percent of the sizing equity.';
comment on column kapitaal.capital_policy.max_total_exposure_pct is
  'Cap on allocated_quote + reserved_quote + the new order, percent of the sizing equity.';
comment on column kapitaal.capital_policy.maker_fee_rate is 'Maker fee as a fraction (Kraken entry tier 0.25 %; PROTOCOL.md: read real fees at run time where possible).';
comment on column kapitaal.capital_policy.taker_fee_rate is 'Taker fee as a fraction (Kraken entry tier 0.40 %).';
comment on column kapitaal.capital_policy.max_snapshot_age is
  'Compounding mode sizes only from a capital snapshot at most this old (the boundary is still fresh); otherwise size 0.';
comment on column kapitaal.capital_policy.account is
  'Trading account this policy is for; ''default'' is created by the migration.';
comment on column kapitaal.capital_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change the policy.';
-- Risk halts (capital__entry_halt): a switch an operator flips with one UPDATE, and a daily loss limit.
alter table kapitaal.capital_policy add column if not exists entries_enabled boolean not null default true;
alter table kapitaal.capital_policy add column if not exists max_daily_loss_pct numeric;
alter table kapitaal.capital_policy drop constraint if exists capital_policy_max_daily_loss_pct_check;
alter table kapitaal.capital_policy add constraint capital_policy_max_daily_loss_pct_check
  check (max_daily_loss_pct > 0 and max_daily_loss_pct <= 100);
comment on column kapitaal.capital_policy.entries_enabled is
  'Kill switch for new entries: false stops every new entry at once (placement outcome halted); exits, fills and '
  'reconciliation go on. `update kapitaal.capital_policy set entries_enabled = false` is the operator''s stop button.';
comment on column kapitaal.capital_policy.max_daily_loss_pct is
  'Stop new entries for the rest of the UTC day once equity (capital snapshots) fell this many percent below the '
  'day''s first snapshot; null = no daily limit. Exits go on.';
insert into kapitaal.capital_policy (account) values ('default') on conflict do nothing;
--! EndIncluded execution/capital_policy.sql
--! Included execution/capital__entry_halt.sql
-- Whether new entries are stopped for an account, and why: the operator's kill switch, or the daily
-- loss limit measured on the capital snapshots the runtime takes every few seconds. Exits never stop.
create or replace function kapitaal.capital__entry_halt(p_now timestamptz default now(), p_account text default 'default')
returns table (halted boolean, reason text, day_start_equity numeric, equity numeric, day_loss_pct numeric)
language plpgsql
stable
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_pol kapitaal.capital_policy;
  v_day timestamptz := date_trunc('day', p_now, 'UTC');
  v_start kapitaal.capital_snapshots;
  v_now kapitaal.capital_snapshots;
  v_loss numeric;
begin
  select * into v_pol from kapitaal.capital_policy c where c.account = p_account;
  if not found then
    return query select true, format('NO_CAPITAL_POLICY: no capital_policy row for account %s', p_account),
                        null::numeric, null::numeric, null::numeric;
    return;
  end if;
  if not v_pol.entries_enabled then
    return query select true, format('ENTRIES_DISABLED: capital_policy.entries_enabled is false for account %s (exits go on)', p_account),
                        null::numeric, null::numeric, null::numeric;
    return;
  end if;
  if v_pol.max_daily_loss_pct is null then
    return query select false, 'no daily loss limit'::text, null::numeric, null::numeric, null::numeric;
    return;
  end if;
  -- The day's base: the newest snapshot before midnight (the equity the day started with), else the
  -- day's first one; now: the newest snapshot, which must be fresh to trade on it.
  select * into v_start from kapitaal.capital_snapshots s
   where s.account = p_account and s.at <= v_day order by s.at desc, s.snapshot_id desc limit 1;
  if not found then
    select * into v_start from kapitaal.capital_snapshots s
     where s.account = p_account and s.at > v_day and s.at <= p_now order by s.at, s.snapshot_id limit 1;
  end if;
  select * into v_now from kapitaal.capital_snapshots s
   where s.account = p_account and s.at <= p_now and s.at >= p_now - v_pol.max_snapshot_age
   order by s.at desc, s.snapshot_id desc limit 1;
  if v_now.snapshot_id is null or v_start.snapshot_id is null then
    -- A limit that cannot be checked holds: trading blind to today's losses is what it exists to prevent.
    return query select true, format('DAILY_LOSS_UNKNOWN: max_daily_loss_pct %s%% is set but there is no capital snapshot '
                                     'at most %s old (the capital__snapshot task takes one every few seconds)',
                                     v_pol.max_daily_loss_pct, v_pol.max_snapshot_age),
                        v_start.equity, null::numeric, null::numeric;
    return;
  end if;
  v_loss := case when v_start.equity > 0 then round((v_start.equity - v_now.equity) / v_start.equity * 100, 6) end;
  if v_loss >= v_pol.max_daily_loss_pct then
    return query select true, format('DAILY_LOSS_LIMIT: equity %s is %s%% below the day''s start %s (limit %s%%); no new '
                                     'entries until %s UTC (exits go on)', v_now.equity, v_loss, v_start.equity,
                                     v_pol.max_daily_loss_pct, to_char(v_day + interval '1 day', 'YYYY-MM-DD HH24:MI')),
                        v_start.equity, v_now.equity, v_loss;
    return;
  end if;
  return query select false, format('daily loss %s%% of limit %s%%', coalesce(v_loss, 0), v_pol.max_daily_loss_pct),
                      v_start.equity, v_now.equity, v_loss;
end
$$;
comment on function kapitaal.capital__entry_halt(timestamptz, text) is
  'Whether new entries are stopped for p_account at p_now, and why: ENTRIES_DISABLED (capital_policy.entries_enabled = '
  'false, the kill switch), DAILY_LOSS_LIMIT (equity of the newest fresh capital snapshot at least max_daily_loss_pct '
  'below the UTC day''s start: the newest snapshot before midnight, else the day''s first), DAILY_LOSS_UNKNOWN (a limit '
  'is set but no fresh snapshot exists: it holds rather than trade blind) or NO_CAPITAL_POLICY. evaluation__place_orders '
  'checks it before sizing; exits never stop.';
--! EndIncluded execution/capital__entry_halt.sql
--! Included execution/grants.sql
-- Least privilege for execution objects (decision cluster). Tables are written only through the
-- security-definer functions; kapitaal_execution calls them, kapitaal_readonly reads, the ingest writer gets nothing.
revoke all on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance, kapitaal.orders,
  kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy, kapitaal.capital_snapshots,
  kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status, kapitaal.fills_ledger
  from public, kapitaal_ingest_writer;

grant select on kapitaal.order_statuses, kapitaal.order_status_transitions, kapitaal.execution_instance,
  kapitaal.orders, kapitaal.order_events, kapitaal.positions, kapitaal.fills, kapitaal.capital_policy,
  kapitaal.capital_snapshots, kapitaal.exit_policy, kapitaal.open_positions, kapitaal.order_status,
  kapitaal.fills_ledger
  to kapitaal_execution, kapitaal_readonly;

-- Append-only ledgers: nobody updates or deletes, not even the owner's grantees (the trigger also refuses).
revoke update, delete, truncate on kapitaal.order_events, kapitaal.fills from kapitaal_execution, kapitaal_readonly;

-- Writers (security definer): execution only.
revoke all on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) from public;
revoke all on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) from public;
revoke all on function kapitaal.order__begin_submit(bigint, timestamptz) from public;
revoke all on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) from public;
revoke all on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) from public;
revoke all on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) from public;
revoke all on function kapitaal.tg__append_only() from public;
grant execute on function kapitaal.order__create_intent(text, bigint, text, text, text, numeric, numeric, text, text, text,
  bigint, bigint, boolean, numeric, text, bigint, text, text, integer, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__transition(bigint, text, text, jsonb, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.order__begin_submit(bigint, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.order__record_fill(bigint, text, text, numeric, numeric, numeric, text, timestamptz, jsonb, timestamptz) to kapitaal_execution;
grant execute on function kapitaal.capital__snapshot(jsonb, numeric, timestamptz, text) to kapitaal_execution;
grant execute on function kapitaal.position__exit_decision(bigint, numeric, text, timestamptz) to kapitaal_execution;

-- Readers: pure or read-only functions, for execution and for a DBA with the read-only role.
revoke all on function kapitaal.order__client_id(text, bigint, text) from public;
revoke all on function kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric) from public;
revoke all on function kapitaal.positions__recompute(text) from public;
revoke all on function kapitaal.positions__verify(text) from public;
revoke all on function kapitaal.capital__exposure(text, text) from public;
revoke all on function kapitaal.capital__position_size(text, numeric, timestamptz, text) from public;
revoke all on function kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text) from public;
revoke all on function kapitaal.open_positions__marked(jsonb, text) from public;
grant execute on function kapitaal.order__client_id(text, bigint, text),
  kapitaal.position__step(numeric, numeric, numeric, text, numeric, numeric, numeric),
  kapitaal.positions__recompute(text),
  kapitaal.positions__verify(text),
  kapitaal.capital__exposure(text, text),
  kapitaal.capital__position_size(text, numeric, timestamptz, text),
  kapitaal.order__conform_to_limits(text, numeric, numeric, numeric, numeric, numeric, numeric, text),
  kapitaal.open_positions__marked(jsonb, text)
  to kapitaal_execution, kapitaal_readonly;
-- The runtime's snapshot task (writes capital_snapshots through capital__snapshot).
revoke all on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) from public;
grant execute on function kapitaal.capital__snapshot_from_state(timestamptz, text, interval) to kapitaal_execution;
-- Fee rates: execution records the exchange's (task capital__fee_rates) and reads them through fee_rates__for,
-- which is plain SQL so that it inlines into strategy__proposals (hence the table grant).
revoke all on kapitaal.account_fee_rates from public;
revoke all on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) from public;
revoke all on function kapitaal.fee_rates__for(text, text) from public;
grant select on kapitaal.account_fee_rates to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.fee_rates__for(text, text) to kapitaal_execution, kapitaal_readonly;
grant execute on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) to kapitaal_execution;
-- The entry halt (kill switch, daily loss limit): placement calls it; operators may ask it why.
revoke all on function kapitaal.capital__entry_halt(timestamptz, text) from public;
grant execute on function kapitaal.capital__entry_halt(timestamptz, text) to kapitaal_execution, kapitaal_readonly;
--! EndIncluded execution/grants.sql
--! Included orders/evaluation_placements.sql
-- What execution did with each evaluation that had candidates: the order it placed, or why it placed
-- nothing. One row per evaluation (the primary key makes evaluation__place_orders idempotent).
create table if not exists kapitaal.evaluation_placements (
  evaluation_id bigint primary key,
  run_id bigint,
  generation_id bigint,
  symbol text,
  strategy text,
  outcome text not null check (outcome in ('placed', 'no_candidate', 'unknown_pair', 'pair_not_tradable',
                                           'no_room', 'below_minimum', 'invalid_price', 'halted')),
  marker text not null,
  reason text not null check (btrim(reason) <> ''),
  order_id bigint references kapitaal.orders (order_id) on delete restrict,
  client_order_id text,
  details jsonb not null,
  decided_at timestamptz not null,
  created_at timestamptz not null default clock_timestamp(),
  constraint evaluation_placements_order_iff_placed check ((outcome = 'placed') = (order_id is not null))
);
-- 'halted' (capital__entry_halt) came later: the check is replaced so that existing databases get it too.
alter table kapitaal.evaluation_placements drop constraint if exists evaluation_placements_outcome_check;
alter table kapitaal.evaluation_placements add constraint evaluation_placements_outcome_check
  check (outcome in ('placed', 'no_candidate', 'unknown_pair', 'pair_not_tradable', 'no_room', 'below_minimum',
                     'invalid_price', 'halted'));
create index if not exists evaluation_placements_decided_idx on kapitaal.evaluation_placements (decided_at);
comment on table kapitaal.evaluation_placements is
  'The execution side of an evaluation with candidates (evaluation__place_orders): the entry order it created '
  '(outcome placed) or why nothing was placed (no_candidate, unknown_pair, pair_not_tradable, no_room, below_minimum, '
  'invalid_price, halted), with every number used in details (ranking row, sizing, pair limits, conformed terms). No '
  'foreign key to evaluations (decision layer); join on evaluation_id.';
comment on column kapitaal.evaluation_placements.marker is
  'Log marker: ORDER_INTENT_CREATED, CAPITAL_NO_ROOM, ORDER_LIMITS_REJECTED or ENTRIES_HALTED.';
comment on column kapitaal.evaluation_placements.details is
  'ranking (the selected evaluation_rankings row), sizing (capital__position_size), limits (run_pairs row) and '
  'conformed (order__conform_to_limits) as JSON.';
comment on column kapitaal.evaluation_placements.evaluation_id is
  'The evaluation (evaluations.evaluation_id, no foreign key); one placement per evaluation.';
comment on column kapitaal.evaluation_placements.run_id is 'The ingest run the evaluation was bound to.';
comment on column kapitaal.evaluation_placements.generation_id is
  'The state generation of the selected ranking row (else the one passed in).';
comment on column kapitaal.evaluation_placements.symbol is 'Pair of the selected proposal; null for no_candidate.';
comment on column kapitaal.evaluation_placements.strategy is
  'Strategy of the selected proposal; null for no_candidate.';
comment on column kapitaal.evaluation_placements.outcome is
  'placed (order_id set), or why nothing was placed: no_candidate, unknown_pair, pair_not_tradable, no_room, below_minimum, '
  'invalid_price, halted (capital__entry_halt: kill switch or daily loss limit).';
comment on column kapitaal.evaluation_placements.reason is 'Why this outcome, in words with the numbers.';
comment on column kapitaal.evaluation_placements.order_id is
  'The entry order created (orders.order_id); set exactly when outcome = placed.';
comment on column kapitaal.evaluation_placements.client_order_id is
  'Client order id of that order (orders.client_order_id).';
comment on column kapitaal.evaluation_placements.decided_at is 'p_now of evaluation__place_orders.';
comment on column kapitaal.evaluation_placements.created_at is
  'clock_timestamp() when the row was inserted (database clock).';
--! EndIncluded orders/evaluation_placements.sql
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
        if not v_lim.ok then
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
