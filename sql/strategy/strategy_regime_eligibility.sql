-- Which strategy may open new positions in which regime. One row per (regime, strategy);
-- defaults inserted with `on conflict do nothing` so operator changes survive re-migration.
create table if not exists kapitaal.strategy_regime_eligibility (
  regime text not null check (regime in ('RANGE', 'TREND', 'HIGH_VOLATILITY', 'LOW_LIQUIDITY', 'CHAOS')),
  strategy text not null references kapitaal.strategy_policy (strategy) on delete cascade,
  eligible boolean not null,
  signal_factor numeric not null default 1 check (signal_factor > 0 and signal_factor <= 1),
  note text not null,
  primary key (regime, strategy)
);
comment on table kapitaal.strategy_regime_eligibility is
  'Strategy fan-out per regime: a proposal of a strategy in a regime whose row is not eligible (or missing) gets '
  'reason regime_ineligible and is never selected. A null (not yet established) regime counts as not ready.';
comment on column kapitaal.strategy_regime_eligibility.signal_factor is
  'Multiplier on the expected move (the signal) of an eligible strategy in this regime, e.g. 0.5 = reduced '
  'confidence for momentum in HIGH_VOLATILITY. Costs and fees are not scaled. Ignored for ineligible rows.';
comment on column kapitaal.strategy_regime_eligibility.note is 'Why this strategy is (not) eligible in this regime.';
comment on column kapitaal.strategy_regime_eligibility.regime is
  'The pair''s effective regime (run_symbol_state.regime).';
comment on column kapitaal.strategy_regime_eligibility.strategy is 'The strategy (strategy_policy.strategy).';
comment on column kapitaal.strategy_regime_eligibility.eligible is
  'true: the strategy may open positions in this regime; false (or no row): its proposals get regime_ineligible.';

insert into kapitaal.strategy_regime_eligibility (regime, strategy, eligible, signal_factor, note) values
  ('RANGE', 'liquidity', true, 1, 'Range-bound, quiet book: resting bids at the touch get filled by oscillation.'),
  ('RANGE', 'momentum', false, 1, 'No directional move to follow in a range.'),
  ('RANGE', 'volume', true, 1, 'Flow surges can start a move out of a range.'),
  ('TREND', 'liquidity', false, 1, 'A resting bid in a trend is filled mostly when the trend turns against it (adverse selection).'),
  ('TREND', 'momentum', true, 1, 'The regime momentum is made for.'),
  ('TREND', 'volume', true, 1, 'Flow confirms or starts legs of a trend.'),
  ('HIGH_VOLATILITY', 'liquidity', false, 1, 'Queue position is worthless when the price jumps levels.'),
  ('HIGH_VOLATILITY', 'momentum', true, 0.5, 'Only momentum, with its expected move halved (moves revert more often).'),
  ('HIGH_VOLATILITY', 'volume', false, 1, 'Flow signals are noise in violent markets.'),
  ('LOW_LIQUIDITY', 'liquidity', false, 1, 'Nothing new in thin or wide markets (design: LOW_LIQUIDITY trades nothing new).'),
  ('LOW_LIQUIDITY', 'momentum', false, 1, 'Nothing new in thin or wide markets.'),
  ('LOW_LIQUIDITY', 'volume', false, 1, 'Nothing new in thin or wide markets.'),
  ('CHAOS', 'liquidity', false, 1, 'Nothing new on missing, stale or corrupt data or extreme volatility (design: CHAOS trades nothing new).'),
  ('CHAOS', 'momentum', false, 1, 'Nothing new in CHAOS.'),
  ('CHAOS', 'volume', false, 1, 'Nothing new in CHAOS.')
on conflict do nothing;
