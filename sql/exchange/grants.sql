-- Least privilege for the exchange objects: the nonce table is private; execution calls the function.
revoke all on kapitaal.kraken_nonces from public;
revoke all on function kapitaal.kraken_nonce__next(text, timestamptz) from public;
grant execute on function kapitaal.kraken_nonce__next(text, timestamptz) to kapitaal_execution;
grant select on kapitaal.kraken_nonces to kapitaal_readonly;
-- The paper venue's tables are private; the execution role saves and loads through the functions.
revoke all on kapitaal.paper_venues, kapitaal.paper_orders, kapitaal.paper_trades from public;
revoke all on function kapitaal.paper_venue__save(text, bigint, jsonb, jsonb, jsonb) from public;
revoke all on function kapitaal.paper_venue__load(text) from public;
grant execute on function kapitaal.paper_venue__save(text, bigint, jsonb, jsonb, jsonb) to kapitaal_execution;
grant execute on function kapitaal.paper_venue__load(text) to kapitaal_execution;
grant select on kapitaal.paper_venues, kapitaal.paper_orders, kapitaal.paper_trades to kapitaal_readonly;
