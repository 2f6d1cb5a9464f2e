-- One row per accepted lifecycle event. Only values taken from the event itself: no ingestion
-- time, no Kafka offset, so a replay or a crash recovery writes byte-identical rows.
-- The primary key carries event_time because a partitioned table (or hypertable) can only
-- enforce uniqueness over keys that include its partitioning column.
CREATE TABLE pulse_events (
    event_id   text        NOT NULL,
    event_time timestamptz NOT NULL,
    source     text        NOT NULL,
    item_id    text        NOT NULL,
    item_kind  text        NOT NULL,
    event_type text        NOT NULL,
    lifecycle  text        NOT NULL,
    sequence   bigint      NOT NULL DEFAULT 0,
    state      text,
    priority   text,
    assignee   text,
    due_at     timestamptz,
    attributes jsonb       NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (event_time, event_id)
) /*partitioning*/;

-- An item's history in time order (drill-down panels, evidence reports).
CREATE INDEX pulse_events_item_time ON pulse_events (item_id, event_time);
