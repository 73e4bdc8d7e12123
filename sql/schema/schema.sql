create schema if not exists kapitaal;
comment on schema kapitaal is
  'KapitaalBot engine: ingest runs, raw market data, per-symbol state, decisions and orders. '
  'Tables are read by views and written by the functions here; see docs/SQL_API.md.';
