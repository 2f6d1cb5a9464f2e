-- Read-side queries of the CLI summary, the demo and the tests (outcome_pulse.sinks.queries).

-- name: source_events
SELECT count(*) FROM pulse_events WHERE source = %s

-- name: source_item_statuses
SELECT status, count(*) FROM pulse_item_states WHERE source = %s GROUP BY status

-- name: inbox_size
SELECT count(*) FROM pulse_monitor_inbox

-- name: monitor_progress
-- The database's clock now, when every evaluation shard had committed a round (the earliest of
-- their latest ticks; NULL while a shard has never ticked), the events not applied yet.
SELECT now(),
       (SELECT CASE WHEN count(*) = count(ticked_at) THEN min(ticked_at) END
        FROM pulse_evaluation_shards),
       (SELECT count(*) FROM pulse_monitor_inbox)

-- name: table_fingerprint
-- Row count and an md5 over every row in a stable order. {table} and {order_by} are composed
-- with psycopg.sql (identifiers), never pasted as text.
SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY {order_by})), '')
FROM {table} t
