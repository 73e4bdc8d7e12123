-- Exit rules per strategy; the 'default' row applies to strategies without their own row.
create table if not exists kapitaal.exit_policy (
  strategy text primary key,
  stop_loss_pct numeric check (stop_loss_pct > 0 and stop_loss_pct < 100),
  take_profit_pct numeric check (take_profit_pct > 0),
  trailing_arm_pct numeric check (trailing_arm_pct >= 0),
  trailing_retrace_pct numeric check (trailing_retrace_pct > 0 and trailing_retrace_pct < 100),
  max_hold interval check (max_hold > interval '0'),
  exit_regimes text[] not null default '{}',
  exit_on_regime_change boolean not null default false,
  updated_at timestamptz not null default now(),
  constraint exit_policy_trailing_pair check ((trailing_arm_pct is null) = (trailing_retrace_pct is null))
);
comment on table kapitaal.exit_policy is
  'Exit rules applied by position__exit_decision, per strategy (row ''default'' for the rest). Percentages are in '
  'percent of the position''s avg_entry_price (trailing retrace: of the high-water price); a null rule is off. '
  'Every threshold fires AT the boundary (inclusive).';
comment on column kapitaal.exit_policy.stop_loss_pct is 'stop_loss fires when mark <= avg_entry_price * (1 - stop_loss_pct/100).';
comment on column kapitaal.exit_policy.take_profit_pct is 'take_profit fires when mark >= avg_entry_price * (1 + take_profit_pct/100).';
comment on column kapitaal.exit_policy.trailing_arm_pct is
  'The trailing stop arms once high_water_price >= avg_entry_price * (1 + trailing_arm_pct/100); it stays armed.';
comment on column kapitaal.exit_policy.trailing_retrace_pct is
  'An armed trailing_stop fires when mark <= high_water_price * (1 - trailing_retrace_pct/100).';
comment on column kapitaal.exit_policy.max_hold is 'time_stop fires when p_now - opened_at >= max_hold.';
comment on column kapitaal.exit_policy.exit_regimes is 'regime_change fires when the pair''s current regime is one of these (e.g. CHAOS).';
comment on column kapitaal.exit_policy.exit_on_regime_change is
  'regime_change also fires when the current regime differs from the position''s entry_regime.';
comment on column kapitaal.exit_policy.strategy is
  'Strategy the rules apply to, or ''default'' for strategies without their own row.';
comment on column kapitaal.exit_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a rule.';
insert into kapitaal.exit_policy (strategy, stop_loss_pct, take_profit_pct, trailing_arm_pct, trailing_retrace_pct,
                                  max_hold, exit_regimes, exit_on_regime_change)
values ('default', 2, 4, 1.5, 0.75, interval '4 hours', array['CHAOS'], false)
on conflict do nothing;
