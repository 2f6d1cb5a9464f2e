"""One item's history as a *set* of events, and what it says over time.

The contract evaluation needs more than an item's current state: how many items were open at
each sample instant, what their priority was then, when they were reassigned. ``ItemHistory``
keeps the item's distinct events (keyed by event time and id, like ``pulse_events``) and
derives time-stamped views from them in the events' total order (time, producer sequence, id):

* ``open_spans``: when the item was open (its status, as ``outcome_pulse.processors.item_state``
  folds it, was one of the open statuses), as ``[start, end)`` spans, the last one possibly
  unbounded;
* ``priorities`` and ``due_dates``: the latest value as of any instant, as change points;
* ``reassignments``: the instants the assignee changed from one person or group to another;
* ``completions``: the instants the item stopped being open.

Every view depends only on the set of events, never on their arrival order, and the value of a
view at instant ``t`` depends only on the events at or before ``t``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar, cast

from outcome_pulse.processors.item_state import OPEN_STATUSES, STATUS_OF, Stamp, stamp_of
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind, Lifecycle

_OPENING = frozenset({Lifecycle.CREATED, Lifecycle.PLACED})

EventKey = tuple[datetime, str]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Span:
    """``[start, end)``; ``end`` None means still going."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChangePoints:
    """A value that changes at instants: ``value_at(t)`` is the latest value at or before ``t``."""

    at: tuple[datetime, ...] = ()
    values: tuple[object, ...] = ()

    def value_at(self, moment: datetime) -> object | None:
        index = bisect_right(self.at, moment)
        return None if index == 0 else self.values[index - 1]

    def segments(
        self, start: datetime, end: datetime | None
    ) -> list[tuple[datetime, datetime | None, object | None]]:
        """``(from, to, value)`` pieces of ``[start, end)`` with a constant value."""
        pieces: list[tuple[datetime, datetime | None, object | None]] = []
        current_from, current = start, self.value_at(start)
        for moment, value in zip(self.at, self.values, strict=True):
            if moment <= start:
                continue
            if end is not None and moment >= end:
                break
            if value != current:
                pieces.append((current_from, moment, current))
                current_from, current = moment, value
        pieces.append((current_from, end, current))
        return pieces


@dataclass(slots=True)
class ItemHistory:
    """The distinct events of one item (see the module doc). Mutable: ``add`` grows it."""

    source: str
    item_id: str
    kind: ItemKind
    events: dict[EventKey, tuple[ItemEvent, int]] = field(default_factory=dict)
    _cache: dict[Hashable, object] = field(default_factory=dict, repr=False)

    def add(self, event: ItemEvent, sequence: int = 0) -> bool:
        """Record an event; False (and no change) when one with its time and id is known."""
        key = (event.time, event.event_id)
        if key in self.events:
            return False
        self.events[key] = (event, sequence)
        self._cache.clear()
        return True

    # -- derived views (cached until the next add) ---------------------------------------------

    def _cached(self, name: Hashable, build: Callable[[], T]) -> T:
        if name not in self._cache:
            self._cache[name] = build()
        return cast(T, self._cache[name])

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """A view another module derives from the events (a KPI's clock timeline), built once
        and kept until the next ``add``; ``key`` names it (a tuple led by the module's name)."""
        return self._cached(key, build)

    def rederive(self, key: Hashable, build: Callable[[], T]) -> T:
        """Build the view ``derived`` keeps under ``key`` again, replacing what it held."""
        value = self._cache[key] = build()
        return value

    def ordered(self) -> list[tuple[Stamp, ItemEvent, int]]:
        def build() -> list[tuple[Stamp, ItemEvent, int]]:
            rows = [(stamp_of(e, seq), e, seq) for e, seq in self.events.values()]
            rows.sort(key=lambda row: row[0])
            return rows

        return self._cached("ordered", build)

    @property
    def first_event_at(self) -> datetime:
        return self.ordered()[0][1].time

    @property
    def opened_at(self) -> datetime:
        """The earliest created/placed event, else the earliest event."""

        def build() -> datetime:
            for _, event, _ in self.ordered():
                if event.lifecycle in _OPENING:
                    return event.time
            return self.first_event_at

        return self._cached("opened_at", build)

    def opened_by(self, moment: datetime) -> datetime | None:
        """When the item was opened, if that was at or before ``moment``."""
        opened = self.opened_at
        return opened if opened <= moment else None

    def open_spans(self) -> list[Span]:
        def build() -> list[Span]:
            spans: list[Span] = []
            ordered = self.ordered()
            open_from: datetime | None = ordered[0][1].time  # "open" until a status says else
            for _, event, _ in ordered:
                status = STATUS_OF.get(event.lifecycle)
                if status is None:
                    continue
                if status in OPEN_STATUSES:
                    if open_from is None:
                        open_from = event.time
                elif open_from is not None:
                    if event.time > open_from:
                        spans.append(Span(open_from, event.time))
                    open_from = None
            if open_from is not None:
                spans.append(Span(open_from))
            return spans

        return self._cached("open_spans", build)

    def completions(self) -> list[datetime]:
        return [span.end for span in self.open_spans() if span.end is not None]

    def _change_points(self, name: str) -> ChangePoints:
        def build() -> ChangePoints:
            at: list[datetime] = []
            values: list[object] = []
            for _, event, _ in self.ordered():
                value = getattr(event, name)
                if value is None:
                    continue
                if at and at[-1] == event.time:
                    values[-1] = value  # same instant: the later event in the total order wins
                else:
                    at.append(event.time)
                    values.append(value)
            return ChangePoints(tuple(at), tuple(values))

        return self._cached(name, build)

    @property
    def priorities(self) -> ChangePoints:
        return self._change_points("priority")

    @property
    def due_dates(self) -> ChangePoints:
        return self._change_points("due_at")

    def reassignments(self) -> list[datetime]:
        """Instants the assignee changed from one non-empty value to another."""

        def build() -> list[datetime]:
            changes: list[datetime] = []
            current: str | None = None
            for _, event, _ in self.ordered():
                if event.assignee is None:
                    continue
                if current is not None and event.assignee != current:
                    changes.append(event.time)
                current = event.assignee
            return changes

        return self._cached("reassignments", build)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.item_id)
