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
