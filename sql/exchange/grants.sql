-- Least privilege for the exchange objects: the nonce table is private; execution calls the function.
revoke all on kapitaal.kraken_nonces from public;
revoke all on function kapitaal.kraken_nonce__next(text, timestamptz) from public;
grant execute on function kapitaal.kraken_nonce__next(text, timestamptz) to kapitaal_execution;
grant select on kapitaal.kraken_nonces to kapitaal_readonly;
