-- The fee rates the exchange reports for the account, per pair (Kraken TradeVolume: the 30-day volume
-- tier). Where a pair has a row, the strategies' net edge and the maker fallback use it instead of the
-- configured capital_policy rates (fee_rates__for).
create table if not exists kapitaal.account_fee_rates (
  account text not null,
  symbol text not null,
  maker_fee_rate numeric not null check (maker_fee_rate >= 0 and maker_fee_rate < 0.1),
  taker_fee_rate numeric not null check (taker_fee_rate >= 0 and taker_fee_rate < 0.1),
  source text not null,
  fetched_at timestamptz not null,
  primary key (account, symbol)
);
comment on table kapitaal.account_fee_rates is
  'Fee rates the exchange reports for the account, per pair, as fractions (0.0026 = 0.26 %). Written by '
  'account_fee_rates__record (task capital__fee_rates, live and simulator exchanges); read by fee_rates__for.';
comment on column kapitaal.account_fee_rates.account is 'capital_policy.account these rates belong to.';
comment on column kapitaal.account_fee_rates.symbol is 'WS v2 symbol, e.g. BTC/USD.';
comment on column kapitaal.account_fee_rates.maker_fee_rate is 'Maker fee as a fraction of the cost (Kraken fees_maker / 100; the taker rate when the pair has no maker schedule).';
comment on column kapitaal.account_fee_rates.taker_fee_rate is 'Taker fee as a fraction of the cost (Kraken fees / 100).';
comment on column kapitaal.account_fee_rates.source is 'Where the rates came from, e.g. kraken:TradeVolume or sim:TradeVolume.';
comment on column kapitaal.account_fee_rates.fetched_at is 'When the exchange was asked (p_now of account_fee_rates__record).';
