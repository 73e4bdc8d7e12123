-- Last Kraken REST nonce per API key, shared by every process that uses the key.
create table if not exists kapitaal.kraken_nonces (
  key_id text primary key check (key_id ~ '^sha256:[0-9a-f]{64}$'),
  last_nonce bigint not null check (last_nonce > 0),
  updated_at timestamptz not null default now()
);
comment on table kapitaal.kraken_nonces is
  'Last nonce issued per Kraken API key, so nonces stay strictly increasing across restarts and across processes '
  'sharing a key. Written only by kraken_nonce__next(). Holds a hash of the key, never the key or secret.';
comment on column kapitaal.kraken_nonces.key_id is 'sha256:<hex> of the API key (src/exchange/nonce.ts apiKeyId); not reversible.';
comment on column kapitaal.kraken_nonces.last_nonce is 'The last nonce handed out: microseconds since the epoch, or last+1 when the clock lags.';
comment on column kapitaal.kraken_nonces.updated_at is 'When the last nonce was handed out (database clock).';
