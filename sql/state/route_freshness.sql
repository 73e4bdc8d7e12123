create or replace function kapitaal.apply_route_freshness_filter(p_run_id bigint, p_now timestamptz default now())
returns table (
  run_id bigint,
  symbol text,
  route_type text,
  exec_allowed boolean,
  state_age interval,
  refresh_age interval,
  max_state_age interval,
  data_at timestamptz,
  generation_id bigint,
  reason text,
  marker text
)
language sql
stable
as $$
  select s.run_id, s.symbol, p.route_type,
         v.verdict = 'OK',
         a.state_age, a.refresh_age, p.max_state_age, a.data_at, s.generation_id,
         case v.verdict
           when 'NO_MARKET_DATA' then 'NO_MARKET_DATA: no L2 book or ticker for this symbol yet'
           when 'REFRESH_STALE' then format('REFRESH_STALE: state refreshed %s ago > %s', a.refresh_age, p.max_state_age)
           when 'STATE_AGE_EXCEEDS_MAX' then format('STATE_AGE_EXCEEDS_MAX: market data %s old > %s', a.state_age, p.max_state_age)
           else format('FRESH: market data %s old <= %s', a.state_age, p.max_state_age)
         end,
         case v.verdict
           when 'OK' then 'ROUTE_FRESHNESS_OK'
           when 'STATE_AGE_EXCEEDS_MAX' then 'ROUTE_FRESHNESS_STALE'
           else 'ROUTE_EXECUTION_BLOCKED_STALE_DATA'
         end
    from kapitaal.run_symbol_state s
   cross join kapitaal.route_freshness_policy p
   cross join lateral (
     select greatest(s.last_l2_at, s.last_ticker_at) as data_at,
            greatest(p_now - greatest(s.last_l2_at, s.last_ticker_at), interval '0') as state_age,
            greatest(p_now - s.refreshed_at, interval '0') as refresh_age
   ) a
   cross join lateral (
     select case when a.data_at is null then 'NO_MARKET_DATA'
                 when a.refresh_age > p.max_state_age then 'REFRESH_STALE'
                 when a.state_age > p.max_state_age then 'STATE_AGE_EXCEEDS_MAX'
                 else 'OK' end as verdict
   ) v
   where s.run_id = p_run_id and p.enabled
   order by s.symbol, p.route_type
$$;
comment on function kapitaal.apply_route_freshness_filter(bigint, timestamptz) is
  'Every route (symbol x enabled route type) of a run with exec_allowed, the ages and the reason. State age = p_now - '
  'newest L2/ticker time of the symbol; refresh age = p_now - the refresh that wrote the row. Allowed when both are at '
  'most max_state_age (age = max is allowed, one microsecond more is not). marker: ROUTE_FRESHNESS_OK (allowed), '
  'ROUTE_FRESHNESS_STALE (the symbol''s data is too old), ROUTE_EXECUTION_BLOCKED_STALE_DATA (no market data at all, or '
  'the refresh itself stopped). Reads run_symbol_state only.';
