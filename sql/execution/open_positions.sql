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
