-- The tradable universe of one ingest run: every pair the instrument channel announced that passed the
-- quote filter, with the exchange limits orders must obey. No foreign keys: this table is also written
-- to the decision cluster, where ingest_runs may not exist.
create table if not exists kapitaal.run_pairs (
  run_id bigint not null,
  symbol text not null,
  base text not null,
  quote text not null,
  status text not null,
  price_precision smallint not null check (price_precision >= 0),
  qty_precision smallint not null check (qty_precision >= 0),
  cost_precision smallint not null check (cost_precision >= 0),
  price_increment numeric not null check (price_increment > 0),
  qty_increment numeric not null check (qty_increment > 0),
  qty_min numeric not null check (qty_min >= 0),
  cost_min numeric not null check (cost_min >= 0),
  in_universe boolean not null default false,
  liquidity_rank integer,
  volume_24h_quote numeric,
  first_seen_at timestamptz not null,
  updated_at timestamptz not null,
  status_changed_at timestamptz not null,
  universe_changed_at timestamptz not null,
  primary key (run_id, symbol)
);
create index if not exists run_pairs_universe_idx on kapitaal.run_pairs (run_id) where in_universe;

comment on table kapitaal.run_pairs is
  'Pairs of one ingest run as the instrument channel describes them (quote filter applied), with the exchange '
  'limits orders must obey and whether the collector streams them. Rows stay when a pair leaves the universe, so '
  'its data remains explained. Written only by run_pairs__sync.';
comment on column kapitaal.run_pairs.status is
  'Kraken pair status (online, cancel_only, post_only, limit_only, reduce_only, maintenance, delisted, work_in_progress).';
comment on column kapitaal.run_pairs.price_increment is 'Price tick: a limit price must be a multiple of it.';
comment on column kapitaal.run_pairs.qty_increment is 'Lot step: an order quantity must be a multiple of it.';
comment on column kapitaal.run_pairs.qty_min is 'Minimum order quantity in base currency.';
comment on column kapitaal.run_pairs.cost_min is 'Minimum order cost (price times quantity) in quote currency.';
comment on column kapitaal.run_pairs.in_universe is
  'True while the pair is online and within the liquidity selection: the collector subscribes its book, trades '
  'and level3. False pairs are neither streamed nor traded.';
comment on column kapitaal.run_pairs.liquidity_rank is 'Rank by 24 h quote volume among the online candidates (1 = most liquid); null before the first ticker.';
comment on column kapitaal.run_pairs.volume_24h_quote is '24 h volume times vwap from the ticker channel, in quote currency, when the ranking ran.';
comment on column kapitaal.run_pairs.status_changed_at is 'When status last changed (first_seen_at until it does).';
comment on column kapitaal.run_pairs.universe_changed_at is 'When in_universe last changed (first_seen_at until it does).';
comment on column kapitaal.run_pairs.run_id is
  'The ingest run (ingest_runs.run_id) whose universe this is; no foreign key (also written on the decision cluster).';
comment on column kapitaal.run_pairs.symbol is 'Kraken WS v2 pair symbol, e.g. BTC/USD.';
comment on column kapitaal.run_pairs.base is
  'Base currency code from the instrument channel (what qty is counted in), e.g. BTC.';
comment on column kapitaal.run_pairs.quote is
  'Quote currency code from the instrument channel (what prices and costs are in), e.g. USD.';
comment on column kapitaal.run_pairs.price_precision is 'Decimal places Kraken allows in a price (instrument channel).';
comment on column kapitaal.run_pairs.qty_precision is 'Decimal places Kraken allows in an order quantity.';
comment on column kapitaal.run_pairs.cost_precision is
  'Decimal places Kraken uses for cost (price times quantity, quote currency).';
comment on column kapitaal.run_pairs.first_seen_at is
  'When run_pairs__sync first stored the pair for this run (its p_now, database clock by default).';
comment on column kapitaal.run_pairs.updated_at is
  'When run_pairs__sync last wrote the row, changed or not (its p_now).';
