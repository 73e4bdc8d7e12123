create or replace function kapitaal.run_pairs__sync(
  p_run_id bigint,
  p_pairs jsonb,
  p_now timestamptz default now()
)
returns table (symbol text, change text)
language plpgsql
volatile
security definer
set search_path = kapitaal, pg_temp
as $$
begin
  if p_run_id is null or p_pairs is null or jsonb_typeof(p_pairs) <> 'array' then
    raise exception 'run_pairs__sync: run_id and a JSON array of pairs are required' using errcode = '22023';
  end if;
  -- One universe writer per run at a time.
  perform pg_advisory_xact_lock(hashtextextended('kapitaal.run_pairs__sync', p_run_id));
  return query
  with incoming as (
    select e->>'symbol' as symbol, e->>'base' as base, e->>'quote' as quote, e->>'status' as status,
           (e->>'price_precision')::smallint as price_precision, (e->>'qty_precision')::smallint as qty_precision,
           (e->>'cost_precision')::smallint as cost_precision,
           (e->>'price_increment')::numeric as price_increment, (e->>'qty_increment')::numeric as qty_increment,
           (e->>'qty_min')::numeric as qty_min, (e->>'cost_min')::numeric as cost_min,
           coalesce((e->>'in_universe')::boolean, false) as in_universe,
           (e->>'liquidity_rank')::integer as liquidity_rank, (e->>'volume_24h_quote')::numeric as volume_24h_quote
      from jsonb_array_elements(p_pairs) e
  ),
  before as (
    select rp.symbol, rp.status, rp.in_universe
      from run_pairs rp
     where rp.run_id = p_run_id and rp.symbol in (select i.symbol from incoming i)
  ),
  upserted as (
    insert into run_pairs as rp (
      run_id, symbol, base, quote, status, price_precision, qty_precision, cost_precision, price_increment,
      qty_increment, qty_min, cost_min, in_universe, liquidity_rank, volume_24h_quote, first_seen_at, updated_at,
      status_changed_at, universe_changed_at)
    select p_run_id, i.symbol, i.base, i.quote, i.status, i.price_precision, i.qty_precision, i.cost_precision,
           i.price_increment, i.qty_increment, i.qty_min, i.cost_min, i.in_universe, i.liquidity_rank,
           i.volume_24h_quote, p_now, p_now, p_now, p_now
      from incoming i
    on conflict on constraint run_pairs_pkey do update set
      base = excluded.base, quote = excluded.quote, status = excluded.status,
      price_precision = excluded.price_precision, qty_precision = excluded.qty_precision,
      cost_precision = excluded.cost_precision, price_increment = excluded.price_increment,
      qty_increment = excluded.qty_increment, qty_min = excluded.qty_min, cost_min = excluded.cost_min,
      in_universe = excluded.in_universe, liquidity_rank = excluded.liquidity_rank,
      volume_24h_quote = excluded.volume_24h_quote, updated_at = p_now,
      status_changed_at = case when rp.status is distinct from excluded.status then p_now else rp.status_changed_at end,
      universe_changed_at = case when rp.in_universe is distinct from excluded.in_universe then p_now
                                 else rp.universe_changed_at end
    returning rp.symbol, rp.status, rp.in_universe
  )
  select u.symbol, c.change
    from upserted u
    left join before b on b.symbol = u.symbol
   cross join lateral (
     select 'added' as change where b.symbol is null
     union all
     select format('status %s -> %s', b.status, u.status) where b.symbol is not null and b.status <> u.status
     union all
     select case when u.in_universe then 'entered universe' else 'left universe' end
      where b.symbol is not null and b.in_universe <> u.in_universe
   ) c
   order by u.symbol;
end
$$;
comment on function kapitaal.run_pairs__sync(bigint, jsonb, timestamptz) is
  'Upserts pairs of an ingest run from the instrument channel: p_pairs is a JSON array of objects with symbol, '
  'base, quote, status, price/qty/cost_precision, price_increment, qty_increment, qty_min, cost_min (decimal text), '
  'in_universe, liquidity_rank, volume_24h_quote. Returns one row per change (added, status a -> b, entered '
  'universe, left universe). Pairs absent from p_pairs are left as they are.';
