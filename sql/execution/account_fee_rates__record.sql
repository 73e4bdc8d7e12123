-- Records the exchange's fee rates for the account and says, per pair, how they compare with the
-- configured ones: configured rates below the exchange's overstated every net edge until now.
create or replace function kapitaal.account_fee_rates__record(
  p_account text,
  p_rates jsonb,
  p_source text,
  p_now timestamptz default now()
)
returns table (symbol text, maker_fee_rate numeric, taker_fee_rate numeric,
               configured_maker_fee_rate numeric, configured_taker_fee_rate numeric, verdict text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
#variable_conflict use_column
declare
  v_bad text;
begin
  if p_rates is null or jsonb_typeof(p_rates) <> 'object' then
    raise exception 'account_fee_rates__record: rates must be a JSON object {symbol: {"maker": "0.0016", "taker": "0.0026"}}'
      using errcode = '22023';
  end if;
  select string_agg(r.key, ', ' order by r.key) into v_bad
    from jsonb_each(p_rates) r
   where jsonb_typeof(r.value) <> 'object'
      or coalesce(r.value->>'maker', '') !~ '^[0-9]+(\.[0-9]+)?$' or coalesce(r.value->>'taker', '') !~ '^[0-9]+(\.[0-9]+)?$'
      or (r.value->>'maker')::numeric >= 0.1 or (r.value->>'taker')::numeric >= 0.1;
  if v_bad is not null then
    raise exception 'account_fee_rates__record: no valid maker/taker fractions below 0.1 for %', v_bad using errcode = '22023';
  end if;
  insert into kapitaal.account_fee_rates as a (account, symbol, maker_fee_rate, taker_fee_rate, source, fetched_at)
  select p_account, r.key, (r.value->>'maker')::numeric, (r.value->>'taker')::numeric, p_source, p_now
    from jsonb_each(p_rates) r
  on conflict (account, symbol) do update
    set maker_fee_rate = excluded.maker_fee_rate, taker_fee_rate = excluded.taker_fee_rate,
        source = excluded.source, fetched_at = excluded.fetched_at;
  return query
  select r.key, (r.value->>'maker')::numeric, (r.value->>'taker')::numeric, c.maker_fee_rate, c.taker_fee_rate,
         case when c.account is null then 'no_configured_rates'
              when (r.value->>'maker')::numeric > c.maker_fee_rate or (r.value->>'taker')::numeric > c.taker_fee_rate
                then 'exchange_higher'
              when (r.value->>'maker')::numeric < c.maker_fee_rate or (r.value->>'taker')::numeric < c.taker_fee_rate
                then 'exchange_lower'
              else 'same' end
    from jsonb_each(p_rates) r
    left join kapitaal.capital_policy c on c.account = p_account
   order by r.key;
end
$$;
comment on function kapitaal.account_fee_rates__record(text, jsonb, text, timestamptz) is
  'Stores the exchange''s fee rates for the account (p_rates: {symbol: {"maker": fraction, "taker": fraction}}, each '
  'below 0.1, else 22023) in account_fee_rates, which fee_rates__for then prefers, and returns per pair the '
  'configured capital_policy rates and a verdict: exchange_higher (a configured rate was below the exchange''s: net '
  'edges were overstated), exchange_lower (configured rates were conservative), same, or no_configured_rates.';
