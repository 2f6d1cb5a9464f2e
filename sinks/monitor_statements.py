"""The column order of the contract monitor's rows, and its statements by name.

The SQL is in ``sinks/sql/dml/monitor.sql`` (run by ``outcome_pulse.sinks.monitor_store``).

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
from outcome_pulse.sinks.sql_text import statements

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

CLOCK_COLUMNS = tuple(f.name for f in fields(OpenClock))
POINT_STAGING = "pg_temp.pulse_indicator_points_staging"
OUTCOME_STAGING = "pg_temp.pulse_period_outcomes_staging"

_OUTCOME_VALUES = [c for c in OUTCOME_COLUMNS if c not in OUTCOME_KEY]
_SQL = statements(
    "monitor",
    point_columns=", ".join(POINT_COLUMNS),
    point_key=", ".join(POINT_KEY),
    outcome_columns=", ".join(OUTCOME_COLUMNS),
    outcome_key=", ".join(OUTCOME_KEY),
    outcome_set_values=", ".join(f"{c} = excluded.{c}" for c in _OUTCOME_VALUES),
    outcome_stored_values=", ".join(f"pulse_period_outcomes.{c}" for c in _OUTCOME_VALUES),
    outcome_excluded_values=", ".join(f"excluded.{c}" for c in _OUTCOME_VALUES),
    clock_columns=", ".join(CLOCK_COLUMNS),
    clock_params=", ".join(["%s"] * len(CLOCK_COLUMNS)),
)

LOCK_LEASE = _SQL["lock_lease"]
TAKE_LEASE = _SQL["take_lease"]
ALL_EVENTS = _SQL["all_events"]
ITEM_EVENTS = _SQL["item_events"]
READ_INBOX = _SQL["read_inbox"]
READ_INBOX_KEYS = _SQL["read_inbox_keys"]
DELETE_INBOX = _SQL["delete_inbox"]
CREATE_POINT_STAGING = _SQL["create_point_staging"]
CREATE_OUTCOME_STAGING = _SQL["create_outcome_staging"]
COPY_POINTS = _SQL["copy_points"]
COPY_OUTCOMES = _SQL["copy_outcomes"]
UPSERT_POINTS = _SQL["upsert_points"]
UPSERT_OUTCOMES = _SQL["upsert_outcomes"]
NO_NESTED_LOOPS = _SQL["no_nested_loops"]
NESTED_LOOPS_AGAIN = _SQL["nested_loops_again"]
DELETE_STALE_POINTS = _SQL["delete_stale_points"]
DELETE_STALE_OUTCOMES = _SQL["delete_stale_outcomes"]
DELETE_POINTS = _SQL["delete_points"]
DELETE_OUTCOMES = _SQL["delete_outcomes"]
INSERT_LATE_EVENT = _SQL["insert_late_event"]
SELECT_POINTS = _SQL["select_points"]
SELECT_OUTCOMES = _SQL["select_outcomes"]
DELETE_CLOCKS = _SQL["delete_clocks"]
INSERT_CLOCK = _SQL["insert_clock"]
SELECT_CLOCKS = _SQL["select_clocks"]
SET_WORK_MEM = _SQL["set_work_mem"]
PARTITION_PROGRESS = _SQL["partition_progress"]
RECORD_WATERMARK = _SQL["record_watermark"]
READ_CHECKPOINTS = _SQL["read_checkpoints"]
NEXT_CHECKPOINT_GENERATION = _SQL["next_checkpoint_generation"]
WRITE_CHECKPOINT = _SQL["write_checkpoint"]
CLEAR_APPLIED = _SQL["clear_applied"]
APPLIED_EVENTS = _SQL["applied_events"]
RECORDED_FRONTIERS = _SQL["recorded_frontiers"]
TRUNCATE_STAGING = {
    POINT_STAGING: _SQL["truncate_point_staging"],
    OUTCOME_STAGING: _SQL["truncate_outcome_staging"],
}
