-- Ingest-only working set: 10-second aggregates of the raw rows per run and symbol, kept
-- only as long as the longest rolling window (5 minutes) needs them.
create table if not exists kapitaal.state_buckets (
  run_id bigint not null,
  symbol text not null,
  bucket_start timestamptz not null,
  ticker_n integer not null default 0,
  ticker_open numeric[],
  ticker_close numeric[],
  trade_n integer not null default 0,
  trade_quote_volume numeric not null default 0,
  trade_buy_quote_volume numeric not null default 0,
  trade_min_id bigint,
  trade_max_id bigint,
  l2_n integer not null default 0,
  l2_bad_n integer not null default 0,
  l2_snapshot_n integer not null default 0,
  l2_open numeric[],
  l2_close numeric[],
  l3_n integer not null default 0,
  l3_bad_n integer not null default 0,
  l3_touch_adds integer not null default 0,
  l3_touch_deletes integer not null default 0,
  primary key (run_id, symbol, bucket_start)
);
create index if not exists state_buckets_time_idx on kapitaal.state_buckets (run_id, bucket_start);
-- The smallest trade id of a symbol's window after buckets left it, by one index probe
-- (state__window_advance). Partial: buckets without trades never need it, and an update that
-- leaves trade_min_id unchanged (the usual one: ids ascend) stays HOT.
create index if not exists state_buckets_min_id_idx on kapitaal.state_buckets (run_id, symbol, trade_min_id)
  where trade_min_id is not null;
comment on index kapitaal.state_buckets_min_id_idx is
  'Smallest trade_min_id of a symbol''s window by one probe, when the bucket holding it left the window (state__window_advance).';

comment on table kapitaal.state_buckets is
  'Ingest-only: per run, symbol and 10-second bucket (bucket_start = date_bin(10 s, received_at)), the aggregates the '
  'rolling windows need. Each refresh merges the new raw rows in (counts add, open/close keys take least/greatest, so '
  'the order rows arrive in does not matter) and deletes buckets that left the 5-minute window.';
comment on column kapitaal.state_buckets.ticker_open is
  'Earliest ticker row of the bucket as array[epoch(received_at), seq, mid]; arrays compare element-wise, so least() picks the earliest.';
comment on column kapitaal.state_buckets.ticker_close is 'Latest ticker row of the bucket as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.trade_quote_volume is 'Sum of price * qty of the bucket''s trades.';
comment on column kapitaal.state_buckets.trade_min_id is 'Smallest trade_id in the bucket (for trade-id gap detection).';
comment on column kapitaal.state_buckets.l2_bad_n is 'L2 samples with checksum_ok = false.';
comment on column kapitaal.state_buckets.l2_snapshot_n is 'L2 samples that were snapshots (is_snapshot).';
comment on column kapitaal.state_buckets.l2_open is 'Earliest valid L2 sample with both sides as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.l2_close is 'Latest valid L2 sample with both sides as array[epoch(received_at), seq, mid].';
comment on column kapitaal.state_buckets.l3_touch_adds is 'Sum of touch_adds of the bucket''s L3 samples.';
comment on column kapitaal.state_buckets.run_id is
  'The ingest run (ingest_runs.run_id) of the raw rows aggregated here.';
comment on column kapitaal.state_buckets.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.state_buckets.bucket_start is
  'Start of the 10-second bucket: date_bin(10 s, received_at), so on the engine clock.';
comment on column kapitaal.state_buckets.ticker_n is 'Ticker rows received in the bucket.';
comment on column kapitaal.state_buckets.trade_n is 'Trades received in the bucket.';
comment on column kapitaal.state_buckets.trade_buy_quote_volume is
  'The part of trade_quote_volume whose taker bought (quote currency, numeric).';
comment on column kapitaal.state_buckets.trade_max_id is 'Largest trade_id in the bucket (for trade-id gap detection).';
comment on column kapitaal.state_buckets.l2_n is 'L2 samples received in the bucket (valid or not).';
comment on column kapitaal.state_buckets.l3_n is 'L3 samples received in the bucket (valid or not).';
comment on column kapitaal.state_buckets.l3_bad_n is 'L3 samples with checksum_ok = false.';
comment on column kapitaal.state_buckets.l3_touch_deletes is 'Sum of touch_deletes of the bucket''s L3 samples.';

-- Every refresh rewrites the touched rows; free space on the page lets those updates be HOT
-- (no index entries), since no indexed column changes.
alter table kapitaal.state_buckets set (fillfactor = 70);
