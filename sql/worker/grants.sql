grant select on kapitaal.engine_processes, kapitaal.job_queue_status to kapitaal_readonly;
