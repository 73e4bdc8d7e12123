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
