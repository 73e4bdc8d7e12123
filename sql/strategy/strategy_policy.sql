-- Strategy policy: one row per strategy with its entry mechanics and the coefficients of its
-- expected-edge model (docs/STRATEGIES.md explains every number). Plain rows a DBA can read and
-- change with psql; defaults are inserted with `on conflict do nothing`, so re-running the
-- migration never overwrites a value an operator changed. Fee rates are NOT here: they come
-- from capital_policy (one place for the account's fees).
create table if not exists kapitaal.strategy_policy (
  strategy text primary key check (strategy in ('liquidity', 'momentum', 'volume')),
  enabled boolean not null default true,
  entry_liquidity text not null check (entry_liquidity in ('maker', 'taker')),
  order_type text not null check (order_type in ('limit', 'market')),
  post_only boolean not null default false,
  route_type text not null,
  adverse_selection_bps numeric not null default 0 check (adverse_selection_bps >= 0),
  -- liquidity (maker at the touch)
  microprice_weight numeric check (microprice_weight >= 0),
  reversion_weight numeric check (reversion_weight >= 0),
  fill_horizon interval check (fill_horizon > interval '0'),
  improve_after_wait interval check (improve_after_wait >= interval '0'),
  -- momentum
  continuation numeric check (continuation >= 0),
  -- volume
  flow_bps numeric check (flow_bps >= 0),
  min_surge numeric check (min_surge >= 0),
  surge_cap numeric check (surge_cap > 0),
  description text not null,
  updated_at timestamptz not null default now(),
  constraint strategy_policy_post_only_is_maker check (not post_only or (entry_liquidity = 'maker' and order_type = 'limit')),
  constraint strategy_policy_maker_is_limit check (entry_liquidity = 'taker' or order_type = 'limit'),
  constraint strategy_policy_params check (
    case strategy
      when 'liquidity' then entry_liquidity = 'maker' and microprice_weight is not null and reversion_weight is not null
                            and fill_horizon is not null and improve_after_wait is not null
      when 'momentum' then continuation is not null
      when 'volume' then flow_bps is not null and min_surge is not null and surge_cap is not null
    end)
);

comment on table kapitaal.strategy_policy is
  'Per strategy (liquidity, momentum, volume): how it enters (maker/taker, order type, route type for the freshness '
  'gate) and the coefficients of its expected-edge model used by strategy__proposals. All edges are in bps of mid: '
  'net_edge = expected_move - entry_cost - exit_cost - fees - adverse_selection. Fee rates come from capital_policy.';
comment on column kapitaal.strategy_policy.enabled is 'Disabled strategies still get proposals (so a DBA sees them) but with reason strategy_disabled, never selected.';
comment on column kapitaal.strategy_policy.entry_liquidity is
  'maker: the entry rests in the book (maker fee, fill uncertain, scored as net edge x fill probability); taker: the '
  'entry crosses the spread at best_ask (taker fee, fill probability 1). Exits are always assumed taker.';
comment on column kapitaal.strategy_policy.order_type is 'Order type of the entry as orders.order_type understands it (limit or market).';
comment on column kapitaal.strategy_policy.post_only is 'Entry limit order carries Kraken oflags=post (never takes liquidity).';
comment on column kapitaal.strategy_policy.route_type is
  'Route type in route_freshness_policy whose freshness verdict (apply_route_freshness_filter) gates this strategy.';
comment on column kapitaal.strategy_policy.adverse_selection_bps is
  'Cost in bps subtracted from the net edge of every proposal: for a maker bid, the expected loss from being filled '
  'preferentially when the price is about to fall through our level (and from waiting in the queue).';
comment on column kapitaal.strategy_policy.microprice_weight is
  'Liquidity: weight of the top-of-book microprice tilt ((microprice - mid) / mid, bps) in the expected move.';
comment on column kapitaal.strategy_policy.reversion_weight is
  'Liquidity: fraction of the last minute''s dip (max(-ret_1m_bps, 0)) expected to revert in a range.';
comment on column kapitaal.strategy_policy.fill_horizon is
  'Liquidity: how long the maker bid may rest; fill probability = sell flow in this horizon / (that flow + queue ahead + own size).';
comment on column kapitaal.strategy_policy.improve_after_wait is
  'Liquidity: bid one tick above the best bid (alone at a new level, queue ahead 0) when the expected wait for the '
  'queue at the touch (queue ahead in quote / sell flow per second) exceeds this and the spread is at least two ticks.';
comment on column kapitaal.strategy_policy.continuation is
  'Momentum: fraction of the 5-minute return expected to continue, scaled by trend_strength_5m (only up-moves: long only).';
comment on column kapitaal.strategy_policy.flow_bps is
  'Volume: expected move in bps per unit of flow imbalance (2 x buy share - 1) and per unit of surge (capped by surge_cap).';
comment on column kapitaal.strategy_policy.min_surge is
  'Volume: no signal unless the last minute''s quote volume is at least this multiple of the 5-minute per-minute average.';
comment on column kapitaal.strategy_policy.surge_cap is 'Volume: the surge multiple used in the edge is capped at this.';
comment on column kapitaal.strategy_policy.strategy is
  'Strategy name: liquidity, momentum or volume (docs/STRATEGIES.md).';
comment on column kapitaal.strategy_policy.description is 'What the strategy does, in plain words.';
comment on column kapitaal.strategy_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a coefficient.';

insert into kapitaal.strategy_policy
  (strategy, entry_liquidity, order_type, post_only, route_type, adverse_selection_bps,
   microprice_weight, reversion_weight, fill_horizon, improve_after_wait, continuation, flow_bps, min_surge, surge_cap,
   description)
values
  ('liquidity', 'maker', 'limit', true, 'maker_entry', 3,
   1, 0.5, interval '60 seconds', interval '30 seconds', null, null, null, null,
   'Queue-aware maker entry: a post-only bid at the best bid (or one tick above when the queue is long and the spread '
   'allows), expecting the microprice tilt and part of the last minute''s dip to revert.'),
  ('momentum', 'taker', 'market', false, 'taker_entry', 0,
   null, null, null, null, 0.5, null, null, null,
   'Taker entry in the direction of a TREND: buys at the ask when the 5-minute move is up and straight, expecting '
   'part of it to continue.'),
  ('volume', 'taker', 'market', false, 'taker_entry', 0,
   null, null, null, null, null, 40, 1.5, 3,
   'Taker entry following a trade-flow surge with buyers dominating: last minute''s volume well above the 5-minute '
   'average and more quote bought than sold.')
on conflict do nothing;
