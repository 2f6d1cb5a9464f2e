-- Version 10: an event is (source, event id). CloudEvents only promises an id unique within its
-- source, and the product's own ids (uuid5 of source, line, milestone) are, but a third-party
-- producer's need not be: until now every table that names an event by (event time, event id)
-- treated a second source's event with the same id and time as a duplicate of the first and
-- dropped it (ON CONFLICT DO NOTHING), a loss nothing reported. Every such key gets the source.
-- The same statements on plain PostgreSQL and TimescaleDB (there, v10_events_hypertable_*.sql
-- decompress pulse_events before and re-enable its compression after).
--
-- Filling the source of existing rows: under version 9's key, pulse_events holds at most one
-- event per (event time, event id), so a row naming an event by those two has the source of that
-- stored event. A row whose event is no longer stored (retention dropped it):
-- * inbox and applied rows are deleted: both only ever name a stored event to apply, and the
--   monitor skips such a row already (read_inbox's LEFT JOIN, applied_events' JOIN), so deleting
--   it changes no figure;
-- * a late-event record is evidence and is kept, with the source '' (no CloudEvents source is
--   empty: the envelope refuses one), which the evidence report shows as unknown.
-- A row matching more than one stored event cannot occur under version 9's key; it is checked
-- rather than assumed: the source is not guessed, and a shard with such an applied row has its
-- engine checkpoints retired (deleted, its applied rows emptied, its generation bumped), so its
-- next owner rebuilds from the stored events.

-- 1. The contract monitor's inbox.
ALTER TABLE pulse_monitor_inbox ADD COLUMN source text;
UPDATE pulse_monitor_inbox i SET source = one.source
FROM (
    SELECT k.event_time, k.event_id, min(e.source) AS source
    FROM (SELECT DISTINCT event_time, event_id FROM pulse_monitor_inbox) k
    JOIN pulse_events e ON e.event_time = k.event_time AND e.event_id = k.event_id
    GROUP BY k.event_time, k.event_id
    HAVING count(*) = 1
) one
WHERE i.event_time = one.event_time AND i.event_id = one.event_id;
-- A shard with an inbox row of an ambiguous key (see above) only applies that row's events if it
-- rebuilds from the stored events: its checkpoints are retired (step 2) before the row goes.
CREATE TEMP TABLE pulse_v10_retired ON COMMIT DROP AS
SELECT DISTINCT i.shard
FROM pulse_monitor_inbox i
WHERE i.source IS NULL
  AND (SELECT count(*) FROM pulse_events e
       WHERE e.event_time = i.event_time AND e.event_id = i.event_id) > 1;
DELETE FROM pulse_monitor_inbox WHERE source IS NULL;
ALTER TABLE pulse_monitor_inbox ALTER COLUMN source SET NOT NULL;
ALTER TABLE pulse_monitor_inbox DROP CONSTRAINT pulse_monitor_inbox_pkey;
ALTER TABLE pulse_monitor_inbox ADD PRIMARY KEY (shard, event_time, source, event_id);

-- 2. The events each shard applied since its engine checkpoints (v9).
ALTER TABLE pulse_monitor_applied ADD COLUMN source text;
UPDATE pulse_monitor_applied a SET source = one.source
FROM (
    SELECT k.event_time, k.event_id, min(e.source) AS source
    FROM (SELECT DISTINCT event_time, event_id FROM pulse_monitor_applied) k
    JOIN pulse_events e ON e.event_time = k.event_time AND e.event_id = k.event_id
    GROUP BY k.event_time, k.event_id
    HAVING count(*) = 1
) one
WHERE a.event_time = one.event_time AND a.event_id = one.event_id;
INSERT INTO pulse_v10_retired (shard)
SELECT DISTINCT a.shard
FROM pulse_monitor_applied a
WHERE a.source IS NULL
  AND (SELECT count(*) FROM pulse_events e
       WHERE e.event_time = a.event_time AND e.event_id = a.event_id) > 1;
DELETE FROM pulse_monitor_applied WHERE source IS NULL;
DELETE FROM pulse_engine_checkpoints WHERE shard IN (SELECT shard FROM pulse_v10_retired);
DELETE FROM pulse_monitor_applied WHERE shard IN (SELECT shard FROM pulse_v10_retired);
UPDATE pulse_evaluation_shards SET checkpoint_generation = checkpoint_generation + 1
WHERE shard IN (SELECT shard FROM pulse_v10_retired);
ALTER TABLE pulse_monitor_applied ALTER COLUMN source SET NOT NULL;
ALTER TABLE pulse_monitor_applied DROP CONSTRAINT pulse_monitor_applied_pkey;
ALTER TABLE pulse_monitor_applied ADD PRIMARY KEY (shard, event_time, source, event_id);

-- 3. Late events, per contract (a contract's services may read several sources).
ALTER TABLE pulse_late_events ADD COLUMN source text;
UPDATE pulse_late_events l SET source = one.source
FROM (
    SELECT k.event_time, k.event_id, min(e.source) AS source
    FROM (SELECT DISTINCT event_time, event_id FROM pulse_late_events) k
    JOIN pulse_events e ON e.event_time = k.event_time AND e.event_id = k.event_id
    GROUP BY k.event_time, k.event_id
    HAVING count(*) = 1
) one
WHERE l.event_time = one.event_time AND l.event_id = one.event_id;
UPDATE pulse_late_events SET source = '' WHERE source IS NULL;
ALTER TABLE pulse_late_events ALTER COLUMN source SET NOT NULL;
ALTER TABLE pulse_late_events DROP CONSTRAINT pulse_late_events_pkey;
ALTER TABLE pulse_late_events ADD PRIMARY KEY (contract, source, event_id);

-- 4. The events themselves, last (the fills above look events up by version 9's key). The event
--    time stays first: a partitioned table (or hypertable) only enforces uniqueness over keys
--    that include its partitioning column.
ALTER TABLE pulse_events DROP CONSTRAINT pulse_events_pkey;
ALTER TABLE pulse_events ADD PRIMARY KEY (event_time, source, event_id);

COMMENT ON COLUMN pulse_events.event_id IS
    'CloudEvents id, unique within its source: an event is (source, event_id), and the primary '
    'key is (event_time, source, event_id). Deterministic for imported records (uuid5 of '
    'source, line and milestone), so a replay writes the same key.';
COMMENT ON COLUMN pulse_events.source IS
    'CloudEvents source: the system (and client) the event comes from. With event_id the '
    'event''s identity; with item_id the item''s.';
COMMENT ON COLUMN pulse_monitor_inbox.source IS
    'Source of the queued event: with event_time and event_id the key of its pulse_events row.';
COMMENT ON COLUMN pulse_monitor_inbox.event_id IS
    'Id of the queued event, within its source.';
COMMENT ON COLUMN pulse_monitor_applied.source IS 'Source of the applied event.';
COMMENT ON COLUMN pulse_monitor_applied.event_id IS 'Id of the applied event, within its source.';
COMMENT ON COLUMN pulse_late_events.source IS
    'Source of the late event (with event_id its identity). Empty only for rows recorded before '
    'schema version 10 whose event was no longer stored at the upgrade (source unknown).';
COMMENT ON COLUMN pulse_late_events.event_id IS
    'Id of the late event, within its source.';
