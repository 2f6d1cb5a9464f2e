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
from outcome_pulse.sinks.sql_text import statements

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


_SQL = statements("evidence", point_columns=", ".join(m.POINT_COLUMNS))


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
            version = conn.execute(_SQL["schema_version"]).fetchone()
            outcomes = [PeriodOutcome(*row) for row in conn.execute(m.SELECT_OUTCOMES, [contract])]
            revised = [RevisedRow(*row) for row in conn.execute(_SQL["revised"], [contract])]
            window_args = {"contract": contract, "lo": lo, "hi": hi, "sources": names}
            points = [IndicatorPoint(*row) for row in conn.execute(_SQL["points"], window_args)]
            late = [
                LateEvent(c, s, e, t, w, tuple(changed or ()))
                for c, s, e, t, w, changed in conn.execute(_SQL["late"], [contract])
            ]
            alerts = [AlertRecord(*row) for row in conn.execute(_SQL["alerts"], window_args)]
            events = [
                _item_event(row)
                for row in conn.execute(
                    _SQL["events_of_active_items"],
                    {"sources": names, "lo": items_from(outcomes), "hi": hi},
                )
            ]
            totals_row = conn.execute(_SQL["totals"], [names]).fetchone()
            quality_rows = conn.execute(
                _SQL["quality"], {**window_args, "zone": zone, "first": months[0].start}
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
