"""The SQL the contract monitor runs (``outcome_pulse.sinks.monitor_store``), and the column
order of its rows.

The column lists of ``pulse_indicator_points`` and ``pulse_period_outcomes`` are the fields of
``IndicatorPoint`` and ``PeriodOutcome``, in their order, so a row tuple, its COPY, its INSERT and
the dataclass built back from a SELECT cannot drift apart; adding a field without its PostgreSQL
type here fails at import.

Upserts only rewrite rows whose values differ (``IS DISTINCT FROM``): re-evaluating a contract
that did not change writes nothing. A change to a period outcome that was already final is a
correction and increments its ``revision``.
"""

from __future__ import annotations

from dataclasses import fields

from outcome_pulse.processors.measurements import IndicatorPoint, OpenClock, PeriodOutcome

_POINT_TYPES = {
    "contract": "text",
    "service": "text",
    "kpi": "text",
    "indicator": "text",
    "at": "timestamptz",
    "value": "float8",
    "final": "bool",
}
_OUTCOME_TYPES = {
    "contract": "text",
    "kpi": "text",
    "service": "text",
    "period": "text",
    "period_start": "timestamptz",
    "period_end": "timestamptz",
    "measured": "int8",
    "good": "int8",
    "baseline": "int8",
    "measure": "float8",
    "target_level": "float8",
    "minimum_level": "float8",
    "status": "text",
    "credit_due": "numeric",
    "credit": "numeric",
    "earned_back": "numeric",
    "gain_share": "numeric",
    "currency": "text",
    "final": "bool",
}

POINT_COLUMNS = tuple(f.name for f in fields(IndicatorPoint))
POINT_TYPES = tuple(_POINT_TYPES[column] for column in POINT_COLUMNS)
POINT_KEY = ("contract", "service", "kpi", "indicator", "at")
OUTCOME_COLUMNS = tuple(f.name for f in fields(PeriodOutcome))
OUTCOME_TYPES = tuple(_OUTCOME_TYPES[column] for column in OUTCOME_COLUMNS)
OUTCOME_KEY = ("contract", "kpi", "period_start")

_POINTS = ", ".join(POINT_COLUMNS)
_OUTCOMES = ", ".join(OUTCOME_COLUMNS)
_POINT_KEY = ", ".join(POINT_KEY)
_OUTCOME_KEY = ", ".join(OUTCOME_KEY)
_OUTCOME_VALUES = [c for c in OUTCOME_COLUMNS if c not in OUTCOME_KEY]

# -- the lease (one row, locked for the length of a tick) ---------------------------------------

LOCK_LEASE = "SELECT owner FROM pulse_monitor_lease WHERE id = 1 FOR UPDATE"
TAKE_LEASE = "UPDATE pulse_monitor_lease SET owner = %s, taken_at = now() WHERE id = 1"

# -- events --------------------------------------------------------------------------------------

# The ItemEvent fields, then the sequence (ItemEvent has none; it orders same-time events).
_EVENT_FIELDS = """
    e.event_id, e.source, e.item_id, e.item_kind, e.lifecycle, e.event_time,
    e.state, e.priority, e.assignee, e.due_at, e.attributes, e.sequence
"""
ALL_EVENTS = f"""
    SELECT {_EVENT_FIELDS}
    FROM pulse_events e
    WHERE e.source = ANY(%s::text[])
    ORDER BY e.event_time, e.sequence, e.event_id
"""
# The stored events of some items, given as two arrays (sources, item ids) of the same length.
ITEM_EVENTS = f"""
    SELECT {_EVENT_FIELDS}
    FROM pulse_events e
    JOIN unnest(%s::text[], %s::text[]) AS wanted(source, item_id)
      ON e.source = wanted.source AND e.item_id = wanted.item_id
    ORDER BY e.event_time, e.sequence, e.event_id
"""
# Oldest first (the primary key's order). LEFT JOIN: an inbox row whose event is gone (retention
# dropped its chunk) still comes back as a key, so ``done`` can clear it.
READ_INBOX = f"""
    SELECT i.event_time, i.event_id, {_EVENT_FIELDS}
    FROM (
        SELECT event_time, event_id FROM pulse_monitor_inbox
        ORDER BY event_time, event_id
        LIMIT %s
    ) i
    LEFT JOIN pulse_events e ON e.event_time = i.event_time AND e.event_id = i.event_id
    ORDER BY i.event_time, e.sequence, i.event_id
"""
DELETE_INBOX = """
    DELETE FROM pulse_monitor_inbox i
    USING unnest(%s::timestamptz[], %s::text[]) AS d(event_time, event_id)
    WHERE i.event_time = d.event_time AND i.event_id = d.event_id
"""

# -- staging (once per connection; emptied by every COMMIT or ROLLBACK) -------------------------

CREATE_POINT_STAGING = """
    CREATE TEMP TABLE IF NOT EXISTS pulse_indicator_points_staging
        (LIKE pulse_indicator_points) ON COMMIT DELETE ROWS
"""
CREATE_OUTCOME_STAGING = """
    CREATE TEMP TABLE IF NOT EXISTS pulse_period_outcomes_staging
        (LIKE pulse_period_outcomes INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
POINT_STAGING = "pg_temp.pulse_indicator_points_staging"
OUTCOME_STAGING = "pg_temp.pulse_period_outcomes_staging"
COPY_POINTS = f"COPY {POINT_STAGING} ({_POINTS}) FROM STDIN (FORMAT BINARY)"
COPY_OUTCOMES = f"COPY {OUTCOME_STAGING} ({_OUTCOMES}) FROM STDIN (FORMAT BINARY)"

# -- from staging into the real tables ----------------------------------------------------------

# Staged rows equal to the stored ones are filtered out before the upsert: ON CONFLICT would
# otherwise lock (and WAL-log) every conflicting row even when its WHERE then skips it, which is
# most of the rows when a takeover re-stages a whole contract. value and final are NOT NULL, so
# plain equality is exact (and NaN = NaN in PostgreSQL).
UPSERT_POINTS = f"""
    INSERT INTO pulse_indicator_points ({_POINTS})
    SELECT {_POINTS} FROM {POINT_STAGING} s
    WHERE NOT EXISTS (
        SELECT 1 FROM pulse_indicator_points p
        WHERE p.contract = s.contract AND p.service = s.service AND p.kpi = s.kpi
          AND p.indicator = s.indicator AND p.at = s.at
          AND p.value = s.value AND p.final = s.final
    )
    ORDER BY {_POINT_KEY}
    ON CONFLICT ({_POINT_KEY}) DO UPDATE SET
        value = excluded.value,
        final = excluded.final
    WHERE (pulse_indicator_points.value, pulse_indicator_points.final)
          IS DISTINCT FROM (excluded.value, excluded.final)
"""

UPSERT_OUTCOMES = f"""
    INSERT INTO pulse_period_outcomes ({_OUTCOMES})
    SELECT {_OUTCOMES} FROM {OUTCOME_STAGING}
    ORDER BY {_OUTCOME_KEY}
    ON CONFLICT ({_OUTCOME_KEY}) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in _OUTCOME_VALUES)},
        revision = pulse_period_outcomes.revision
                   + CASE WHEN pulse_period_outcomes.final THEN 1 ELSE 0 END,
        updated_at = now()
    WHERE ({", ".join(f"pulse_period_outcomes.{c}" for c in _OUTCOME_VALUES)})
          IS DISTINCT FROM ({", ".join(f"excluded.{c}" for c in _OUTCOME_VALUES)})
"""

# replace(): rows of the contract that the staged set does not hold. Planned with nested loops
# off: right after a bulk write the statistics of pulse_indicator_points can claim the contract
# has a handful of rows, and a nested loop over its 300,000 actual rows would scan the (unindexed)
# staging table once per row. A hash or merge anti join is linear whatever the estimates.
NO_NESTED_LOOPS = "SET LOCAL enable_nestloop = off"
NESTED_LOOPS_AGAIN = "SET LOCAL enable_nestloop TO DEFAULT"
DELETE_STALE_POINTS = f"""
    DELETE FROM pulse_indicator_points p
    WHERE p.contract = %s
      AND NOT EXISTS (
          SELECT 1 FROM {POINT_STAGING} s
          WHERE s.contract = p.contract AND s.service = p.service AND s.kpi = p.kpi
            AND s.indicator = p.indicator AND s.at = p.at
      )
"""
DELETE_STALE_OUTCOMES = f"""
    DELETE FROM pulse_period_outcomes o
    WHERE o.contract = %s
      AND NOT EXISTS (
          SELECT 1 FROM {OUTCOME_STAGING} s
          WHERE s.contract = o.contract AND s.kpi = o.kpi AND s.period_start = o.period_start
      )
"""

# write(): deletes by key, one array per key column.
DELETE_POINTS = """
    DELETE FROM pulse_indicator_points p
    USING unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
        AS d(contract, service, kpi, indicator, at)
    WHERE p.contract = d.contract AND p.service = d.service AND p.kpi = d.kpi
      AND p.indicator = d.indicator AND p.at = d.at
"""
DELETE_OUTCOMES = """
    DELETE FROM pulse_period_outcomes o
    USING unnest(%s::text[], %s::text[], %s::timestamptz[]) AS d(contract, kpi, period_start)
    WHERE o.contract = d.contract AND o.kpi = d.kpi AND o.period_start = d.period_start
"""

INSERT_LATE_EVENT = """
    INSERT INTO pulse_late_events (contract, event_id, event_time, watermark, changed)
    VALUES (%s, %s, %s, %s, %s::text[])
    ON CONFLICT (contract, event_id) DO NOTHING
"""

# -- reading back (tests, the CLI) ---------------------------------------------------------------

SELECT_POINTS = f"""
    SELECT {_POINTS} FROM pulse_indicator_points
    WHERE contract = %s
    ORDER BY {_POINT_KEY}
"""
SELECT_OUTCOMES = f"""
    SELECT {_OUTCOMES} FROM pulse_period_outcomes
    WHERE contract = %s
    ORDER BY {_OUTCOME_KEY}
"""

# -- open item clocks (v3): replaced as a whole per contract ----------------------------------

CLOCK_COLUMNS = tuple(f.name for f in fields(OpenClock))
_CLOCKS = ", ".join(CLOCK_COLUMNS)
DELETE_CLOCKS = "DELETE FROM pulse_open_item_clocks WHERE contract = %s"
INSERT_CLOCK = (
    f"INSERT INTO pulse_open_item_clocks ({_CLOCKS}) "
    f"VALUES ({', '.join(['%s'] * len(CLOCK_COLUMNS))})"
)
SELECT_CLOCKS = f"""
    SELECT {_CLOCKS} FROM pulse_open_item_clocks
    WHERE contract = %s
    ORDER BY kpi, item_id
"""
