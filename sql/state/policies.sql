-- Policy tables of the state layer: plain rows a DBA can read and change with psql.
-- Defaults are inserted with `on conflict do nothing`, so re-running the migration
-- never overwrites a value an operator changed.

create table if not exists kapitaal.state_refresh_policy (
  policy text primary key default 'default' check (policy = 'default'),
  cadence interval not null default interval '2 seconds' check (cadence > interval '0'),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.state_refresh_policy is
  'Single-row policy of the state refresh job: how often run_symbol_state__refresh re-queues itself.';
comment on column kapitaal.state_refresh_policy.cadence is
  'Delay between two refreshes of one run (the job''s run_at = refresh time + cadence), unless the job payload '
  'carries cadence_seconds.';
comment on column kapitaal.state_refresh_policy.policy is 'Always ''default'': the table holds one row.';
comment on column kapitaal.state_refresh_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change the policy.';
insert into kapitaal.state_refresh_policy (policy) values ('default') on conflict do nothing;

create table if not exists kapitaal.route_freshness_policy (
  route_type text primary key check (route_type ~ '^[a-z][a-z0-9_]*$'),
  max_state_age interval not null check (max_state_age > interval '0'),
  enabled boolean not null default true,
  description text not null
);
comment on table kapitaal.route_freshness_policy is
  'Route types and the maximum age of the state a route may execute on. apply_route_freshness_filter allows a route '
  'when the state age is at most max_state_age (the boundary itself is allowed) and clears exec_allowed otherwise.';
comment on column kapitaal.route_freshness_policy.max_state_age is
  'Largest allowed age of the symbol''s market data (now - newest L2/ticker time) and of the run''s refresh.';
comment on column kapitaal.route_freshness_policy.enabled is 'Disabled route types are not returned by apply_route_freshness_filter.';
comment on column kapitaal.route_freshness_policy.route_type is
  'Route kind a decision executes through (taker_entry, maker_entry, exit; lower-case identifier).';
comment on column kapitaal.route_freshness_policy.description is
  'What the route is and why its age limit is what it is.';
insert into kapitaal.route_freshness_policy (route_type, max_state_age, description) values
  ('taker_entry', interval '30 seconds', 'Entry that crosses the spread now: the price paid is the book seen, so the book must be fresh.'),
  ('maker_entry', interval '30 seconds', 'Queue-aware passive entry: the limit price and queue position come from the book and L3 queue.'),
  ('exit',        interval '45 seconds', 'Closing an open position (stop, take-profit, regime exit): getting out matters more than the last tick.')
on conflict do nothing;

create table if not exists kapitaal.regime_policy (
  policy text primary key default 'default' check (policy = 'default'),
  confirm_refreshes integer not null default 3 check (confirm_refreshes >= 1),
  immediate_regimes text[] not null default array['CHAOS'],
  exit_margin numeric not null default 0.2 check (exit_margin >= 0 and exit_margin < 1),
  chaos_max_data_age interval not null default interval '30 seconds',
  chaos_checksum_failures_1m integer not null default 3,
  chaos_trade_id_gaps_5m integer not null default 20,
  chaos_vol_1m_bps numeric not null default 200,
  min_price_buckets_5m integer not null default 6,
  low_liq_max_spread_bps numeric not null default 50,
  low_liq_min_depth_50bps_quote numeric not null default 2000,
  low_liq_min_trades_5m integer not null default 3,
  high_vol_vol_5m_bps numeric not null default 80,
  trend_min_strength numeric not null default 0.5,
  trend_min_abs_ret_5m_bps numeric not null default 15,
  updated_at timestamptz not null default now()
);
comment on table kapitaal.regime_policy is
  'Single-row thresholds of the per-pair regime (see regime__indicate and regime__step). Checked in order: CHAOS, '
  'LOW_LIQUIDITY, HIGH_VOLATILITY, TREND, else RANGE.';
comment on column kapitaal.regime_policy.confirm_refreshes is
  'Hysteresis: a regime other than the current one becomes effective only after being indicated this many consecutive refreshes.';
comment on column kapitaal.regime_policy.immediate_regimes is
  'Regimes that take effect at the first indication (safety: stop trading at once). Leaving them still needs confirmation.';
comment on column kapitaal.regime_policy.exit_margin is
  'Hysteresis band: while a pair is in HIGH_VOLATILITY, TREND or LOW_LIQUIDITY, the thresholds that keep it there are '
  'relaxed by this fraction (e.g. 0.2: a HIGH_VOLATILITY pair stays so until vol_5m_bps drops below 80 * 0.8 = 64).';
comment on column kapitaal.regime_policy.chaos_max_data_age is 'CHAOS when the newest L2/ticker data is older than this.';
comment on column kapitaal.regime_policy.chaos_checksum_failures_1m is 'CHAOS when L2 plus L3 checksum failures in the last minute reach this.';
comment on column kapitaal.regime_policy.chaos_trade_id_gaps_5m is 'CHAOS when this many trade ids are missing in the last 5 minutes.';
comment on column kapitaal.regime_policy.chaos_vol_1m_bps is 'CHAOS when realised 1-minute volatility (bps) reaches this.';
comment on column kapitaal.regime_policy.min_price_buckets_5m is 'CHAOS (insufficient history) with fewer 10-second price buckets in the last 5 minutes.';
comment on column kapitaal.regime_policy.low_liq_max_spread_bps is 'LOW_LIQUIDITY when the spread reaches this (bps of mid).';
comment on column kapitaal.regime_policy.low_liq_min_depth_50bps_quote is 'LOW_LIQUIDITY when the thinner side holds less than this (quote) within 50 bps of mid.';
comment on column kapitaal.regime_policy.low_liq_min_trades_5m is 'LOW_LIQUIDITY with fewer trades than this in 5 minutes.';
comment on column kapitaal.regime_policy.high_vol_vol_5m_bps is 'HIGH_VOLATILITY when realised 5-minute volatility (bps) reaches this.';
comment on column kapitaal.regime_policy.trend_min_strength is 'TREND when |trend_strength_5m| (efficiency ratio, 0..1) reaches this ...';
comment on column kapitaal.regime_policy.trend_min_abs_ret_5m_bps is '... and |ret_5m_bps| reaches this.';
comment on column kapitaal.regime_policy.policy is 'Always ''default'': the table holds one row.';
comment on column kapitaal.regime_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a threshold.';
insert into kapitaal.regime_policy (policy) values ('default') on conflict do nothing;

create table if not exists kapitaal.strategy_readiness_policy (
  strategy text primary key check (strategy in ('liquidity', 'momentum', 'volume')),
  requires_book boolean not null,
  max_book_age interval,
  requires_l3 boolean not null,
  max_l3_age interval,
  requires_ticker boolean not null,
  max_ticker_age interval,
  requires_trades boolean not null,
  max_trade_age interval,
  min_trades_1m integer not null default 0,
  min_trades_5m integer not null default 0,
  min_quote_volume_5m numeric not null default 0,
  min_price_buckets_5m integer not null default 0,
  description text not null
);
comment on table kapitaal.strategy_readiness_policy is
  'What data each strategy needs and how fresh (ages are inclusive: age = max is still ready). Read by strategy_readiness.';
comment on column kapitaal.strategy_readiness_policy.requires_book is 'Needs a valid L2 book (newest sample passed its checksum) no older than max_book_age.';
comment on column kapitaal.strategy_readiness_policy.requires_l3 is 'Needs valid L3 queue data (touch queue, checksum ok) no older than max_l3_age.';
comment on column kapitaal.strategy_readiness_policy.requires_ticker is 'Needs a ticker no older than max_ticker_age.';
comment on column kapitaal.strategy_readiness_policy.requires_trades is 'Needs a trade no older than max_trade_age, plus the trade-count and volume minimums.';
comment on column kapitaal.strategy_readiness_policy.min_price_buckets_5m is 'Minimum 10-second price buckets in the last 5 minutes (history for returns and volatility).';
comment on column kapitaal.strategy_readiness_policy.strategy is
  'The strategy these requirements are for (liquidity, momentum, volume).';
comment on column kapitaal.strategy_readiness_policy.max_book_age is
  'Largest allowed age of the newest L2 sample (now - last_l2_at) when requires_book; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.max_l3_age is
  'Largest allowed age of the newest L3 sample when requires_l3; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.max_ticker_age is
  'Largest allowed age of the newest ticker when requires_ticker; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.max_trade_age is
  'Largest allowed time since the newest trade when requires_trades; null: no age limit.';
comment on column kapitaal.strategy_readiness_policy.min_trades_1m is
  'Minimum trades in the last minute (run_symbol_state.trades_1m); 0 = no minimum.';
comment on column kapitaal.strategy_readiness_policy.min_trades_5m is
  'Minimum trades in the last 5 minutes (run_symbol_state.trades_5m); 0 = no minimum.';
comment on column kapitaal.strategy_readiness_policy.min_quote_volume_5m is
  'Minimum traded volume in the last 5 minutes, in quote currency (numeric); 0 = no minimum.';
comment on column kapitaal.strategy_readiness_policy.description is 'The strategy''s data needs in plain words.';
insert into kapitaal.strategy_readiness_policy
  (strategy, requires_book, max_book_age, requires_l3, max_l3_age, requires_ticker, max_ticker_age,
   requires_trades, max_trade_age, min_trades_1m, min_trades_5m, min_quote_volume_5m, min_price_buckets_5m, description)
values
  ('liquidity', true, interval '10 seconds', true, interval '10 seconds', false, null, false, null, 0, 0, 0, 0,
   'Queue-aware maker: needs the verified book and the L3 queue at the touch, both at most 10 s old.'),
  ('momentum', false, null, false, null, true, interval '15 seconds', true, interval '60 seconds', 0, 10, 0, 6,
   'Follows price moves: needs a ticker at most 15 s old, a trade within 60 s, 10+ trades and 6+ price buckets (1 min) in 5 min.'),
  ('volume', true, interval '15 seconds', false, null, false, null, true, interval '30 seconds', 5, 0, 5000, 0,
   'Trades with the flow: needs 5+ trades in the last minute, 5000+ quote volume in 5 min, a trade within 30 s, and a valid book at most 15 s old to price its order.')
on conflict do nothing;
