"""The sink's batch rules, without a database: de-duplication, months, row shapes, retry class."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from outcome_pulse.processors.item_state import apply_event, state_row
from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.partitions import following_month, partition_name
from outcome_pulse.sinks.pgerrors import is_transient
from outcome_pulse.sinks.rows import (
    event_row,
    latest_states,
    month_of,
    months_of,
    rows_with_nul,
    state_tuple,
    unique_events,
)
from outcome_pulse.sinks.statements import EVENT_COLUMNS, EVENT_TYPES, STATE_COLUMNS, STATE_TYPES
from outcome_pulse.streams.wire.events import EventEnvelope, build_envelope

T0 = datetime(2012, 5, 31, 22, tzinfo=UTC)


def event(n: int, item: str = "INC1", **data: Any) -> EventEnvelope:
    return build_envelope(
        event_id=f"e{n}",
        source="unit",
        kind=ItemKind.INCIDENT,
        lifecycle=Lifecycle.CREATED if n == 0 else Lifecycle.ASSIGNED,
        time=T0 + timedelta(hours=n),
        item_id=item,
        assignee=None if n == 0 else f"a{n}",
        **data,
    )


def state(item: str, count: int, marker: str = "") -> dict[str, Any]:
    row = state_row(apply_event(None, event(0, item).to_item_event()))
    return {**row, "event_count": count, "assignee": marker or None}


def test_latest_states_keeps_the_highest_event_count_per_item() -> None:
    states = [
        state("B", 1),
        state("A", 3, "a3"),
        state("A", 5, "a5"),
        state("A", 4, "a4"),
        state("B", 2),
    ]
    kept = latest_states(states)
    assert [(s["item_id"], s["event_count"], s["assignee"]) for s in kept] == [
        ("A", 5, "a5"),
        ("B", 2, None),
    ]


def test_latest_states_prefers_the_later_of_equal_counts() -> None:
    kept = latest_states([state("A", 2, "first"), state("A", 2, "second")])
    assert [s["assignee"] for s in kept] == ["second"]


def test_latest_states_keeps_one_state_per_source_and_item() -> None:
    other = {**state("A", 1, "other source"), "source": "beta"}
    kept = latest_states([state("A", 3, "unit source"), other])
    assert [(s["source"], s["item_id"], s["assignee"]) for s in kept] == [
        ("beta", "A", "other source"),
        ("unit", "A", "unit source"),
    ]


def test_latest_states_of_nothing_is_nothing() -> None:
    assert latest_states([]) == []


def test_unique_events_drops_repeated_ids_and_keeps_order() -> None:
    a, b, c = event(0), event(1), event(2)
    assert [e.id for e in unique_events([b, a, b, c, a])] == ["e1", "e0", "e2"]


def test_unique_events_keeps_another_sources_event_of_the_same_id_and_time() -> None:
    a = event(0)
    twin = a.model_copy(update={"source": "beta"})
    later = a.model_copy(update={"time": a.time + timedelta(seconds=1)})
    kept = unique_events([a, twin, a, twin, later])
    assert [(e.source, e.id, e.time) for e in kept] == [
        ("unit", "e0", T0),
        ("beta", "e0", T0),
        ("unit", "e0", T0 + timedelta(seconds=1)),
    ]


def test_months_are_utc_months() -> None:
    assert month_of(datetime.fromisoformat("2012-05-31T23:30:00-02:00")) == date(2012, 6, 1)
    assert month_of(datetime.fromisoformat("2012-06-01T00:30:00+02:00")) == date(2012, 5, 1)
    assert months_of([event(0), event(1), event(3)]) == {date(2012, 5, 1), date(2012, 6, 1)}


def test_partition_names_and_month_arithmetic() -> None:
    assert partition_name(date(2006, 1, 1)) == "pulse_events_y2006m01"
    assert following_month(date(2015, 12, 1)) == date(2016, 1, 1)
    assert following_month(date(2015, 1, 1)) == date(2015, 2, 1)


def test_rows_follow_the_column_lists() -> None:
    assert len(EVENT_COLUMNS) == len(EVENT_TYPES) and len(STATE_COLUMNS) == len(STATE_TYPES)
    row = dict(zip(EVENT_COLUMNS, event_row(event(1, attributes={"k": "v"})), strict=True))
    assert row["event_id"] == "e1" and row["item_id"] == "INC1"
    assert (row["item_kind"], row["lifecycle"]) == ("incident", "assigned")
    assert row["event_type"] == "pulse.incident.assigned"
    assert row["event_time"].tzinfo is not None and row["attributes"] == {"k": "v"}
    assert row["due_at"] is None
    assert state_tuple(state("A", 1))[0] == "A"
    assert len(state_tuple(state("A", 1))) == len(STATE_COLUMNS)


def test_a_state_missing_a_column_is_a_sink_error() -> None:
    with pytest.raises(SinkError, match="item_kind"):
        state_tuple({"item_id": "A"})


def test_rows_with_nul_names_the_culprits() -> None:
    clean = event(1)
    dirty = clean.model_copy(update={"id": "bad", "subject": "x\x00"})
    states = [state("A", 1), {**state("B", 1), "attributes": {"k": "\x00"}}]
    assert rows_with_nul([clean, dirty], states) == ["event 'bad'", "item 'B' of 'unit'"]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (psycopg.OperationalError("connection failed: Connection refused"), True),
        (psycopg.OperationalError("consuming input failed: server closed the connection"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.OperationalError('connection failed: FATAL:  database "x" does not exist'), False),
        (psycopg.OperationalError("FATAL:  password authentication failed for user"), False),
        (psycopg.errors.CharacterNotInRepertoire("invalid byte sequence"), False),
        (psycopg.errors.UndefinedTable("relation does not exist"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_only_failures_unrelated_to_the_data_are_retried(
    error: BaseException, transient: bool
) -> None:
    assert is_transient(error) is transient
