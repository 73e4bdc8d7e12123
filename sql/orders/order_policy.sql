-- Placement and execution rules per strategy (row 'default' for the rest): how long a maker entry may
-- wait before the fallback decides, whether it may fall back to taker, and how fresh a mark the exit loop
-- needs. Plain rows a DBA can read and change; defaults are inserted once.
create table if not exists kapitaal.order_policy (
  strategy text primary key,
  maker_wait interval not null default interval '30 seconds' check (maker_wait >= interval '0'),
  maker_fallback_to_taker boolean not null default true,
  maker_fallback_window interval not null default interval '5 minutes' check (maker_fallback_window > interval '0'),
  exit_mark_max_age interval not null default interval '30 seconds' check (exit_mark_max_age > interval '0'),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.order_policy is
  'Execution rules per strategy (row ''default'' applies to strategies without their own row), used by '
  'order__maker_fallback_decision and exits__scan.';
comment on column kapitaal.order_policy.maker_wait is
  'A post-only (maker) entry still unfilled this long after its intent is cancelled; it then falls back to a taker '
  'order only when the edge recomputed from current state still pays the taker fee.';
comment on column kapitaal.order_policy.maker_fallback_to_taker is 'false: an expired maker entry is only cancelled, never replaced by a taker order.';
comment on column kapitaal.order_policy.maker_fallback_window is
  'A maker entry cancelled longer ago than this (e.g. by the exchange) gets no taker fallback any more: its decision is too old.';
comment on column kapitaal.order_policy.exit_mark_max_age is
  'exits__scan skips a position (outcome stale_mark, with the age) when its newest run_symbol_state row was refreshed '
  'longer ago than this: never exit on a stale mark.';
comment on column kapitaal.order_policy.strategy is
  'Strategy the rules apply to, or ''default'' for strategies without their own row.';
comment on column kapitaal.order_policy.updated_at is
  'Set when the row is inserted; nothing maintains it, so set it yourself when you change a rule.';
insert into kapitaal.order_policy (strategy) values ('default') on conflict do nothing;

create or replace function kapitaal.order_policy__for(p_strategy text)
returns kapitaal.order_policy
language sql
stable
set search_path = kapitaal, pg_temp
as $$
  select p.* from kapitaal.order_policy p
   where p.strategy in (p_strategy, 'default')
   order by (p.strategy = p_strategy) desc
   limit 1
$$;
comment on function kapitaal.order_policy__for(text) is 'The order_policy row of a strategy, or the ''default'' row.';
