"""The column order the event sink's rows are built in, and its statements by name.

The SQL itself is in ``sinks/sql/dml/events.sql`` (what each statement does and why is written
there); DDL is in the migrations (``sinks/sql/v*_*.sql``, applied by
``outcome_pulse.sinks.schema``). Column lists are spelt once here and filled into the SQL, so a
row tuple, its COPY and its INSERT cannot drift apart.
"""

from __future__ import annotations

from outcome_pulse.sinks.sql_text import statements

EVENT_COLUMNS = (
    "event_id",
    "event_time",
    "source",
    "item_id",
    "item_kind",
    "event_type",
    "lifecycle",
    "sequence",
    "state",
    "priority",
    "assignee",
    "due_at",
    "attributes",
)
EVENT_TYPES = (
    "text",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "text",
    "int8",
    "text",
    "text",
    "text",
    "timestamptz",
    "jsonb",
)

STATE_COLUMNS = (
    "item_id",
    "item_kind",
    "source",
    "status",
    "state",
    "priority",
    "assignee",
    "opened_at",
    "resolved_at",
    "closed_at",
    "paused_since",
    "due_at",
    "last_event_at",
    "event_count",
    "attributes",
)
STATE_TYPES = (
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "int8",  # bigint: psycopg's binary int4 dumper wraps out-of-range values silently
    "jsonb",
)

_SQL = statements(
    "events",
    event_columns=", ".join(EVENT_COLUMNS),
    state_columns=", ".join(STATE_COLUMNS),
    event_params=", ".join(["%s"] * len(EVENT_COLUMNS)),
    state_params=", ".join(["%s"] * len(STATE_COLUMNS)),
)

CREATE_EVENT_STAGING = _SQL["create_event_staging"]
CREATE_STATE_STAGING = _SQL["create_state_staging"]
COPY_EVENTS = _SQL["copy_events"]
COPY_STATES = _SQL["copy_states"]
INSERT_EVENTS = _SQL["insert_events"]
UPSERT_STATES = _SQL["upsert_states"]
STORED_EVENTS_OF_IDS = _SQL["stored_events_of_ids"]
INSERT_EVENT_ROW = _SQL["insert_event_row"]
UPSERT_STATE_ROW = _SQL["upsert_state_row"]
SCHEMA_STATUS = _SQL["schema_status"]
SCHEMA_VERSION = _SQL["schema_version"]
COUNT_ROWS = _SQL["count_rows"]
EVENTS_PARTITIONED = _SQL["events_partitioned"]
RECORD_PARTITION_PROGRESS = _SQL["record_partition_progress"]
