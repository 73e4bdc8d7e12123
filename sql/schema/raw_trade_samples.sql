-- Raw Kraken WS v2 `trade` messages, one row per trade.
create sequence if not exists kapitaal.trade_samples_seq cache 1000;
comment on sequence kapitaal.trade_samples_seq is
  'Default of trade_samples.seq (raw trade rows, written by the collector''s COPY as kapitaal_ingest_writer). cache 1000: '
  'unique and increasing per session, not a commit order (readers use txid for that).';
create table if not exists kapitaal.trade_samples (
  run_id bigint not null,
  seq bigint not null default nextval('kapitaal.trade_samples_seq'),
  txid xid8 not null default pg_current_xact_id(),
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  price numeric not null check (price > 0),
  qty numeric not null check (qty > 0),
  ord_type text not null check (ord_type in ('market', 'limit')),
  trade_id bigint not null,
  exchange_ts timestamptz not null,
  received_at timestamptz not null
) partition by range (run_id);
-- No (symbol, received_at) index: every reader of this table selects by txid range (refresh, epochs,
-- paper market view) and it cost about half of the COPY time. Dropped where an older schema made it.
drop index if exists kapitaal.trade_samples_symbol_time_idx;
create index if not exists trade_samples_txid_idx on kapitaal.trade_samples (txid);

comment on table kapitaal.trade_samples is
  'Raw WS v2 trades as Kraken sent them. Partitioned by run_id: one partition per ingest run.';
comment on column kapitaal.trade_samples.seq is 'Per-row sequence (insertion order), for ordering and watermarks.';
comment on column kapitaal.trade_samples.txid is
  'Id of the inserting transaction. Refresh watermarks read rows by txid below the snapshot xmin, so a row committed late is never skipped.';
comment on column kapitaal.trade_samples.side is 'Side of the taker (the aggressor).';
comment on column kapitaal.trade_samples.ord_type is 'Order type of the taker: market or limit.';
comment on column kapitaal.trade_samples.trade_id is 'Kraken''s per-book trade sequence; the collector drops repeats after a reconnect.';
comment on column kapitaal.trade_samples.exchange_ts is 'Kraken''s time of the trade.';
comment on column kapitaal.trade_samples.received_at is 'When the collector received the message (engine clock).';
comment on column kapitaal.trade_samples.run_id is
  'The ingest run (ingest_runs.run_id) that received the row; partition key.';
comment on column kapitaal.trade_samples.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.trade_samples.price is 'Trade price (quote currency per unit of base), numeric as sent.';
comment on column kapitaal.trade_samples.qty is 'Traded quantity in base currency; price * qty is the quote volume.';
