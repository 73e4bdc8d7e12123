-- Ingest-only working set: the newest row of each raw table per run and symbol, reduced
-- to what the state needs. Newer means a larger (received_at, seq) key.
create table if not exists kapitaal.state_symbol_latest (
  run_id bigint not null,
  symbol text not null,
  ticker_key numeric[],
  ticker_at timestamptz,
  ticker_bid numeric,
  ticker_ask numeric,
  trade_key numeric[],
  trade_at timestamptz,
  trade_price numeric,
  l2_key numeric[],
  l2_at timestamptz,
  l2_checksum_ok boolean,
  l2_best_bid numeric,
  l2_best_ask numeric,
  l2_bid_qty numeric,
  l2_ask_qty numeric,
  l2_bid_depth_10bps numeric,
  l2_ask_depth_10bps numeric,
  l2_bid_depth_50bps numeric,
  l2_ask_depth_50bps numeric,
  l3_key numeric[],
  l3_at timestamptz,
  l3_checksum_ok boolean,
  l3_bid_qty numeric,
  l3_bid_orders integer,
  l3_ask_qty numeric,
  l3_ask_orders integer,
  primary key (run_id, symbol)
);
comment on table kapitaal.state_symbol_latest is
  'Ingest-only: per run and symbol, the newest ticker, trade, L2 and L3 row seen so far, reduced to the fields the '
  'state needs. A refresh replaces a source''s fields only when its new row has a larger key, so late commits of older '
  'rows never overwrite newer data.';
comment on column kapitaal.state_symbol_latest.ticker_key is 'array[epoch(received_at), seq] of the newest ticker row.';
comment on column kapitaal.state_symbol_latest.l2_bid_qty is 'Quantity at the best bid of the newest L2 sample.';
comment on column kapitaal.state_symbol_latest.l2_bid_depth_10bps is 'Quote value of bids within 10 bps of the L2 mid.';
comment on column kapitaal.state_symbol_latest.l3_bid_qty is 'Quantity at the best bid of the newest L3 sample.';
