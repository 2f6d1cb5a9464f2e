"""The data-quality indicators: how complete a service's input is, per slice
``(previous sample, sample]``: the events received, and the shares of them missing a priority or
an assignee (``share_missing_priority``, ``share_missing_assignee``; no value in a slice without
events).

An event *carries* a field when its ``priority`` (``assignee``) is set, as the event says, not as
inherited from earlier events of the item (that is what a credit computed on it relies on). An
item carries it when one of its events before the end of the month (quarter) it was opened in
does, so a period's measure is final once the watermark passes the period's end. Additive: each
item's contribution is the times of its events, of those carrying each field, and (for
``data_quality`` KPIs counted over items) the time it first carried the field, if that was
before its opening period ended. Dead letters
and late corrections are not indicators of the engine: see the README ("Data quality as a
KPI")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from outcome_pulse.processors.engine.indicators.flow import count_in_slices
from outcome_pulse.processors.engine.multisets import InstantElement, InstantMultiset
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.periods import calendar_period

FamilyKey = tuple[str, ...]

FIELDS = ("priority", "assignee")
EVENTS: FamilyKey = ("events",)


def events_with(field: str) -> FamilyKey:
    """The family of the events that carry ``field``."""
    return ("events_with", field)


ItemField = tuple[str, str]
"""``(field, period kind)``: a field counted over items, by the end of their opening period."""


def items_with(field: str, kind: str) -> FamilyKey:
    """The family of the opening times of the items that carry ``field`` on an event before
    the end of the ``kind`` period (month, quarter) they were opened in."""
    return ("items_with", field, kind)


def quality_families(item_fields: Sequence[ItemField]) -> list[FamilyKey]:
    return [EVENTS, *(events_with(f) for f in FIELDS), *(items_with(*f) for f in item_fields)]


def quality_instants(
    item: ItemHistory, item_fields: Sequence[ItemField], zone: ZoneInfo
) -> dict[FamilyKey, tuple[InstantElement, ...]]:
    """One item's contribution to the data-quality families (see the module doc)."""
    events = [event for _, event, _ in item.ordered()]
    out: dict[FamilyKey, tuple[InstantElement, ...]] = {
        EVENTS: tuple((event.time, ()) for event in events)
    }
    for field in FIELDS:
        out[events_with(field)] = tuple(
            (event.time, ()) for event in events if getattr(event, field) is not None
        )
    for field, kind in item_fields:
        at = carried_at(item, field, kind, zone)
        out[items_with(field, kind)] = () if at is None else ((at, ()),)
    return out


def carried_at(item: ItemHistory, field: str, kind: str, zone: ZoneInfo) -> datetime | None:
    """When ``item`` first carried ``field`` (not before its opening), if that was before the end
    of the ``kind`` period it was opened in; else None. The good instant of the item lies there,
    in its opening period, so a to-date point at ``t`` counts only what was known at ``t`` and
    stays final once the watermark has passed it."""
    ends = calendar_period(item.opened_at, kind, zone).end
    times = [e.time for _, e, _ in item.ordered() if getattr(e, field) is not None]
    if not times or min(times) >= ends:
        return None
    return max(min(times), item.opened_at)


def missing_shares(received: Sequence[int], carrying: Sequence[int]) -> list[float | None]:
    """The share of each slice's events missing the field (None: no events in the slice)."""
    return [(n - c) / n if n else None for n, c in zip(received, carrying, strict=True)]


def quality_series(
    grid: list[datetime], lo: int, instants: dict[FamilyKey, InstantMultiset]
) -> list[tuple[str, list[float | None]]]:
    received = count_in_slices(grid, lo, instants[EVENTS])
    out: list[tuple[str, list[float | None]]] = [("events", [float(n) for n in received])]
    for field in FIELDS:
        carrying = count_in_slices(grid, lo, instants[events_with(field)])
        out.append((f"share_missing_{field}", missing_shares(received, carrying)))
    return out
