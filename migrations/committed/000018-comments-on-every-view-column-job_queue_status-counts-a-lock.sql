--! Previous: sha1:0e03255150cc646de8df8aa83244432af4c7ded3
--! Hash: sha1:1a91b70d9de761527980ca0d6c8aade1d28d954a
--! Message: Comments on every view column; job_queue_status counts a locked last attempt as running and shows the newest failure

--! split: 1-current.sql
-- Enter migration here

--! split: 5-viewcols.sql
--! Included worker/job_queue_status.sql
create or replace view kapitaal.job_queue_status as
select j.task_identifier,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at <= now()) as waiting,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at > now()) as scheduled,
       count(*) filter (where j.locked_at is not null) as running,
       -- Not locked: Graphile Worker counts an attempt when it locks a job, so a job on its last attempt is
       -- running, not failed, until it ends.
       count(*) filter (where j.locked_at is null and j.attempts >= j.max_attempts) as failed,
       count(*) filter (where j.last_error is not null and j.attempts < j.max_attempts) as retrying,
       (array_agg(j.last_error order by j.updated_at desc, j.id desc)
          filter (where j.locked_at is null and j.attempts >= j.max_attempts))[1] as last_failure
  from graphile_worker.jobs j
 group by j.task_identifier;
comment on view kapitaal.job_queue_status is
  'Graphile Worker queue per task: waiting, scheduled (run_at in the future), running (locked), failed '
  '(attempts exhausted: the chain stopped here, look at last_failure) and retrying.';

-- Column comments (\d+ in psql). Counts are jobs in graphile_worker.jobs (done jobs are deleted, so not counted).
comment on column kapitaal.job_queue_status.task_identifier is
  'graphile_worker.jobs.task_identifier: the task name (one row per task with at least one job).';
comment on column kapitaal.job_queue_status.waiting is
  'Jobs due now (run_at <= now()), not locked, attempts left: ready for the next free worker.';
comment on column kapitaal.job_queue_status.scheduled is
  'Jobs not locked, attempts left, run_at in the future: a delayed job or a retry waiting out its backoff.';
comment on column kapitaal.job_queue_status.running is 'Jobs locked by a worker (being run, or held by a dead worker until reaped).';
comment on column kapitaal.job_queue_status.failed is
  'Jobs not locked with attempts >= max_attempts: no more retries; the chain stopped here. (A job running its last '
  'attempt counts as running: Graphile Worker counts an attempt when it locks the job.)';
comment on column kapitaal.job_queue_status.retrying is
  'Jobs with a last_error and attempts left: failed at least once and will be tried again (also counted in waiting, '
  'scheduled or running).';
comment on column kapitaal.job_queue_status.last_failure is
  'last_error of the most recently updated job counted in failed; null when there is none.';
--! EndIncluded worker/job_queue_status.sql
--! Included state/views.sql
-- Views for DBAs and the dashboard. Plain names, now()-based.

create or replace view kapitaal.engine_status as
  select r.run_id, r.status, r.started_at, r.heartbeat_at,
         now() - r.heartbeat_at as heartbeat_age,
         g.generation_id as last_generation_id,
         g.refreshed_at as last_refreshed_at,
         now() - g.refreshed_at as refresh_lag,
         g.symbols, g.symbols_changed as last_symbols_changed,
         g.ticker_rows + g.trade_rows + g.l2_rows + g.l3_rows as last_rows_read,
         g.duration_ms as last_duration_ms,
         wm.watermark,
         case when r.status = 'running' and wm.watermark is not null then
           (select count(*) from kapitaal.ticker_samples t where t.run_id = r.run_id and t.txid >= wm.watermark)
           + (select count(*) from kapitaal.trade_samples t where t.run_id = r.run_id and t.txid >= wm.watermark)
           + (select count(*) from kapitaal.l2_snap_metrics t where t.run_id = r.run_id and t.txid >= wm.watermark)
           + (select count(*) from kapitaal.l3_queue_metrics t where t.run_id = r.run_id and t.txid >= wm.watermark)
         end as pending_rows
    from kapitaal.ingest_runs r
    left join lateral (
      select * from kapitaal.state_generations sg where sg.run_id = r.run_id order by sg.generation_id desc limit 1
    ) g on true
    left join lateral (
      select min(w.watermark) as watermark from kapitaal.state_refresh_watermarks w where w.run_id = r.run_id
    ) wm on true;
comment on view kapitaal.engine_status is
  'Per ingest run: status and heartbeat, the last state refresh (generation, time, lag = now() - refresh time, rows '
  'read, duration), the refresh watermark and, for running runs, the raw rows committed or in flight above it '
  '(pending_rows: what the next refresh will read once their transactions have finished).';

create or replace view kapitaal.route_freshness as
  select f.*
    from kapitaal.ingest_runs r
   cross join lateral kapitaal.apply_route_freshness_filter(r.run_id, now()) f
   where r.status = 'running';
comment on view kapitaal.route_freshness is
  'apply_route_freshness_filter at now() for every running ingest run: each route with exec_allowed, ages, reason and marker.';

create or replace view kapitaal.symbol_regimes as
  select s.run_id, s.symbol, s.regime, s.regime_since, s.regime_indicated, s.regime_candidate, s.regime_streak,
         s.regime_reason,
         s.vol_1m_bps, s.vol_5m_bps, s.ret_1m_bps, s.ret_5m_bps, s.trend_strength_5m, s.price_buckets_5m,
         s.spread_bps, least(s.bid_depth_50bps_quote, s.ask_depth_50bps_quote) as min_depth_50bps_quote,
         s.trades_5m, s.quote_volume_5m,
         s.book_valid, s.l2_checksum_failures_1m, s.l3_checksum_failures_1m, s.trade_id_gaps_5m,
         greatest(s.last_l2_at, s.last_ticker_at) as data_at,
         s.generation_id, s.refreshed_at
    from kapitaal.run_symbol_state s;
comment on view kapitaal.symbol_regimes is
  'Regime per run and symbol with the numbers behind it: effective regime and since when, what the last refresh '
  'indicated and why, the candidate being confirmed (hysteresis), and the volatility, trend, spread, depth, trade and '
  'integrity figures the thresholds in regime_policy are applied to.';

-- Column comments (\d+ in psql). Intervals are now() (the reading transaction's start) minus a stored time.
comment on column kapitaal.engine_status.run_id is 'ingest_runs.run_id: the ingest run.';
comment on column kapitaal.engine_status.status is 'ingest_runs.status: running, ended, failed or abandoned.';
comment on column kapitaal.engine_status.started_at is 'ingest_runs.started_at: when ingest_run__start created the run.';
comment on column kapitaal.engine_status.heartbeat_at is 'ingest_runs.heartbeat_at: the run''s last sign of life.';
comment on column kapitaal.engine_status.heartbeat_age is 'now() - heartbeat_at (interval).';
comment on column kapitaal.engine_status.last_generation_id is
  'state_generations.generation_id of the run''s newest refresh (highest generation_id); null before the first refresh.';
comment on column kapitaal.engine_status.last_refreshed_at is
  'state_generations.refreshed_at of that refresh: its effective time (p_now).';
comment on column kapitaal.engine_status.refresh_lag is
  'now() - last_refreshed_at (interval): how old the run''s state is; grows while refreshes stall.';
comment on column kapitaal.engine_status.symbols is
  'state_generations.symbols of the newest refresh: run_symbol_state rows of the run after it.';
comment on column kapitaal.engine_status.last_symbols_changed is
  'state_generations.symbols_changed of the newest refresh: symbols with new raw rows in it.';
comment on column kapitaal.engine_status.last_rows_read is
  'Raw rows the newest refresh read: state_generations ticker_rows + trade_rows + l2_rows + l3_rows.';
comment on column kapitaal.engine_status.last_duration_ms is
  'state_generations.duration_ms of the newest refresh: its wall time in the database, milliseconds.';
comment on column kapitaal.engine_status.watermark is
  'Lowest state_refresh_watermarks.watermark of the run over its four raw tables (xid8): raw rows with txid below it '
  'are folded into the state. Null before the first refresh.';
comment on column kapitaal.engine_status.pending_rows is
  'Raw rows of the run (ticker, trade, L2, L3) with txid >= watermark that this query sees: what the next refresh will '
  'read. Counted only for running runs with a watermark, else null.';

comment on column kapitaal.route_freshness.run_id is 'The running ingest run (ingest_runs.run_id).';
comment on column kapitaal.route_freshness.symbol is 'run_symbol_state.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.route_freshness.route_type is
  'route_freshness_policy.route_type of an enabled route (taker_entry, maker_entry, exit).';
comment on column kapitaal.route_freshness.exec_allowed is
  'True when state_age and refresh_age are both at most max_state_age and the symbol has market data (marker '
  'ROUTE_FRESHNESS_OK); never null.';
comment on column kapitaal.route_freshness.state_age is
  'now() - data_at, at least 0 (interval): age of the symbol''s newest market data; null without any.';
comment on column kapitaal.route_freshness.refresh_age is
  'now() - run_symbol_state.refreshed_at, at least 0 (interval): age of the refresh that wrote the symbol''s row.';
comment on column kapitaal.route_freshness.max_state_age is
  'route_freshness_policy.max_state_age: the limit both ages are compared with (equal is still fresh).';
comment on column kapitaal.route_freshness.data_at is
  'greatest(run_symbol_state.last_l2_at, last_ticker_at): receive time of the symbol''s newest book or ticker data.';
comment on column kapitaal.route_freshness.generation_id is 'run_symbol_state.generation_id: the refresh that wrote the row.';
comment on column kapitaal.route_freshness.reason is
  'Verdict code and its numbers, the first that applies of NO_MARKET_DATA, REFRESH_STALE (refresh_age > max), '
  'STATE_AGE_EXCEEDS_MAX (state_age > max), else FRESH.';
comment on column kapitaal.route_freshness.marker is
  'Log marker: ROUTE_FRESHNESS_OK, ROUTE_FRESHNESS_STALE (market data too old) or ROUTE_EXECUTION_BLOCKED_STALE_DATA '
  '(no market data, or the refresh stalled).';

comment on column kapitaal.symbol_regimes.run_id is 'run_symbol_state.run_id: the ingest run.';
comment on column kapitaal.symbol_regimes.symbol is 'run_symbol_state.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.symbol_regimes.regime is
  'run_symbol_state.regime: effective regime after hysteresis; null while not established (treat as not ready).';
comment on column kapitaal.symbol_regimes.regime_since is 'run_symbol_state.regime_since: when the effective regime took effect.';
comment on column kapitaal.symbol_regimes.regime_indicated is
  'run_symbol_state.regime_indicated: what the data of the last refresh indicates, before hysteresis.';
comment on column kapitaal.symbol_regimes.regime_candidate is
  'run_symbol_state.regime_candidate: a regime other than the effective one being confirmed; null when none.';
comment on column kapitaal.symbol_regimes.regime_streak is
  'run_symbol_state.regime_streak: consecutive refreshes regime_candidate has been indicated; regime_policy.confirm_refreshes of them confirm it.';
comment on column kapitaal.symbol_regimes.regime_reason is
  'run_symbol_state.regime_reason: why regime_indicated, with the deciding numbers and thresholds.';
comment on column kapitaal.symbol_regimes.vol_1m_bps is
  'run_symbol_state.vol_1m_bps: realised volatility over 1 minute (sqrt of summed squared bucket returns), bps.';
comment on column kapitaal.symbol_regimes.vol_5m_bps is 'run_symbol_state.vol_5m_bps: realised volatility over 5 minutes, bps.';
comment on column kapitaal.symbol_regimes.ret_1m_bps is
  'run_symbol_state.ret_1m_bps: return over 1 minute (last bucket close / first bucket open - 1), bps.';
comment on column kapitaal.symbol_regimes.ret_5m_bps is 'run_symbol_state.ret_5m_bps: return over 5 minutes, bps.';
comment on column kapitaal.symbol_regimes.trend_strength_5m is
  'run_symbol_state.trend_strength_5m: signed efficiency ratio ret / sum |r| over 5 minutes in [-1, 1]; near ±1 a straight move.';
comment on column kapitaal.symbol_regimes.price_buckets_5m is
  'run_symbol_state.price_buckets_5m: 10-second buckets with a price in the last 5 minutes (of 30).';
comment on column kapitaal.symbol_regimes.spread_bps is
  'run_symbol_state.spread_bps: (best_ask - best_bid) / mid * 10000.';
comment on column kapitaal.symbol_regimes.min_depth_50bps_quote is
  'least(run_symbol_state.bid_depth_50bps_quote, ask_depth_50bps_quote): book depth within 50 bps of mid on the thinner '
  'side, quote currency.';
comment on column kapitaal.symbol_regimes.trades_5m is 'run_symbol_state.trades_5m: trades in the last 5 minutes.';
comment on column kapitaal.symbol_regimes.quote_volume_5m is
  'run_symbol_state.quote_volume_5m: sum of price * qty of the trades of the last 5 minutes, quote currency.';
comment on column kapitaal.symbol_regimes.book_valid is
  'run_symbol_state.book_valid: whether the newest L2 sample passed Kraken''s checksum (null: no L2 seen).';
comment on column kapitaal.symbol_regimes.l2_checksum_failures_1m is
  'run_symbol_state.l2_checksum_failures_1m: L2 samples failing the checksum in the last minute.';
comment on column kapitaal.symbol_regimes.l3_checksum_failures_1m is
  'run_symbol_state.l3_checksum_failures_1m: L3 samples failing the checksum in the last minute.';
comment on column kapitaal.symbol_regimes.trade_id_gaps_5m is
  'run_symbol_state.trade_id_gaps_5m: trade ids missing in the last 5 minutes (lost trades).';
comment on column kapitaal.symbol_regimes.data_at is
  'greatest(run_symbol_state.last_l2_at, last_ticker_at): receive time of the newest book or ticker data the figures rest on.';
comment on column kapitaal.symbol_regimes.generation_id is 'run_symbol_state.generation_id: the refresh that wrote the row.';
comment on column kapitaal.symbol_regimes.refreshed_at is 'run_symbol_state.refreshed_at: effective time (p_now) of that refresh.';
--! EndIncluded state/views.sql
--! Included decision/views.sql
create or replace view kapitaal.decision_status as
  select r.run_id, r.status, r.heartbeat_at, now() - r.heartbeat_at as heartbeat_age,
         e.epoch as last_epoch, e.published_at as last_epoch_at,
         g.generation_id as current_generation_id, g.refreshed_at as current_refreshed_at,
         now() - g.refreshed_at as generation_age, g.complete as generation_complete,
         v.lag as last_visibility_lag,
         (select max(x.lag) from kapitaal.state_generation_visibility x
           where x.run_id = r.run_id and x.visible_at > now() - interval '5 minutes') as max_visibility_lag_5m,
         ev.evaluation_id as last_evaluation_id, ev.evaluated_at as last_evaluated_at, ev.outcome as last_outcome,
         ev.reason as last_reason
    from kapitaal.ingest_runs r
    left join lateral (select ie.epoch, ie.published_at from kapitaal.ingest_epochs ie
                        where ie.run_id = r.run_id order by ie.epoch desc limit 1) e on true
    left join lateral kapitaal.decision_generation__current(r.run_id) g on true
    left join lateral (select x.lag from kapitaal.state_generation_visibility x
                        where x.run_id = r.run_id order by x.generation_id desc limit 1) v on true
    left join lateral (select x.* from kapitaal.evaluations x
                        where x.run_id = r.run_id order by x.evaluation_id desc limit 1) ev on true;
comment on view kapitaal.decision_status is
  'Per ingest run as the decision cluster sees it: heartbeat, newest epoch, current generation (age, complete), how '
  'long the last generation took to become visible here (and the worst in 5 minutes), and the last evaluation.';

create or replace view kapitaal.evaluation_outcomes as
  select e.outcome, count(*) as evaluations, max(e.evaluated_at) as last_at,
         (array_agg(e.reason order by e.evaluation_id desc))[1] as last_reason
    from kapitaal.evaluations e
   where e.evaluated_at > now() - interval '1 hour'
   group by e.outcome;
comment on view kapitaal.evaluation_outcomes is 'Evaluations of the last hour per outcome, with the newest reason: economically empty vs data-, attach- or generation-blocked.';

-- Column comments (\d+ in psql). Intervals are now() (the reading transaction's start) minus a stored time.
comment on column kapitaal.decision_status.run_id is 'ingest_runs.run_id: the ingest run.';
comment on column kapitaal.decision_status.status is 'ingest_runs.status: running, ended, failed or abandoned.';
comment on column kapitaal.decision_status.heartbeat_at is 'ingest_runs.heartbeat_at: the run''s last sign of life as seen here.';
comment on column kapitaal.decision_status.heartbeat_age is 'now() - heartbeat_at (interval).';
comment on column kapitaal.decision_status.last_epoch is 'ingest_epochs.epoch of the run''s newest epoch; null before the first.';
comment on column kapitaal.decision_status.last_epoch_at is 'ingest_epochs.published_at of that epoch.';
comment on column kapitaal.decision_status.current_generation_id is
  'decision_generation__current: the run''s newest state_generations row on this cluster; null when none is visible.';
comment on column kapitaal.decision_status.current_refreshed_at is
  'state_generations.refreshed_at of the current generation: the ingest refresh''s effective time.';
comment on column kapitaal.decision_status.generation_age is 'now() - current_refreshed_at (interval): how old the state here is.';
comment on column kapitaal.decision_status.generation_complete is
  'decision_generation__current.complete: every run_symbol_state row of the run here carries the current generation and '
  'there are as many as it recorded; null when no generation is visible.';
comment on column kapitaal.decision_status.last_visibility_lag is
  'state_generation_visibility.lag of the run''s newest visible generation: visible_at - refreshed_at, how long it took '
  'from the ingest refresh to this cluster (interval).';
comment on column kapitaal.decision_status.max_visibility_lag_5m is
  'Largest state_generation_visibility.lag of the run among generations made visible in the last 5 minutes; null if none.';
comment on column kapitaal.decision_status.last_evaluation_id is 'evaluations.evaluation_id of the run''s newest evaluation.';
comment on column kapitaal.decision_status.last_evaluated_at is 'evaluations.evaluated_at of that evaluation (its p_now).';
comment on column kapitaal.decision_status.last_outcome is
  'evaluations.outcome of that evaluation: candidates, economically_empty, data_blocked, attach_blocked or generation_blocked.';
comment on column kapitaal.decision_status.last_reason is 'evaluations.reason of that evaluation: why, with the deciding numbers.';

comment on column kapitaal.evaluation_outcomes.outcome is
  'evaluations.outcome: candidates, economically_empty, data_blocked, attach_blocked or generation_blocked.';
comment on column kapitaal.evaluation_outcomes.evaluations is
  'Evaluations with this outcome whose evaluated_at is within the last hour (evaluated_at > now() - 1 hour).';
comment on column kapitaal.evaluation_outcomes.last_at is 'Newest evaluated_at among them.';
comment on column kapitaal.evaluation_outcomes.last_reason is
  'evaluations.reason of the one with the highest evaluation_id among them.';
--! EndIncluded decision/views.sql
--! Included execution/open_positions.sql
create or replace view kapitaal.open_positions as
select p.position_id, p.account, p.symbol, p.strategy, p.opened_at, p.qty, p.avg_entry_price, p.cost_basis,
       p.entry_fees_open, p.fees, p.realised_pnl, p.high_water_price, p.trail_armed, p.entry_regime,
       p.entry_order_id,
       m.mark_price, m.marked_at,
       p.qty * m.mark_price as market_value,
       p.qty * m.mark_price - p.cost_basis - p.entry_fees_open as unrealised_pnl,
       p.qty * m.mark_price - p.cost_basis - p.entry_fees_open - p.qty * m.mark_price * cp.taker_fee_rate
         as unrealised_pnl_after_exit_fee,
       x.order_id as exit_order_id, x.status as exit_order_status
  from kapitaal.positions p
  left join lateral (
    select (s.marks ->> p.symbol)::numeric as mark_price, s.at as marked_at
      from kapitaal.capital_snapshots s
     where s.account = p.account and s.marks ? p.symbol
     order by s.at desc, s.snapshot_id desc limit 1) m on true
  left join kapitaal.capital_policy cp on cp.account = p.account
  left join lateral (
    select o.order_id, o.status from kapitaal.orders o
     where o.position_id = p.position_id and o.purpose = 'exit'
       and o.status in ('new', 'submitting', 'open', 'partially_filled')
     order by o.order_id limit 1) x on true
 where p.closed_at is null;
comment on view kapitaal.open_positions is
  'Open positions marked at the newest mark price recorded for the symbol (capital_snapshots.marks): market value, '
  'unrealised P&L (value - cost basis - entry fees of the open quantity) and the same after a taker exit fee, '
  'trailing-stop state and the exit order in flight, if any. For other marks use open_positions__marked.';

-- Column comments (\d+ in psql). Money columns are in the pair's quote currency, quantities in base currency.
comment on column kapitaal.open_positions.position_id is 'positions.position_id: identity, in opening order.';
comment on column kapitaal.open_positions.account is 'positions.account: trading account (capital_policy.account).';
comment on column kapitaal.open_positions.symbol is 'positions.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.open_positions.strategy is 'positions.strategy: strategy of the entry order.';
comment on column kapitaal.open_positions.opened_at is 'positions.opened_at: filled_at of the opening fill.';
comment on column kapitaal.open_positions.qty is 'positions.qty: open quantity, base currency.';
comment on column kapitaal.open_positions.avg_entry_price is
  'positions.avg_entry_price: cost_basis / qty after the last buy, quote per base; exit thresholds are relative to it.';
comment on column kapitaal.open_positions.cost_basis is 'positions.cost_basis: quote paid for the open quantity, fees excluded.';
comment on column kapitaal.open_positions.entry_fees_open is
  'positions.entry_fees_open: entry fees of the open quantity not yet charged to realised_pnl, quote currency.';
comment on column kapitaal.open_positions.fees is 'positions.fees: all fees of the position''s fills, both legs, quote currency.';
comment on column kapitaal.open_positions.realised_pnl is
  'positions.realised_pnl: P&L of the quantity sold so far, after exit fees and the entry fees of that quantity, quote currency.';
comment on column kapitaal.open_positions.high_water_price is
  'positions.high_water_price: highest price seen while open (fills and exit-decision marks), quote per base.';
comment on column kapitaal.open_positions.trail_armed is
  'positions.trail_armed: true once high_water_price reached the trailing-stop arming level.';
comment on column kapitaal.open_positions.entry_regime is
  'positions.entry_regime: regime at entry; a change away from it can trigger a regime_change exit.';
comment on column kapitaal.open_positions.entry_order_id is 'positions.entry_order_id: the buy order whose fill opened the position.';
comment on column kapitaal.open_positions.mark_price is
  'The symbol''s price in the account''s newest capital_snapshots row that has one (marks ->> symbol), quote per base; '
  'null when no snapshot marked the symbol.';
comment on column kapitaal.open_positions.marked_at is 'capital_snapshots.at of that snapshot: the moment mark_price is for.';
comment on column kapitaal.open_positions.market_value is 'qty * mark_price, quote currency.';
comment on column kapitaal.open_positions.unrealised_pnl is
  'market_value - cost_basis - entry_fees_open, quote currency: P&L of the open quantity at mark_price, exit fee not deducted.';
comment on column kapitaal.open_positions.unrealised_pnl_after_exit_fee is
  'unrealised_pnl - market_value * capital_policy.taker_fee_rate, quote currency: after a taker exit at mark_price; null '
  'without a capital_policy row for the account.';
comment on column kapitaal.open_positions.exit_order_id is
  'orders.order_id of the position''s lowest-numbered exit order still working (new, submitting, open, '
  'partially_filled); null when none.';
comment on column kapitaal.open_positions.exit_order_status is 'orders.status of that exit order.';

create or replace function kapitaal.open_positions__marked(p_marks jsonb, p_account text default 'default')
returns table (position_id bigint, symbol text, strategy text, qty numeric, avg_entry_price numeric,
               mark_price numeric, market_value numeric, unrealised_pnl numeric)
language sql
stable
as $$
  select p.position_id, p.symbol, p.strategy, p.qty, p.avg_entry_price, (p_marks ->> p.symbol)::numeric,
         p.qty * (p_marks ->> p.symbol)::numeric,
         p.qty * (p_marks ->> p.symbol)::numeric - p.cost_basis - p.entry_fees_open
    from kapitaal.positions p
   where p.account = p_account and p.closed_at is null
   order by p.position_id
$$;
comment on function kapitaal.open_positions__marked(jsonb, text) is
  'Open positions of an account marked with the given prices {symbol: price}: market value and unrealised P&L '
  '(null where no mark is given).';
--! EndIncluded execution/open_positions.sql
--! Included execution/order_status.sql
create or replace view kapitaal.order_status as
select o.order_id, o.client_order_id, o.exchange_order_id, o.account, o.symbol, o.side, o.order_type, o.post_only,
       o.price, o.qty, o.filled_qty, o.avg_fill_price, o.fees, o.status, s.terminal, o.purpose, o.strategy,
       o.exit_trigger, o.position_id, o.evaluation_id, o.generation_id, o.submit_attempts, o.reason,
       o.created_at, o.updated_at,
       e.event_id as last_event_id, e.from_status as last_from_status, e.at as last_event_at, e.note as last_event_note,
       (select count(*) from kapitaal.fills f where f.order_id = o.order_id) as fill_count
  from kapitaal.orders o
  join kapitaal.order_statuses s on s.status = o.status
  left join lateral (
    select ev.event_id, ev.from_status, ev.at, ev.note from kapitaal.order_events ev
     where ev.order_id = o.order_id order by ev.event_id desc limit 1) e on true;
comment on view kapitaal.order_status is
  'Every order with its current status, whether that is terminal, its fill totals and its last event '
  '(order_events). Filter on terminal = false for the orders still working.';

-- Column comments (\d+ in psql). Money columns are in the pair's quote currency, quantities in base currency.
comment on column kapitaal.order_status.order_id is 'orders.order_id: identity, in creation order.';
comment on column kapitaal.order_status.client_order_id is 'orders.client_order_id: deterministic id sent to Kraken as cl_ord_id.';
comment on column kapitaal.order_status.exchange_order_id is 'orders.exchange_order_id: Kraken txid once acknowledged; null before.';
comment on column kapitaal.order_status.account is 'orders.account: trading account (capital_policy.account).';
comment on column kapitaal.order_status.symbol is 'orders.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.order_status.side is 'orders.side: buy (entries) or sell (exits).';
comment on column kapitaal.order_status.order_type is 'orders.order_type: limit or market.';
comment on column kapitaal.order_status.post_only is 'orders.post_only: a limit order that must rest on the book (maker only).';
comment on column kapitaal.order_status.price is 'orders.price: limit price, quote per base; null for market orders.';
comment on column kapitaal.order_status.qty is 'orders.qty: order quantity, base currency.';
comment on column kapitaal.order_status.filled_qty is 'orders.filled_qty: sum of the quantities of the order''s fills, base currency.';
comment on column kapitaal.order_status.avg_fill_price is 'orders.avg_fill_price: filled quote / filled_qty, quote per base.';
comment on column kapitaal.order_status.fees is 'orders.fees: sum of the order''s fill fees, quote currency.';
comment on column kapitaal.order_status.status is 'orders.status: current lifecycle status (order_statuses); history in order_events.';
comment on column kapitaal.order_status.terminal is
  'order_statuses.terminal of the status: true when no transition leaves it; false = the order is still working.';
comment on column kapitaal.order_status.purpose is 'orders.purpose: entry (buy) or exit (sell of position_id).';
comment on column kapitaal.order_status.strategy is 'orders.strategy: strategy that decided the order; an exit carries its position''s.';
comment on column kapitaal.order_status.exit_trigger is 'orders.exit_trigger: for exits, the rule that fired or manual; null for entries.';
comment on column kapitaal.order_status.position_id is
  'orders.position_id: the position the order opened or added to (set at the first fill) or closes.';
comment on column kapitaal.order_status.evaluation_id is 'orders.evaluation_id: the evaluation that decided it; null for exits from the exit loop.';
comment on column kapitaal.order_status.generation_id is 'orders.generation_id: the state generation the decision read.';
comment on column kapitaal.order_status.submit_attempts is 'orders.submit_attempts: how often the submit job started on the order.';
comment on column kapitaal.order_status.reason is 'orders.reason: why the order exists, in words.';
comment on column kapitaal.order_status.created_at is 'orders.created_at: p_now of order__create_intent.';
comment on column kapitaal.order_status.updated_at is 'orders.updated_at: p_now of the last write to the order (submit, transition, fill).';
comment on column kapitaal.order_status.last_event_id is 'order_events.event_id of the order''s newest event (highest event_id).';
comment on column kapitaal.order_status.last_from_status is
  'order_events.from_status of that event: the status before it; null when it is the creation event.';
comment on column kapitaal.order_status.last_event_at is 'order_events.at of that event (p_now of the writing function).';
comment on column kapitaal.order_status.last_event_note is 'order_events.note of that event: why, in words.';
comment on column kapitaal.order_status.fill_count is 'Number of fills rows of the order.';
--! EndIncluded execution/order_status.sql
--! Included execution/fills_ledger.sql
create or replace view kapitaal.fills_ledger as
select f.fill_id, f.filled_at, f.account, f.symbol, f.side, f.strategy, f.price, f.qty, f.price * f.qty as notional,
       f.fee, f.liquidity,
       case when f.side = 'sell' then f.price * f.qty else -(f.price * f.qty) end - f.fee as cash_delta,
       f.order_id, o.client_order_id, o.purpose, o.exit_trigger, f.position_id, f.unmatched_qty,
       f.exchange, f.exchange_trade_id, f.recorded_at
  from kapitaal.fills f
  join kapitaal.orders o on o.order_id = f.order_id;
comment on view kapitaal.fills_ledger is
  'The fills ledger with its cash effect: cash_delta = proceeds - fee for sells, -(cost + fee) for buys; summed '
  'per account it is the ledger cash change since initial_cash.';

-- Column comments (\d+ in psql). Money columns are in the pair's quote currency, quantities in base currency.
comment on column kapitaal.fills_ledger.fill_id is 'fills.fill_id: identity, in recording order (the order positions and cash are derived in).';
comment on column kapitaal.fills_ledger.filled_at is 'fills.filled_at: exchange time of the trade.';
comment on column kapitaal.fills_ledger.account is 'fills.account: trading account (capital_policy.account), copied from the order.';
comment on column kapitaal.fills_ledger.symbol is 'fills.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.fills_ledger.side is 'fills.side: buy or sell.';
comment on column kapitaal.fills_ledger.strategy is 'fills.strategy: strategy of the order.';
comment on column kapitaal.fills_ledger.price is 'fills.price: trade price, quote currency per unit of base.';
comment on column kapitaal.fills_ledger.qty is 'fills.qty: traded quantity, base currency.';
comment on column kapitaal.fills_ledger.notional is 'price * qty: traded value, quote currency, before fee.';
comment on column kapitaal.fills_ledger.fee is 'fills.fee: fee, quote currency.';
comment on column kapitaal.fills_ledger.liquidity is 'fills.liquidity: maker or taker.';
comment on column kapitaal.fills_ledger.cash_delta is
  'Cash change of the account, quote currency: notional - fee for a sell, -(notional + fee) for a buy.';
comment on column kapitaal.fills_ledger.order_id is 'fills.order_id: the order this trade filled (orders.order_id).';
comment on column kapitaal.fills_ledger.client_order_id is 'orders.client_order_id: the id sent to Kraken as cl_ord_id.';
comment on column kapitaal.fills_ledger.purpose is 'orders.purpose: entry (buy) or exit (sell of a position).';
comment on column kapitaal.fills_ledger.exit_trigger is 'orders.exit_trigger: for exits, the rule that fired or manual; null for entries.';
comment on column kapitaal.fills_ledger.position_id is
  'fills.position_id: position this fill opened, increased or reduced; null for a sell with no open position.';
comment on column kapitaal.fills_ledger.unmatched_qty is
  'fills.unmatched_qty: part of a sell that found no open quantity (base currency): booked as cash, not as P&L.';
comment on column kapitaal.fills_ledger.exchange is 'fills.exchange: where the trade happened: kraken, sim or paper.';
comment on column kapitaal.fills_ledger.exchange_trade_id is 'fills.exchange_trade_id: the exchange''s trade id.';
comment on column kapitaal.fills_ledger.recorded_at is 'fills.recorded_at: when the engine booked the fill (p_now).';
--! EndIncluded execution/fills_ledger.sql
--! Included dashboard/dashboard_ingest_runs.sql
-- The dashboard's ingest-runs panel: engine_status (heartbeat, last refresh, pending rows) with each run's newest
-- epoch, which engine_status does not carry. Ages in seconds so a client needs no interval parser.
create or replace view kapitaal.dashboard_ingest_runs as
  select s.run_id, s.status, s.started_at, s.heartbeat_at,
         extract(epoch from s.heartbeat_age)::float8 as heartbeat_age_s,
         e.epoch as last_epoch, e.published_at as last_epoch_at,
         s.last_generation_id, s.last_refreshed_at,
         extract(epoch from s.refresh_lag)::float8 as refresh_lag_s,
         s.symbols, s.last_rows_read, s.last_duration_ms, s.pending_rows
    from kapitaal.engine_status s
    left join lateral (select ie.epoch, ie.published_at from kapitaal.ingest_epochs ie
                        where ie.run_id = s.run_id order by ie.epoch desc limit 1) e on true;
comment on view kapitaal.dashboard_ingest_runs is
  'Per ingest run, for the dashboard: status, heartbeat and its age in seconds, newest epoch, newest state generation '
  'with its refresh lag in seconds, rows read and duration of that refresh, and raw rows pending for the next refresh '
  '(engine_status plus the newest ingest_epochs row).';

-- Column comments (\d+ in psql); the columns without a derivation here are engine_status's, passed through.
comment on column kapitaal.dashboard_ingest_runs.run_id is 'engine_status.run_id: the ingest run.';
comment on column kapitaal.dashboard_ingest_runs.status is 'engine_status.status: running, ended, failed or abandoned.';
comment on column kapitaal.dashboard_ingest_runs.started_at is 'engine_status.started_at: when the run was created.';
comment on column kapitaal.dashboard_ingest_runs.heartbeat_at is 'engine_status.heartbeat_at: the run''s last sign of life.';
comment on column kapitaal.dashboard_ingest_runs.heartbeat_age_s is 'engine_status.heartbeat_age in seconds (float8).';
comment on column kapitaal.dashboard_ingest_runs.last_epoch is 'ingest_epochs.epoch of the run''s newest epoch; null before the first.';
comment on column kapitaal.dashboard_ingest_runs.last_epoch_at is 'ingest_epochs.published_at of that epoch.';
comment on column kapitaal.dashboard_ingest_runs.last_generation_id is
  'engine_status.last_generation_id: the run''s newest state generation; null before the first refresh.';
comment on column kapitaal.dashboard_ingest_runs.last_refreshed_at is 'engine_status.last_refreshed_at: effective time of that refresh.';
comment on column kapitaal.dashboard_ingest_runs.refresh_lag_s is
  'engine_status.refresh_lag in seconds (float8): now() - last_refreshed_at.';
comment on column kapitaal.dashboard_ingest_runs.symbols is 'engine_status.symbols: run_symbol_state rows of the run after the newest refresh.';
comment on column kapitaal.dashboard_ingest_runs.last_rows_read is 'engine_status.last_rows_read: raw rows the newest refresh read.';
comment on column kapitaal.dashboard_ingest_runs.last_duration_ms is
  'engine_status.last_duration_ms: wall time of the newest refresh in the database, milliseconds.';
comment on column kapitaal.dashboard_ingest_runs.pending_rows is
  'engine_status.pending_rows: raw rows above the refresh watermark, for the next refresh; null unless running.';
--! EndIncluded dashboard/dashboard_ingest_runs.sql
--! Included dashboard/dashboard_evaluation_outcomes.sql
-- The dashboard's outcome mix. Same rows as evaluation_outcomes, computed without sorting every reason of the hour
-- (that view's array_agg(... order by ...)[1]): a hash aggregate over evaluations_evaluated_at_idx, then one primary-key
-- lookup per outcome for its newest reason. 73 -> 15 ms at 18k evaluations in the hour (docs/sql-api/dashboard.md).
create or replace view kapitaal.dashboard_evaluation_outcomes as
  select a.outcome, a.evaluations, a.last_at, x.reason as last_reason
    from (select e.outcome, count(*) as evaluations, max(e.evaluated_at) as last_at, max(e.evaluation_id) as last_id
            from kapitaal.evaluations e
           where e.evaluated_at > now() - interval '1 hour'
           group by e.outcome) a
    join kapitaal.evaluations x on x.evaluation_id = a.last_id;
comment on view kapitaal.dashboard_evaluation_outcomes is
  'Evaluations of the last hour per outcome with the newest reason of each, for the dashboard: the same rows as '
  'evaluation_outcomes, cheaper to compute every 2 s.';

-- Column comments (\d+ in psql).
comment on column kapitaal.dashboard_evaluation_outcomes.outcome is
  'evaluations.outcome: candidates, economically_empty, data_blocked, attach_blocked or generation_blocked.';
comment on column kapitaal.dashboard_evaluation_outcomes.evaluations is
  'Evaluations with this outcome whose evaluated_at is within the last hour (evaluated_at > now() - 1 hour).';
comment on column kapitaal.dashboard_evaluation_outcomes.last_at is 'Newest evaluated_at among them.';
comment on column kapitaal.dashboard_evaluation_outcomes.last_reason is
  'evaluations.reason of the one with the highest evaluation_id among them.';
--! EndIncluded dashboard/dashboard_evaluation_outcomes.sql
--! Included dashboard/dashboard_open_positions.sql
-- The dashboard's positions panel. open_positions marks at the newest capital snapshot (the runtime's
-- capital__snapshot task takes one every 10 s); this adds the mark the status line uses: the mid of the symbol in the
-- newest run's run_symbol_state, with the P&L at that mid, which is there even while snapshots are skipped.
-- Dropped and created (not replaced): o.* is expanded when the view is made, so a column added to open_positions
-- would make a replace fail; nothing depends on this view.
drop view if exists kapitaal.dashboard_open_positions;
create view kapitaal.dashboard_open_positions as
  select o.*, s.mid as state_mid, s.refreshed_at as state_mid_at,
         o.qty * s.mid - o.cost_basis - o.entry_fees_open as unrealised_pnl_at_state_mid
    from kapitaal.open_positions o
    left join lateral (select x.mid, x.refreshed_at from kapitaal.run_symbol_state x
                        where x.symbol = o.symbol order by x.run_id desc limit 1) s on true;
comment on view kapitaal.dashboard_open_positions is
  'open_positions plus the mid of the symbol in the newest run''s state (state_mid, its refresh time) and the '
  'unrealised P&L at that mid (value - cost basis - entry fees of the open quantity, exit fees not deducted), for the '
  'dashboard: the snapshot mark of open_positions is empty until a capital snapshot was taken.';

-- Column comments (\d+ in psql). They go with the view, so the drop above removes them and this file sets them again.
-- The open_positions columns are passed through (o.*); each line names its source, more on that view.
comment on column kapitaal.dashboard_open_positions.position_id is
  'open_positions.position_id: the position (positions.position_id).';
comment on column kapitaal.dashboard_open_positions.account is
  'open_positions.account: trading account (capital_policy.account).';
comment on column kapitaal.dashboard_open_positions.symbol is
  'open_positions.symbol: Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.dashboard_open_positions.strategy is
  'open_positions.strategy: strategy of the entry order.';
comment on column kapitaal.dashboard_open_positions.opened_at is
  'open_positions.opened_at: filled_at of the opening fill.';
comment on column kapitaal.dashboard_open_positions.qty is 'open_positions.qty: open quantity, base currency.';
comment on column kapitaal.dashboard_open_positions.avg_entry_price is
  'open_positions.avg_entry_price: cost_basis / qty after the last buy, quote per base.';
comment on column kapitaal.dashboard_open_positions.cost_basis is
  'open_positions.cost_basis: quote paid for the open quantity, fees excluded.';
comment on column kapitaal.dashboard_open_positions.entry_fees_open is
  'open_positions.entry_fees_open: entry fees of the open quantity not yet in realised_pnl, quote currency.';
comment on column kapitaal.dashboard_open_positions.fees is
  'open_positions.fees: all fees of the position''s fills, quote currency.';
comment on column kapitaal.dashboard_open_positions.realised_pnl is
  'open_positions.realised_pnl: P&L of the quantity sold so far, after fees, quote currency.';
comment on column kapitaal.dashboard_open_positions.high_water_price is
  'open_positions.high_water_price: highest price seen while open, quote per base.';
comment on column kapitaal.dashboard_open_positions.trail_armed is
  'open_positions.trail_armed: true once the trailing stop is armed.';
comment on column kapitaal.dashboard_open_positions.entry_regime is
  'open_positions.entry_regime: regime at entry.';
comment on column kapitaal.dashboard_open_positions.entry_order_id is
  'open_positions.entry_order_id: the buy order whose fill opened the position.';
comment on column kapitaal.dashboard_open_positions.mark_price is
  'open_positions.mark_price: the symbol''s mark in the newest capital snapshot that has one, quote per base; null without.';
comment on column kapitaal.dashboard_open_positions.marked_at is
  'open_positions.marked_at: capital_snapshots.at of that snapshot.';
comment on column kapitaal.dashboard_open_positions.market_value is
  'open_positions.market_value: qty * mark_price, quote currency.';
comment on column kapitaal.dashboard_open_positions.unrealised_pnl is
  'open_positions.unrealised_pnl: market_value - cost_basis - entry_fees_open, quote currency.';
comment on column kapitaal.dashboard_open_positions.unrealised_pnl_after_exit_fee is
  'open_positions.unrealised_pnl_after_exit_fee: unrealised_pnl less a taker exit fee on market_value, quote currency.';
comment on column kapitaal.dashboard_open_positions.exit_order_id is
  'open_positions.exit_order_id: the position''s exit order still working; null when none.';
comment on column kapitaal.dashboard_open_positions.exit_order_status is
  'open_positions.exit_order_status: orders.status of that exit order.';
comment on column kapitaal.dashboard_open_positions.state_mid is
  'run_symbol_state.mid of the symbol in the newest run (highest run_id) whose state has it: (best_bid + best_ask) / 2, '
  'quote per base; null when no run has the symbol or a book side is missing.';
comment on column kapitaal.dashboard_open_positions.state_mid_at is 'run_symbol_state.refreshed_at of that row: effective time of the refresh that set state_mid.';
comment on column kapitaal.dashboard_open_positions.unrealised_pnl_at_state_mid is
  'qty * state_mid - cost_basis - entry_fees_open, quote currency: P&L of the open quantity at state_mid, exit fee not deducted.';
--! EndIncluded dashboard/dashboard_open_positions.sql
--! Included dashboard/grants.sql
-- The dashboard reads as kapitaal_readonly. dashboard_ingest_runs counts raw rows (engine_status.pending_rows), so
-- it is not granted to kapitaal_execution, which must never read raw tables (state-first contract).
grant select on kapitaal.dashboard_ingest_runs, kapitaal.dashboard_evaluation_outcomes,
  kapitaal.dashboard_open_positions to kapitaal_readonly;
grant execute on function kapitaal.dashboard__equity_curve(text, interval, integer, timestamptz) to kapitaal_readonly;
--! EndIncluded dashboard/grants.sql

--! split: 6-queue-status.sql
--! Included worker/job_queue_status.sql
create or replace view kapitaal.job_queue_status as
select j.task_identifier,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at <= now()) as waiting,
       count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts and j.run_at > now()) as scheduled,
       count(*) filter (where j.locked_at is not null) as running,
       -- Not locked: Graphile Worker counts an attempt when it locks a job, so a job on its last attempt is
       -- running, not failed, until it ends.
       count(*) filter (where j.locked_at is null and j.attempts >= j.max_attempts) as failed,
       count(*) filter (where j.last_error is not null and j.attempts < j.max_attempts) as retrying,
       (array_agg(j.last_error order by j.updated_at desc, j.id desc)
          filter (where j.locked_at is null and j.attempts >= j.max_attempts))[1] as last_failure
  from graphile_worker.jobs j
 group by j.task_identifier;
comment on view kapitaal.job_queue_status is
  'Graphile Worker queue per task: waiting, scheduled (run_at in the future), running (locked), failed '
  '(attempts exhausted: the chain stopped here, look at last_failure) and retrying.';

-- Column comments (\d+ in psql). Counts are jobs in graphile_worker.jobs (done jobs are deleted, so not counted).
comment on column kapitaal.job_queue_status.task_identifier is
  'graphile_worker.jobs.task_identifier: the task name (one row per task with at least one job).';
comment on column kapitaal.job_queue_status.waiting is
  'Jobs due now (run_at <= now()), not locked, attempts left: ready for the next free worker.';
comment on column kapitaal.job_queue_status.scheduled is
  'Jobs not locked, attempts left, run_at in the future: a delayed job or a retry waiting out its backoff.';
comment on column kapitaal.job_queue_status.running is 'Jobs locked by a worker (being run, or held by a dead worker until reaped).';
comment on column kapitaal.job_queue_status.failed is
  'Jobs not locked with attempts >= max_attempts: no more retries; the chain stopped here. (A job running its last '
  'attempt counts as running: Graphile Worker counts an attempt when it locks the job.)';
comment on column kapitaal.job_queue_status.retrying is
  'Jobs with a last_error and attempts left: failed at least once and will be tried again (also counted in waiting, '
  'scheduled or running).';
comment on column kapitaal.job_queue_status.last_failure is
  'last_error of the most recently updated job counted in failed; null when there is none.';
--! EndIncluded worker/job_queue_status.sql
