-- Raw Kraken WS v2 `ticker` messages, one row per symbol per message.
create sequence if not exists kapitaal.ticker_samples_seq cache 1000;
comment on sequence kapitaal.ticker_samples_seq is
  'Default of ticker_samples.seq (raw ticker rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
create table if not exists kapitaal.ticker_samples (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.ticker_samples_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  bid numeric not null,
  bid_qty numeric not null,
  ask numeric not null,
  ask_qty numeric not null,
  last numeric not null,
  volume numeric not null,
  vwap numeric,
  low numeric,
  high numeric,
  change numeric,
  change_pct numeric,
  exchange_ts timestamptz,
  received_at timestamptz not null
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.ticker_samples_symbol_time_idx;
create index if not exists ticker_samples_txid_idx on kapitaal.ticker_samples (txid);

comment on table kapitaal.ticker_samples is
  'Raw WS v2 ticker rows as Kraken sent them. Partitioned by run_id: one partition per ingest run.';
comment on column kapitaal.ticker_samples.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.ticker_samples.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.ticker_samples.volume is 'Base-currency volume over the last 24 h, as sent by Kraken.';
comment on column kapitaal.ticker_samples.vwap is 'Volume-weighted average price over the last 24 h.';
comment on column kapitaal.ticker_samples.change_pct is 'Price change over 24 h in percent.';
comment on column kapitaal.ticker_samples.exchange_ts is 'Kraken''s timestamp of the update, when the message carries one.';
comment on column kapitaal.ticker_samples.received_at is 'When the collector received the message (engine clock).';
comment on column kapitaal.ticker_samples.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.ticker_samples.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.ticker_samples.bid is 'Best bid price (quote currency per unit of base), numeric as sent.';
comment on column kapitaal.ticker_samples.bid_qty is 'Quantity at the best bid, in base currency.';
comment on column kapitaal.ticker_samples.ask is 'Best ask price (quote currency per unit of base), numeric as sent.';
comment on column kapitaal.ticker_samples.ask_qty is 'Quantity at the best ask, in base currency.';
comment on column kapitaal.ticker_samples.last is 'Price of the last trade (quote currency).';
comment on column kapitaal.ticker_samples.low is
  'Lowest trade price over the last 24 h (quote currency); null when the message had none.';
comment on column kapitaal.ticker_samples.high is
  'Highest trade price over the last 24 h (quote currency); null when the message had none.';
comment on column kapitaal.ticker_samples.change is
  'Price change over the last 24 h in quote currency as sent by Kraken; null when the message had none.';
