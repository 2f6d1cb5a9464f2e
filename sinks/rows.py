"""A batch, prepared for the database: row tuples in the column order of
``outcome_pulse.sinks.statements``.

Pure functions, no I/O, so the batch rules are unit-tested without a server:

* one row per event, ``(event time, source, id)`` as ``pulse_events``' key (the first seen): the
  batch holds each event once however often Kafka redelivered it, and another source's event
  with the same id is another event (CloudEvents ids are unique only within their source);
* one state per item, the one with the highest ``event_count`` (the latest on a tie): a single
  ``INSERT ... ON CONFLICT DO UPDATE`` may not touch the same row twice, and the highest count
  is the state that folded in the most events;
* the UTC months the events fall in, for the monthly partitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from outcome_pulse.processors.lifecycle import parse_event_type
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.statements import STATE_COLUMNS

if TYPE_CHECKING:
    from outcome_pulse.sinks.stored_event import StoredEvent


def unique_events(events: Iterable[StoredEvent]) -> list[StoredEvent]:
    """The events with duplicates (same time, source and id) removed, first occurrence kept,
    order preserved."""
    seen: dict[tuple[datetime, str, str], StoredEvent] = {}
    for event in events:
        seen.setdefault((event.time, event.source, event.id), event)
    return list(seen.values())


def latest_states(states: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One state per item, ``(source, item_id)``: the highest ``event_count``, the later one on
    a tie.

    Sorted by (source, item id), the order the upsert takes its row locks in.
    """
    best: dict[tuple[str, str], Mapping[str, Any]] = {}
    for state in states:
        item = (state["source"], state["item_id"])
        current = best.get(item)
        if current is None or state["event_count"] >= current["event_count"]:
            best[item] = state
    return [best[item] for item in sorted(best)]


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s month in UTC (partition boundaries are UTC months)."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def months_of(events: Iterable[StoredEvent]) -> set[date]:
    return {month_of(event.time) for event in events}


def event_row(event: StoredEvent) -> tuple[Any, ...]:
    """The ``pulse_events`` row of one envelope (``EVENT_COLUMNS`` order)."""
    kind, lifecycle = _type_parts(event.type)
    data = event.data
    return (
        event.id,
        event.time,
        event.source,
        event.subject,
        kind,
        event.type,
        lifecycle,
        event.sequence,
        data.state,
        data.priority,
        getattr(data, "assignee", None),
        getattr(data, "due_at", None),
        dict(data.attributes),
    )


@lru_cache(maxsize=256)
def _type_parts(event_type: str) -> tuple[str, str]:
    """(item kind, lifecycle) of a validated ``type``; cached: a batch has a handful of types."""
    kind, lifecycle = parse_event_type(event_type)
    return kind.value, lifecycle.value


def state_tuple(state: Mapping[str, Any]) -> tuple[Any, ...]:
    """The ``pulse_item_states`` row of one ``item_state.state_row`` dict."""
    try:
        return tuple(state[column] for column in STATE_COLUMNS)
    except KeyError as exc:
        raise SinkError(
            f"item state {state.get('item_id')!r} has no {exc.args[0]!r}: "
            "states must be outcome_pulse.processors.item_state.state_row() dicts"
        ) from None


def rows_with_nul(events: Sequence[StoredEvent], states: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ids of events and items holding a NUL character, which PostgreSQL text cannot store.

    Only called to explain a rejected batch, so the happy path pays nothing for it.
    """
    found = [f"event {e.id!r}" for e in events if _has_nul(event_row(e))]
    found += [
        f"item {s.get('item_id')!r} of {s.get('source')!r}"
        for s in states
        if _has_nul(tuple(s.values()))
    ]
    return found


def _has_nul(values: Iterable[Any]) -> bool:
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            return True
        if isinstance(value, Mapping) and _has_nul([*value.keys(), *value.values()]):
            return True
    return False
