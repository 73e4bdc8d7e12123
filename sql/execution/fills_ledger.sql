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
