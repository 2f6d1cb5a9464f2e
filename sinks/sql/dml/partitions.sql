-- Monthly partitions of pulse_events on plain PostgreSQL (outcome_pulse.sinks.partitions).

-- name: partition_lock
-- Serialises partition creation between writers (a transaction-level advisory lock).
SELECT pg_advisory_xact_lock(%s)

-- name: existing_partitions
SELECT c.relname
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(%s)

-- name: create_partition
-- Composed with psycopg.sql: {name}, {parent} identifiers; {lower}, {upper}, {comment} literals.
-- Bounds are explicit UTC instants, not the session's TimeZone.
CREATE TABLE IF NOT EXISTS {name} PARTITION OF {parent}
FOR VALUES FROM ({lower}) TO ({upper});
COMMENT ON TABLE {name} IS {comment}
