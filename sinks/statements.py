"""The SQL the sinks run for every batch, and the column order the rows are built in.

DDL lives in ``sinks/sql/*.sql`` (applied once by ``outcome_pulse.sinks.schema``); these statements
run per write. Column lists are spelt once here so a row tuple, its COPY and its INSERT cannot drift
apart.

INSERT_EVENTS and INSERT_EVENT_ROW also queue every event they insert for the contract monitor
(``pulse_monitor_inbox``) and return the number inserted as their one row (not as rowcount).

The set-based statements (INSERT_EVENTS, UPSERT_STATES) read the staging table in primary-key
order: concurrent writers touching the same rows then take their row locks in the same order (no
deadlock between two workers during a rebalance), and events land roughly in time order, which
keeps the BRIN index tight.
"""

from __future__ import annotations

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

_EVENTS = ", ".join(EVENT_COLUMNS)
_STATES = ", ".join(STATE_COLUMNS)

# -- staging (once per connection; emptied by every COMMIT or ROLLBACK) -------------------------

CREATE_EVENT_STAGING = """
    CREATE TEMP TABLE IF NOT EXISTS pulse_events_staging
        (LIKE pulse_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
CREATE_STATE_STAGING = """
    CREATE TEMP TABLE IF NOT EXISTS pulse_item_states_staging
        (LIKE pulse_item_states INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
COPY_EVENTS = f"COPY pg_temp.pulse_events_staging ({_EVENTS}) FROM STDIN (FORMAT BINARY)"
COPY_STATES = f"COPY pg_temp.pulse_item_states_staging ({_STATES}) FROM STDIN (FORMAT BINARY)"

# -- from staging into the real tables ----------------------------------------------------------

# Each event new to pulse_events is queued for the contract monitor (pulse_monitor_inbox) by the
# same statement, so the two can never disagree; a duplicate queues nothing. The statement's one
# row is the number of events inserted: a data-modifying CTE runs to completion whether or not
# the outer query reads it, and counting ``ins`` (not the inbox rows) keeps the count right even
# if an inbox row outlived its event.
_QUEUE_INSERTED = """
    queued AS (
        INSERT INTO pulse_monitor_inbox (event_time, event_id)
        SELECT event_time, event_id FROM ins
        ON CONFLICT (event_time, event_id) DO NOTHING
    )
    SELECT count(*) FROM ins
"""

INSERT_EVENTS = f"""
    WITH ins AS (
        INSERT INTO pulse_events ({_EVENTS})
        SELECT {_EVENTS}
        FROM pg_temp.pulse_events_staging
        ORDER BY event_time, event_id
        ON CONFLICT (event_time, event_id) DO NOTHING
        RETURNING event_time, event_id
    ),
    {_QUEUE_INSERTED}
"""

# Monotonic: a row is only replaced by one that has folded in at least as many events, and only
# when something differs, so replaying a batch rewrites nothing (no dead tuples, no WAL).
_STATE_CONFLICT = """
    ON CONFLICT (item_id) DO UPDATE SET
        item_kind     = excluded.item_kind,
        source        = excluded.source,
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
"""

UPSERT_STATES = f"""
    INSERT INTO pulse_item_states ({_STATES})
    SELECT {_STATES}
    FROM pg_temp.pulse_item_states_staging
    ORDER BY item_id
    {_STATE_CONFLICT}
"""

# -- one row at a time (the benchmark's baseline only) -----------------------------------------

INSERT_EVENT_ROW = f"""
    WITH ins AS (
        INSERT INTO pulse_events ({_EVENTS})
        VALUES ({", ".join(["%s"] * len(EVENT_COLUMNS))})
        ON CONFLICT (event_time, event_id) DO NOTHING
        RETURNING event_time, event_id
    ),
    {_QUEUE_INSERTED}
"""
UPSERT_STATE_ROW = f"""
    INSERT INTO pulse_item_states ({_STATES})
    VALUES ({", ".join(["%s"] * len(STATE_COLUMNS))})
    {_STATE_CONFLICT}
"""

# -- checks and summaries ----------------------------------------------------------------------

SCHEMA_STATUS = """
    SELECT (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('pulse_events')),
           to_regclass('pulse_schema_version') IS NOT NULL
"""
SCHEMA_VERSION = "SELECT coalesce(max(version), 0) FROM pulse_schema_version"
COUNT_ROWS = """
    SELECT (SELECT count(*) FROM pulse_events),
           (SELECT count(*) FROM pulse_item_states)
"""
