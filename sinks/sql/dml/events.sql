-- The statements the event sink (PostgresSink) runs for every batch, and the row-by-row
-- baseline of the benchmark. Loaded by name (``-- name: ...``) by outcome_pulse.sinks.sql_text;
-- {{event_columns}} and {{state_columns}} are the column lists of sinks/statements.py, spelt once
-- there so a row tuple, its COPY and its INSERT cannot drift apart.
--
-- insert_events and insert_event_row also queue every event they insert for the contract
-- monitor (pulse_monitor_inbox) and return the number inserted as their one row (not as
-- rowcount): a data-modifying CTE runs to completion whether or not the outer query reads it,
-- and counting ``ins`` (not the inbox rows) keeps the count right even if an inbox row outlived
-- its event. A duplicate event (same time, source and id: an event is (source, id), v10) queues
-- nothing. Each event is queued once per evaluation shard
-- (pulse_evaluation_shards, v7): every shard's owner applies and clears its own inbox.
--
-- The set-based statements read the staging table in primary-key order: concurrent writers
-- touching the same rows then take their row locks in the same order (no deadlock between two
-- workers during a rebalance), and events land roughly in time order, which keeps the BRIN index
-- tight.
--
-- State upserts are monotonic: a row is only replaced by one that has folded in at least as many
-- events, and only when something differs, so replaying a batch rewrites nothing (no dead
-- tuples, no WAL).

-- name: create_event_staging
-- Once per connection; emptied by every COMMIT or ROLLBACK.
CREATE TEMP TABLE IF NOT EXISTS pulse_events_staging
    (LIKE pulse_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS

-- name: create_state_staging
CREATE TEMP TABLE IF NOT EXISTS pulse_item_states_staging
    (LIKE pulse_item_states INCLUDING DEFAULTS) ON COMMIT DELETE ROWS

-- name: copy_events
COPY pg_temp.pulse_events_staging ({{event_columns}}) FROM STDIN (FORMAT BINARY)

-- name: copy_states
COPY pg_temp.pulse_item_states_staging ({{state_columns}}) FROM STDIN (FORMAT BINARY)

-- name: insert_events
WITH ins AS (
    INSERT INTO pulse_events ({{event_columns}})
    SELECT {{event_columns}}
    FROM pg_temp.pulse_events_staging
    ORDER BY event_time, source, event_id
    ON CONFLICT (event_time, source, event_id) DO NOTHING
    RETURNING event_time, source, event_id
),
queued AS (
    INSERT INTO pulse_monitor_inbox (shard, event_time, source, event_id)
    SELECT s.shard, ins.event_time, ins.source, ins.event_id
    FROM ins CROSS JOIN pulse_evaluation_shards s
    ON CONFLICT (shard, event_time, source, event_id) DO NOTHING
)
SELECT count(*) FROM ins

-- name: stored_events_of_ids
-- The stored events of the given (source, item id, event id) triples: the worker compares an
-- event whose id its item applied already with them (a redelivery, or a conflicting copy:
-- streams/kafka/repeated_events.py). Uses pulse_events_item_time (source, item_id, event_time)
-- to reach each item's few events; asked only for such repeats, not for new events.
SELECT {{event_columns}}
FROM pulse_events e
JOIN unnest(%s::text[], %s::text[], %s::text[]) AS k(k_source, k_item, k_id)
  ON e.source = k.k_source AND e.item_id = k.k_item AND e.event_id = k.k_id
ORDER BY e.event_time, e.source, e.event_id

-- name: upsert_states
INSERT INTO pulse_item_states ({{state_columns}})
SELECT {{state_columns}}
FROM pg_temp.pulse_item_states_staging
ORDER BY source, item_id
{{state_conflict}}

-- name: insert_event_row
-- One row at a time: the benchmark's baseline only.
WITH ins AS (
    INSERT INTO pulse_events ({{event_columns}})
    VALUES ({{event_params}})
    ON CONFLICT (event_time, source, event_id) DO NOTHING
    RETURNING event_time, source, event_id
),
queued AS (
    INSERT INTO pulse_monitor_inbox (shard, event_time, source, event_id)
    SELECT s.shard, ins.event_time, ins.source, ins.event_id
    FROM ins CROSS JOIN pulse_evaluation_shards s
    ON CONFLICT (shard, event_time, source, event_id) DO NOTHING
)
SELECT count(*) FROM ins

-- name: upsert_state_row
INSERT INTO pulse_item_states ({{state_columns}})
VALUES ({{state_params}})
{{state_conflict}}

-- name: state_conflict
-- Not run by itself: the ON CONFLICT clause both state upserts end with.
ON CONFLICT (source, item_id) DO UPDATE SET
    item_kind     = excluded.item_kind,
    status        = excluded.status,
    state         = excluded.state,
    priority      = excluded.priority,
    assignee      = excluded.assignee,
    opened_at     = excluded.opened_at,
    resolved_at   = excluded.resolved_at,
    closed_at     = excluded.closed_at,
    paused_since  = excluded.paused_since,
    due_at        = excluded.due_at,
    last_event_at = excluded.last_event_at,
    event_count   = excluded.event_count,
    attributes    = excluded.attributes
WHERE pulse_item_states.event_count <= excluded.event_count
  AND (pulse_item_states.*) IS DISTINCT FROM (excluded.*)

-- name: schema_status
-- Checks and summaries.
SELECT (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('pulse_events')),
       to_regclass('pulse_schema_version') IS NOT NULL

-- name: schema_version
SELECT coalesce(max(version), 0) FROM pulse_schema_version

-- name: count_rows
SELECT (SELECT count(*) FROM pulse_events),
       (SELECT count(*) FROM pulse_item_states)

-- name: events_partitioned
SELECT relkind = 'p' FROM pg_class WHERE oid = 'pulse_events'::regclass

-- name: record_partition_progress
-- The per-partition watermark's input (v6), in the batch's transaction and after its events and
-- states (a transaction holding these row locks waits on no other kind): one row per Kafka
-- partition the batch held records of, given as four arrays in (topic, partition) order so
-- that concurrent writers lock the rows in the same order. The latest event time never moves
-- back; caught_up is this batch's; seen_at is this transaction's server time.
INSERT INTO pulse_partition_progress AS p
    (topic, partition, latest_event_time, caught_up, seen_at)
SELECT topic, partition, latest_event_time, caught_up, now()
FROM unnest(%s::text[], %s::integer[], %s::timestamptz[], %s::boolean[])
    AS b(topic, partition, latest_event_time, caught_up)
ORDER BY topic, partition
ON CONFLICT (topic, partition) DO UPDATE SET
    latest_event_time = GREATEST(p.latest_event_time, excluded.latest_event_time),
    caught_up = excluded.caught_up,
    seen_at = excluded.seen_at
