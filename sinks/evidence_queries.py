"""Read-side queries for the evidence report (``pulse report`` from the database).

Everything is read in one REPEATABLE READ READ ONLY transaction, so the report's figures are one
consistent snapshot even while the monitor keeps writing. Datetimes come back in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from outcome_pulse.processors.data_quality import SourceQuality
from outcome_pulse.processors.evidence import AlertRecord, RevisedRow
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle
from outcome_pulse.processors.measurements import IndicatorPoint, LateEvent, PeriodOutcome
from outcome_pulse.processors.periods import Period
from outcome_pulse.sinks import monitor_statements as m
from outcome_pulse.sinks.pgerrors import translate

_KINDS = {kind.value: kind for kind in ItemKind}
_LIFECYCLES = {lifecycle.value: lifecycle for lifecycle in Lifecycle}


@dataclass(frozen=True, slots=True)
class EventTotals:
    events: int
    items: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True, slots=True)
class StoredEvidence:
    """What the database holds for one contract and one report window."""

    schema_version: int
    outcomes: list[PeriodOutcome]
    revised: list[RevisedRow]
    points: list[IndicatorPoint]
    late: list[LateEvent]
    alerts: list[AlertRecord]
    events: list[tuple[ItemEvent, int]]
    totals: EventTotals
    quality: list[SourceQuality]


_EVENTS_OF_ACTIVE_ITEMS = """
    SELECT e.event_id, e.source, e.item_id, e.item_kind, e.lifecycle, e.event_time,
           e.state, e.priority, e.assignee, e.due_at, e.attributes, e.sequence
    FROM pulse_events e
    WHERE e.source = ANY(%(sources)s::text[])
      AND (e.source, e.item_id) IN (
          SELECT DISTINCT source, item_id FROM pulse_events
          WHERE source = ANY(%(sources)s::text[])
            AND event_time >= %(lo)s AND event_time < %(hi)s)
    ORDER BY e.event_time, e.sequence, e.event_id, e.source
"""
_TOTALS = """
    SELECT count(*), count(DISTINCT (source, item_id)), min(event_time), max(event_time)
    FROM pulse_events WHERE source = ANY(%s::text[])
"""
_QUALITY = """
    SELECT source, date_trunc('month', event_time, %(zone)s), count(*),
           count(*) FILTER (WHERE priority IS NULL), count(*) FILTER (WHERE assignee IS NULL)
    FROM pulse_events
    WHERE source = ANY(%(sources)s::text[])
      AND event_time >= %(first)s AND event_time < %(hi)s
    GROUP BY 1, 2
"""
_POINTS = f"""
    SELECT {", ".join(m.POINT_COLUMNS)} FROM pulse_indicator_points
    WHERE contract = %(contract)s AND at >= %(lo)s AND at < %(hi)s
"""
_REVISED = """
    SELECT kpi, period_start, revision, updated_at FROM pulse_period_outcomes
    WHERE contract = %s AND revision > 1 ORDER BY kpi, period_start
"""
_LATE = """
    SELECT contract, source, event_id, event_time, watermark, changed FROM pulse_late_events
    WHERE contract = %s ORDER BY event_time, event_id, source
"""
_ALERTS = """
    SELECT alertname, severity, fired_at, resolved_at, service, kpi, item_id, value,
           coalesce(annotations ->> 'summary', '')
    FROM pulse_alerts
    WHERE contract = %(contract)s AND fired_at < %(hi)s
      AND (resolved_at IS NULL OR resolved_at >= %(lo)s)
    ORDER BY fired_at, alertname, item_id
"""


def read_evidence(
    dsn: str,
    contract: str,
    sources: Sequence[str],
    window: tuple[datetime, datetime],
    items_from: Callable[[list[PeriodOutcome]], datetime],
    months: Sequence[Period],
    zone: str,
) -> StoredEvidence:
    """The contract's rows for the report window ``[lo, hi)``, the histories of every item with
    an event in ``[items_from(outcomes), hi)``, and per source the completeness of its events in
    each of ``months`` (months in ``zone``, consecutive)."""
    lo, hi = window
    names = list(sources)
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            version = conn.execute("SELECT max(version) FROM pulse_schema_version").fetchone()
            outcomes = [PeriodOutcome(*row) for row in conn.execute(m.SELECT_OUTCOMES, [contract])]
            revised = [RevisedRow(*row) for row in conn.execute(_REVISED, [contract])]
            window_args = {"contract": contract, "lo": lo, "hi": hi, "sources": names}
            points = [IndicatorPoint(*row) for row in conn.execute(_POINTS, window_args)]
            late = [
                LateEvent(c, s, e, t, w, tuple(changed or ()))
                for c, s, e, t, w, changed in conn.execute(_LATE, [contract])
            ]
            alerts = [AlertRecord(*row) for row in conn.execute(_ALERTS, window_args)]
            events = [
                _item_event(row)
                for row in conn.execute(
                    _EVENTS_OF_ACTIVE_ITEMS,
                    {"sources": names, "lo": items_from(outcomes), "hi": hi},
                )
            ]
            totals_row = conn.execute(_TOTALS, [names]).fetchone()
            quality_rows = conn.execute(
                _QUALITY, {**window_args, "zone": zone, "first": months[0].start}
            ).fetchall()
            conn.rollback()
    except psycopg.Error as exc:
        raise translate(exc, f"reading the evidence of contract {contract}") from exc
    assert totals_row is not None
    counted = {(row[0], row[1]): row[2:] for row in quality_rows}
    quality = [
        SourceQuality(s, m.start, m.end, *(int(v) for v in counted.get((s, m.start), (0, 0, 0))))
        for m in months
        for s in sorted(names)
    ]
    return StoredEvidence(
        schema_version=int(version[0]) if version and version[0] is not None else 0,
        outcomes=outcomes,
        revised=revised,
        points=points,
        late=late,
        alerts=alerts,
        events=events,
        totals=EventTotals(int(totals_row[0]), int(totals_row[1]), totals_row[2], totals_row[3]),
        quality=quality,
    )


def _item_event(row: Sequence[Any]) -> tuple[ItemEvent, int]:
    (event_id, source, item_id, kind, lifecycle, time, state, priority, assignee, due_at) = row[:10]
    event = ItemEvent(
        event_id=event_id,
        source=source,
        item_id=item_id,
        kind=_KINDS[kind],
        lifecycle=_LIFECYCLES[lifecycle],
        time=time,
        state=state,
        priority=priority,
        assignee=assignee,
        due_at=due_at,
        attributes=row[10],
    )
    return event, int(row[11])


def describe_dsn(dsn: str) -> str:
    """``database pulse on 127.0.0.1:15432`` (no user, no password)."""
    parts = conninfo_to_dict(dsn)
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"
    return f"database {parts.get('dbname', '?')} on {where}"
