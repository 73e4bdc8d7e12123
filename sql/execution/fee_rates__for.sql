-- Which fee rates a decision uses for a pair: the exchange's for the account when known, else the
-- configured capital_policy rates, else the built-in entry tier. One place, so the strategies and the
-- maker fallback can never price the same order with different fees.
create or replace function kapitaal.fee_rates__for(p_account text, p_symbol text)
returns table (maker_fee_rate numeric, taker_fee_rate numeric, source text)
language sql
stable
as $$
  select f.maker_fee_rate, f.taker_fee_rate, f.source
    from (select a.maker_fee_rate, a.taker_fee_rate, a.source || ' at ' || a.fetched_at as source, 1 as pref
            from kapitaal.account_fee_rates a where a.account = p_account and a.symbol = p_symbol
          union all
          select c.maker_fee_rate, c.taker_fee_rate, 'capital_policy:' || c.account, 2
            from kapitaal.capital_policy c where c.account = p_account
          union all
          select 0.0025, 0.0040, 'built_in_default', 3) f
   order by f.pref
   limit 1
$$;
comment on function kapitaal.fee_rates__for(text, text) is
  'The maker and taker fee rates (fractions) decisions use for p_symbol: the exchange''s rates for the account '
  '(account_fee_rates) when known, else capital_policy''s configured rates, else 0.0025 / 0.0040 (Kraken''s entry tier); '
  'source says which.';
