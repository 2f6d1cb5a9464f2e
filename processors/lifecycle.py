"""The lifecycle vocabulary shared by every item we measure: incidents, tickets and orders.

An ``ItemEvent`` is the domain view of one validated event: what happened (``lifecycle``) to
which item (``item_id``), when (``time``, timezone-aware UTC) and what the item looked like after
it (state, priority, assignee, attributes). The wire format (CloudEvents JSON) lives in
``outcome_pulse.streams.wire.events``; this module knows nothing about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache


class ItemKind(StrEnum):
    INCIDENT = "incident"
    TICKET = "ticket"
    ORDER = "order"


class Lifecycle(StrEnum):
    # incidents and tickets
    CREATED = "created"
    STATE_CHANGED = "state_changed"
    PRIORITY_CHANGED = "priority_changed"
    ASSIGNED = "assigned"
    PAUSED = "paused"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    # orders
    PLACED = "placed"
    APPROVED = "approved"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


WORK_ITEM_LIFECYCLE: frozenset[Lifecycle] = frozenset(
    {
        Lifecycle.CREATED,
        Lifecycle.STATE_CHANGED,
        Lifecycle.PRIORITY_CHANGED,
        Lifecycle.ASSIGNED,
        Lifecycle.PAUSED,
        Lifecycle.RESUMED,
        Lifecycle.RESOLVED,
        Lifecycle.CLOSED,
        Lifecycle.REOPENED,
    }
)
ORDER_LIFECYCLE: frozenset[Lifecycle] = frozenset(
    {
        Lifecycle.PLACED,
        Lifecycle.APPROVED,
        Lifecycle.SHIPPED,
        Lifecycle.DELIVERED,
        Lifecycle.CANCELLED,
    }
)
LIFECYCLE_BY_KIND: dict[ItemKind, frozenset[Lifecycle]] = {
    ItemKind.INCIDENT: WORK_ITEM_LIFECYCLE,
    ItemKind.TICKET: WORK_ITEM_LIFECYCLE,
    ItemKind.ORDER: ORDER_LIFECYCLE,
}

EVENT_TYPE_PREFIX = "pulse"


def event_type(kind: ItemKind, lifecycle: Lifecycle) -> str:
    """The CloudEvents ``type`` of a lifecycle event, e.g. ``pulse.incident.resolved``."""
    return f"{EVENT_TYPE_PREFIX}.{kind.value}.{lifecycle.value}"


@lru_cache(maxsize=256)  # called three times per envelope validated; there are ~40 valid types
def parse_event_type(value: str) -> tuple[ItemKind, Lifecycle]:
    """Split ``pulse.<kind>.<lifecycle>``; raise ValueError naming what is wrong."""
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != EVENT_TYPE_PREFIX:
        raise ValueError(f"expected 'pulse.<kind>.<lifecycle>', got {value!r}")
    try:
        kind = ItemKind(parts[1])
    except ValueError:
        kinds = ", ".join(k.value for k in ItemKind)
        raise ValueError(f"unknown item kind {parts[1]!r} (expected one of {kinds})") from None
    try:
        lifecycle = Lifecycle(parts[2])
    except ValueError:
        lifecycle = None
    if lifecycle is None or lifecycle not in LIFECYCLE_BY_KIND[kind]:
        allowed = ", ".join(sorted(x.value for x in LIFECYCLE_BY_KIND[kind]))
        raise ValueError(f"unknown {kind.value} event {parts[2]!r} (expected one of {allowed})")
    return kind, lifecycle


ALL_EVENT_TYPES: frozenset[str] = frozenset(
    event_type(kind, lc) for kind, lcs in LIFECYCLE_BY_KIND.items() for lc in lcs
)


@dataclass(frozen=True, slots=True)
class ItemEvent:
    """One validated lifecycle event, in domain terms."""

    event_id: str
    source: str
    item_id: str
    kind: ItemKind
    lifecycle: Lifecycle
    time: datetime
    state: str | None = None
    priority: str | None = None
    assignee: str | None = None
    due_at: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return event_type(self.kind, self.lifecycle)
