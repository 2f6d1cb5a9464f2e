-- The statements the contract monitor's store (MonitorStore) runs, and the read-back queries of
-- its tables. Loaded by name by outcome_pulse.sinks.sql_text. The {{point_*}}, {{outcome_*}}
-- and {{clock_*}} slots are the column lists of sinks/monitor_statements.py, which are the
-- fields of IndicatorPoint, PeriodOutcome and OpenClock in their order.
--
-- Upserts only rewrite rows whose values differ (IS DISTINCT FROM): re-evaluating a contract
-- writes nothing for the rows that did not change.

-- name: lock_lease
-- The lease: one row, locked for the length of a tick.
SELECT owner FROM pulse_monitor_lease WHERE id = 1 FOR UPDATE

-- name: take_lease
UPDATE pulse_monitor_lease SET owner = %s, taken_at = now() WHERE id = 1

-- name: event_fields
-- Not run by itself: the ItemEvent fields, then the sequence (ItemEvent has none; it orders
-- same-time events).
e.event_id, e.source, e.item_id, e.item_kind, e.lifecycle, e.event_time,
e.state, e.priority, e.assignee, e.due_at, e.attributes, e.sequence

-- name: all_events
SELECT {{event_fields}}
FROM pulse_events e
WHERE e.source = ANY(%s::text[])
ORDER BY e.event_time, e.sequence, e.event_id, e.source

-- name: item_events
-- The stored events of some items, given as two arrays (sources, item ids) of the same length,
-- that the shard (the third parameter) has applied: not those still in its inbox (they are
-- applied as new events when their inbox row is read; restoring one early would hide it from
-- that step, e.g. from being recorded as late).
SELECT {{event_fields}}
FROM pulse_events e
JOIN unnest(%s::text[], %s::text[]) AS wanted(source, item_id)
  ON e.source = wanted.source AND e.item_id = wanted.item_id
WHERE NOT EXISTS (
    SELECT 1 FROM pulse_monitor_inbox i
    WHERE i.shard = %s AND i.event_time = e.event_time AND i.source = e.source
      AND i.event_id = e.event_id
)
ORDER BY e.event_time, e.sequence, e.event_id, e.source

-- name: read_inbox
-- Oldest first (the primary key's order). LEFT JOIN: an inbox row whose event is gone
-- (retention dropped its chunk) still comes back as a key, so ``done`` can clear it.
-- One shard's inbox (v7): the first parameter is the shard. An event is (source, id) (v10).
SELECT i.event_time, i.source, i.event_id, {{event_fields}}
FROM (
    SELECT event_time, source, event_id FROM pulse_monitor_inbox
    WHERE shard = %s
    ORDER BY event_time, source, event_id
    LIMIT %s
) i
LEFT JOIN pulse_events e
  ON e.event_time = i.event_time AND e.source = i.source AND e.event_id = i.event_id
ORDER BY i.event_time, e.sequence, i.event_id, i.source

-- name: read_inbox_keys
-- The same rows as read_inbox without their events: for a shard that evaluates no contract,
-- whose monitor only clears the inbox (reading every event back would cost as much again).
SELECT event_time, source, event_id FROM pulse_monitor_inbox
WHERE shard = %s
ORDER BY event_time, source, event_id
LIMIT %s

-- name: delete_inbox
-- The applied inbox rows move to pulse_monitor_applied (v9): the events the shard applied since
-- its latest engine checkpoints, which its next owner applies after loading them.
WITH applied AS (
    DELETE FROM pulse_monitor_inbox i
    USING unnest(%s::timestamptz[], %s::text[], %s::text[]) AS d(event_time, source, event_id)
    WHERE i.shard = %s AND i.event_time = d.event_time AND i.source = d.source
      AND i.event_id = d.event_id
    RETURNING i.shard, i.event_time, i.source, i.event_id
)
INSERT INTO pulse_monitor_applied (shard, event_time, source, event_id)
SELECT shard, event_time, source, event_id FROM applied
ON CONFLICT (shard, event_time, source, event_id) DO NOTHING

-- name: create_point_staging
-- Staging tables: once per connection; emptied by every COMMIT or ROLLBACK.
CREATE TEMP TABLE IF NOT EXISTS pulse_indicator_points_staging
    (LIKE pulse_indicator_points) ON COMMIT DELETE ROWS

-- name: create_outcome_staging
CREATE TEMP TABLE IF NOT EXISTS pulse_period_outcomes_staging
    (LIKE pulse_period_outcomes INCLUDING DEFAULTS) ON COMMIT DELETE ROWS

-- name: copy_points
COPY pg_temp.pulse_indicator_points_staging ({{point_columns}}) FROM STDIN (FORMAT BINARY)

-- name: copy_outcomes
COPY pg_temp.pulse_period_outcomes_staging ({{outcome_columns}}) FROM STDIN (FORMAT BINARY)

-- name: upsert_points
-- Staged rows equal to the stored ones are filtered out before the upsert: ON CONFLICT would
-- otherwise lock (and WAL-log) every conflicting row even when its WHERE then skips it, which is
-- most of the rows when a takeover re-stages a whole contract. value and final are NOT NULL, so
-- plain equality is exact (and NaN = NaN in PostgreSQL).
INSERT INTO pulse_indicator_points ({{point_columns}})
SELECT {{point_columns}} FROM pg_temp.pulse_indicator_points_staging s
WHERE NOT EXISTS (
    SELECT 1 FROM pulse_indicator_points p
    WHERE p.contract = s.contract AND p.service = s.service AND p.kpi = s.kpi
      AND p.indicator = s.indicator AND p.at = s.at
      AND p.value = s.value AND p.final = s.final
)
ORDER BY {{point_key}}
ON CONFLICT ({{point_key}}) DO UPDATE SET
    value = excluded.value,
    final = excluded.final
WHERE (pulse_indicator_points.value, pulse_indicator_points.final)
      IS DISTINCT FROM (excluded.value, excluded.final)

-- name: upsert_outcomes
-- A final period's revision counts the corrections it received after it became final.
INSERT INTO pulse_period_outcomes ({{outcome_columns}})
SELECT {{outcome_columns}} FROM pg_temp.pulse_period_outcomes_staging
ORDER BY {{outcome_key}}
ON CONFLICT ({{outcome_key}}) DO UPDATE SET
    {{outcome_set_values}},
    revision = pulse_period_outcomes.revision
               + CASE WHEN pulse_period_outcomes.final THEN 1 ELSE 0 END,
    updated_at = now()
WHERE ({{outcome_stored_values}})
      IS DISTINCT FROM ({{outcome_excluded_values}})

-- name: no_nested_loops
-- replace(): rows of the contract that the staged set does not hold. Planned with nested loops
-- off: right after a bulk write the statistics of pulse_indicator_points can claim the contract
-- has a handful of rows, and a nested loop over its 300,000 actual rows would scan the
-- (unindexed) staging table once per row. A hash or merge anti join is linear whatever the
-- estimates.
SET LOCAL enable_nestloop = off

-- name: nested_loops_again
SET LOCAL enable_nestloop TO DEFAULT

-- name: delete_stale_points
DELETE FROM pulse_indicator_points p
WHERE p.contract = %s
  AND NOT EXISTS (
      SELECT 1 FROM pg_temp.pulse_indicator_points_staging s
      WHERE s.contract = p.contract AND s.service = p.service AND s.kpi = p.kpi
        AND s.indicator = p.indicator AND s.at = p.at
  )

-- name: delete_stale_outcomes
DELETE FROM pulse_period_outcomes o
WHERE o.contract = %s
  AND NOT EXISTS (
      SELECT 1 FROM pg_temp.pulse_period_outcomes_staging s
      WHERE s.contract = o.contract AND s.kpi = o.kpi AND s.period_start = o.period_start
  )

-- name: delete_points
-- write(): deletes by key, one array per key column.
DELETE FROM pulse_indicator_points p
USING unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
    AS d(contract, service, kpi, indicator, at)
WHERE p.contract = d.contract AND p.service = d.service AND p.kpi = d.kpi
  AND p.indicator = d.indicator AND p.at = d.at

-- name: delete_outcomes
DELETE FROM pulse_period_outcomes o
USING unnest(%s::text[], %s::text[], %s::timestamptz[]) AS d(contract, kpi, period_start)
WHERE o.contract = d.contract AND o.kpi = d.kpi AND o.period_start = d.period_start

-- name: insert_late_event
-- changed: the row keys joined by the unit separator (U+001F), split here: psycopg's array
-- dumper, in Python, cost a twelfth of an evaluator's time in a fast replay.
INSERT INTO pulse_late_events (contract, source, event_id, event_time, watermark, changed)
VALUES (%s, %s, %s, %s, %s, string_to_array(%s, chr(31)))
ON CONFLICT (contract, source, event_id) DO NOTHING

-- name: select_points
-- Reading back (tests, the CLI).
SELECT {{point_columns}} FROM pulse_indicator_points
WHERE contract = %s
ORDER BY {{point_key}}

-- name: select_outcomes
SELECT {{outcome_columns}} FROM pulse_period_outcomes
WHERE contract = %s
ORDER BY {{outcome_key}}

-- name: delete_clocks
-- Open item clocks (v3): replaced as a whole per contract.
DELETE FROM pulse_open_item_clocks WHERE contract = %s

-- name: insert_clock
INSERT INTO pulse_open_item_clocks ({{clock_columns}}) VALUES ({{clock_params}})

-- name: select_clocks
SELECT {{clock_columns}} FROM pulse_open_item_clocks
WHERE contract = %s
ORDER BY kpi, item_id

-- name: set_work_mem
-- The monitor's session sorts and hashes whole contracts: a larger work_mem than the default.
SELECT set_config('work_mem', %s, false)

-- name: truncate_point_staging
-- A staging table used twice in one tick is emptied first.
TRUNCATE pg_temp.pulse_indicator_points_staging

-- name: truncate_outcome_staging
TRUNCATE pg_temp.pulse_period_outcomes_staging

-- name: partition_progress
-- The per-partition watermark (v6): each partition's latest event time, whether the consumer had
-- read all its records then, and how long ago (server time) its latest records were stored. Read before the inbox, so every event it counts is in
-- the inbox the round reads (or was applied before).
SELECT topic, partition, latest_event_time, caught_up, greatest(now() - seen_at, interval '0')
FROM pulse_partition_progress
ORDER BY topic, partition

-- name: record_watermark
-- With the frontier the partitions last gave the engine (v9; NULL: none).
INSERT INTO pulse_contract_watermarks (contract, frontier, watermark, driver_frontier, updated_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (contract) DO UPDATE SET
    frontier = excluded.frontier,
    watermark = excluded.watermark,
    driver_frontier = excluded.driver_frontier,
    updated_at = excluded.updated_at
WHERE (pulse_contract_watermarks.frontier, pulse_contract_watermarks.watermark,
       pulse_contract_watermarks.driver_frontier)
      IS DISTINCT FROM (excluded.frontier, excluded.watermark, excluded.driver_frontier)


-- Engine checkpoints per evaluation shard (v9), written and read inside the shard's tick (its
-- fence row locked and checked: only the shard's current claim writes them or empties its
-- applied events).

-- name: read_checkpoints
-- The shard's checkpoints of its latest generation (older ones miss events applied since).
SELECT c.contract, c.fingerprint, c.state
FROM pulse_engine_checkpoints c
JOIN pulse_evaluation_shards s ON s.shard = c.shard AND s.checkpoint_generation = c.generation
WHERE c.shard = %s AND c.contract = ANY(%s::text[])

-- name: next_checkpoint_generation
UPDATE pulse_evaluation_shards SET checkpoint_generation = checkpoint_generation + 1
WHERE shard = %s
RETURNING checkpoint_generation

-- name: write_checkpoint
INSERT INTO pulse_engine_checkpoints (contract, shard, generation, fingerprint, state, written_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (contract) DO UPDATE SET
    shard = excluded.shard,
    generation = excluded.generation,
    fingerprint = excluded.fingerprint,
    state = excluded.state,
    written_at = excluded.written_at

-- name: clear_applied
-- New checkpoints of the shard hold every event it applied so far.
DELETE FROM pulse_monitor_applied WHERE shard = %s

-- name: applied_events
-- The stored events the shard applied since its latest checkpoints, of some sources.
SELECT {{event_fields}}
FROM pulse_monitor_applied a
JOIN pulse_events e
  ON e.event_time = a.event_time AND e.source = a.source AND e.event_id = a.event_id
WHERE a.shard = %s AND e.source = ANY(%s::text[])
ORDER BY e.event_time, e.sequence, e.event_id, e.source

-- name: recorded_frontiers
SELECT contract, driver_frontier FROM pulse_contract_watermarks WHERE contract = ANY(%s::text[])
