grant execute on function kapitaal.validation__ingest_proofs(timestamptz, interval) to kapitaal_readonly, kapitaal_execution;
grant execute on function kapitaal.validation__decision_proofs(timestamptz, interval) to kapitaal_readonly, kapitaal_execution;
