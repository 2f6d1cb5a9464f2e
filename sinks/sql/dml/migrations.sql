-- The statements of the migration runner (outcome_pulse.sinks.schema); the DDL it applies is one
-- file per step in sinks/sql/ (v1_events.sql, ...).

-- name: migration_lock
-- One migration at a time (a transaction-level advisory lock).
SELECT pg_advisory_xact_lock(%s)

-- name: version_table_exists
SELECT to_regclass('pulse_schema_version') IS NOT NULL

-- name: recorded_version
-- The applied version and whether the schema was built with TimescaleDB.
SELECT coalesce(max(version), 0), bool_or(timescaledb) FROM pulse_schema_version

-- name: timescaledb_available
SELECT installed_version FROM pg_available_extensions WHERE name = 'timescaledb'

-- name: create_timescaledb
CREATE EXTENSION IF NOT EXISTS timescaledb

-- name: record_version
INSERT INTO pulse_schema_version (version, description, timescaledb) VALUES (%s, %s, %s)

-- name: retention_job
-- The retention policy of pulse_events, if any (TimescaleDB only).
SELECT (config ->> 'drop_after')::interval
FROM timescaledb_information.jobs
WHERE proc_name = 'policy_retention' AND hypertable_name = 'pulse_events'

-- name: remove_retention
SELECT remove_retention_policy('pulse_events', if_exists => TRUE)

-- name: add_retention
SELECT add_retention_policy('pulse_events', drop_after => %s::interval)
