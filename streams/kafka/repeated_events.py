"""An event id seen again for its item: a redelivery, or a conflicting copy (dead-lettered).

An event is ``(source, id)`` (README "Event identity"); a producer that sends the same pair
again says it is the same event. A redelivery (a retry, at-least-once after a crash, a webhook
and a poller seeing one change) carries the same content, and is absorbed: the item state
ignores an applied id (``processors/item_state``), the database keeps its stored row. A copy
whose *content differs* (another event time, type, state, priority, assignee, due date or
attributes) cannot be absorbed like that without a wrong figure: ``pulse_events`` is keyed by
(time, source, id), so a copy at another time would be stored and evaluated as a second event
while the item state counted one. Such a copy is a ``conflicting_duplicate`` dead letter naming
what differs; the first one stored is kept.

The check costs nothing for new events: only an event whose id its item has applied already
is compared, with an earlier copy in the same batch (here) or, at write time, with the stored
row (``EventSink.stored_events``: one query per batch that holds such events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.sinks.rows import event_row
from outcome_pulse.sinks.statements import EVENT_COLUMNS
from outcome_pulse.streams.wire.events import EventEnvelope

CONFLICTING_DUPLICATE = "conflicting_duplicate"

RepeatKey = tuple[str, str, str]
"""(source, item id, event id): where a repeated id is looked up (an item's stored events)."""

# What a copy must agree on with the stored event: everything the evaluation reads. Not the
# producer's sequence (a same-instant tie-break a retry may number anew) nor the stored
# item kind and lifecycle (both spelt by the type).
_COMPARED = ("event_time", "event_type", "state", "priority", "assignee", "due_at", "attributes")
_INDEX = {column: EVENT_COLUMNS.index(column) for column in _COMPARED}


def repeat_key(envelope: EventEnvelope) -> RepeatKey:
    return (envelope.source, envelope.subject, envelope.id)


def differences(envelope: EventEnvelope, stored: Sequence[Any]) -> list[str]:
    """The compared columns in which ``envelope`` differs from a stored row (``EVENT_COLUMNS``
    order), each as ``column: stored -> this copy``; empty for a true redelivery."""
    mine = event_row(envelope)
    found = []
    for column, index in _INDEX.items():
        theirs, ours = stored[index], mine[index]
        if theirs != ours:
            found.append(f"{column}: {_shown(theirs)} -> {_shown(ours)}")
    return found


def conflict(envelope: EventEnvelope, stored: Sequence[Any], where: str) -> InvalidRecord | None:
    """The dead-letter reason for a copy of an event ``where`` (``"stored"``, ``"earlier in
    this batch"``) that differs from it; None when it is the same event."""
    diffs = differences(envelope, stored)
    if not diffs:
        return None
    return InvalidRecord(
        CONFLICTING_DUPLICATE,
        f"event id {envelope.id!r} of source {envelope.source!r} (item {envelope.subject!r}) "
        f"names an event already {where} with other content ({'; '.join(diffs)}); an event "
        "id must name one event: the first copy is kept, this one is not applied",
    )


def stored_conflicts(
    repeats: Sequence[EventEnvelope], stored: Mapping[RepeatKey, Sequence[Sequence[Any]]]
) -> dict[int, InvalidRecord]:
    """Position in ``repeats`` -> its dead-letter reason, for each repeat whose item has a
    stored event of its id that differs (none stored: a redelivery of an event whose row was
    never written, stored now like a new one)."""
    out: dict[int, InvalidRecord] = {}
    for i, envelope in enumerate(repeats):
        rows = stored.get(repeat_key(envelope), ())
        if any(not differences(envelope, row) for row in rows):
            continue  # the same event is stored: a redelivery
        if rows:
            bad = conflict(envelope, rows[0], "stored")
            assert bad is not None
            out[i] = bad
    return out


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 120 else text[:120] + "\u2026"
