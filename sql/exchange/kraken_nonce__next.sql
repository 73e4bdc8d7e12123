-- Next nonce for a key: greatest(epoch µs, last + 1), under the row lock that the upsert takes, so
-- two sessions never get the same or a decreasing nonce.
create or replace function kapitaal.kraken_nonce__next(
  p_key_id text,
  p_now timestamptz default clock_timestamp()
)
returns bigint
language sql
volatile
security definer
set search_path = pg_catalog, kapitaal
as $$
  insert into kapitaal.kraken_nonces as n (key_id, last_nonce, updated_at)
  values (p_key_id, (floor(extract(epoch from p_now) * 1000) * 1000)::bigint, p_now)
  on conflict (key_id) do update
    set last_nonce = greatest((floor(extract(epoch from p_now) * 1000) * 1000)::bigint, n.last_nonce + 1),
        updated_at = p_now
  returning n.last_nonce
$$;
comment on function kapitaal.kraken_nonce__next(text, timestamptz) is
  'Returns the next Kraken REST nonce for the key with this id (sha256:<hex> of the API key): '
  'greatest(epoch milliseconds × 1000, last nonce + 1). Concurrency-safe: the upsert locks the key''s row, so '
  'concurrent callers get distinct, increasing nonces. p_now exists for tests; leave it to the default.';
