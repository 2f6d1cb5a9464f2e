-- One row per item: its current state folded from all its events (processors.item_state).
-- The sink's upsert only replaces a row with one of equal or higher event_count, so a stale
-- replay never moves an item backwards.
--
-- event_count is bigint although no item sees 2^31 events: the sink COPYs in binary, and
-- psycopg's binary int4 dumper wraps out-of-range Python ints silently (2^32 + 5 arrives as 5)
-- where its int8 dumper raises, so bigint turns a corrupt count into an error, not a wrong row.
CREATE TABLE pulse_item_states (
    item_id       text        PRIMARY KEY,
    item_kind     text        NOT NULL,
    source        text        NOT NULL,
    status        text        NOT NULL,
    state         text,
    priority      text,
    assignee      text,
    opened_at     timestamptz NOT NULL,
    resolved_at   timestamptz,
    closed_at     timestamptz,
    paused_since  timestamptz,
    due_at        timestamptz,
    last_event_at timestamptz NOT NULL,
    event_count   bigint      NOT NULL CHECK (event_count >= 0),
    attributes    jsonb       NOT NULL DEFAULT '{}'::jsonb
);
