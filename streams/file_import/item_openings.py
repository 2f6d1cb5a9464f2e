"""Each item's opening event (``created``), when an export has no row that says so.

Long exports rarely carry a "created" row: an audit log starts with the first update, and a
ServiceNow export carries the creation time in its own column (``opened_at``) on every row. This
module gives each item of a mapped file its opening event, without taking anything away from the
rows:

* with an ``opened_at`` time for the item (the earliest its rows carry): a new opening event at
  that time, ordered before the item's rows of the same instant;
* without one: the item's earliest row *is* the opening when its event is a plain
  ``state_changed`` (the opening event keeps its id, time, state and data); any other earliest
  row (already "Resolved", "On hold", assigned) keeps its own event, and a new opening event is
  added at the same instant, before it. Before this rule the earliest row was always replaced,
  so an item exported already resolved lost its resolution and its clock never stopped.

An item whose earliest event already is the opening lifecycle gets nothing more. Added events
have no ``state`` (their state is not the row's, which a clock may key on) and no assignee; they
carry the row's priority, due date and attributes. Their ids are ``uuid5`` of the row's event id,
so a replay of the same file gives the same ids.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from outcome_pulse.processors.lifecycle import Lifecycle, event_type
from outcome_pulse.streams.wire.events import EventEnvelope, build_envelope

# uuid5(NAMESPACE_URL, "urn:outcome-pulse:opening"); fixed forever, or replays change their ids.
OPENING_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:outcome-pulse:opening")


def add_opening_events(
    events: list[EventEnvelope],
    opening: Lifecycle,
    opened_at: dict[str, tuple[datetime, int]],
) -> list[EventEnvelope]:
    """``events`` (sorted by time, sequence) with each item's opening event; still sorted.

    ``opened_at`` maps an item id to its creation time (and the line it came from).
    """
    out = list(events)
    added: list[EventEnvelope] = []
    seen: set[str] = set()
    for index, envelope in enumerate(events):
        item = envelope.subject
        if item in seen:
            continue
        seen.add(item)
        if envelope.lifecycle is opening:
            continue
        known = opened_at.get(item)
        if known is None and envelope.lifecycle is Lifecycle.STATE_CHANGED:
            out[index] = envelope.model_copy(update={"type": event_type(envelope.kind, opening)})
            continue
        at = envelope.time if known is None else known[0]
        added.append(_opening_for(envelope, opening, at))
    if not added:
        return out
    out.extend(added)
    out.sort(key=lambda e: (e.time, e.sequence))
    return out


def _opening_for(first: EventEnvelope, opening: Lifecycle, at: datetime) -> EventEnvelope:
    data = first.data
    return build_envelope(
        event_id=str(uuid.uuid5(OPENING_NAMESPACE, first.id)),
        source=first.source,
        kind=first.kind,
        lifecycle=opening,
        time=at,
        item_id=first.subject,
        sequence=max(first.sequence - 1, 0),
        priority=data.priority,
        due_at=data.due_at,
        attributes=dict(data.attributes),
    )
