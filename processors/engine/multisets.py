"""The two aggregators every indicator is built on: a multiset of spans and one of instants.

Each holds the *contributions* of many items, each item's under its own key, so a changed item
retracts its old contribution (``retract``) and adds its new one (``add``) at a cost that grows
with the item, not with the history. Reads are range queries, so a recomputation of the values
at the sample instants from some instant on touches only the spans and instants that reach it:

* ``SpanMultiset.reaching(instant)``: the spans ``[start, end)`` still going at or after
  ``instant`` (``end`` None or later than it): the open work, and what ended since;
* ``InstantMultiset.between(lo, hi)``, ``count_before(t)``, ``count_through(t)``: instants (with
  a payload, e.g. a resolution's elapsed time) in a time range, by bisection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sortedcontainers import SortedList

# Entries are compared with 1-tuples (a time) to bisect, so typed loosely.
_SpanEntry = tuple[Any, ...]
_InstantEntry = tuple[Any, ...]

SpanElement = tuple[datetime, datetime | None, datetime | None]
"""``(start, end, opened)``: ``end`` None means still going; ``opened`` is the item's opening
time where the indicator needs it (backlog age), else None."""

InstantElement = tuple[datetime, tuple[object, ...]]
"""``(at, payload)``."""

_TICK = timedelta(microseconds=1)


class SpanMultiset:
    """Spans of many items (see the module doc)."""

    def __init__(self) -> None:
        # Bounded spans sorted by end: (end, start, owner, n, opened); unbounded by owner.
        self._bounded: SortedList[_SpanEntry] = SortedList()
        self._unbounded: dict[tuple[str, int], tuple[datetime, datetime | None]] = {}
        self._owned: dict[str, list[tuple[datetime, datetime, str, int, datetime | None]]] = {}
        self._owned_unbounded: dict[str, list[tuple[str, int]]] = {}

    def add(self, owner: str, spans: Sequence[SpanElement]) -> None:
        bounded = []
        unbounded = []
        for n, (start, end, opened) in enumerate(spans):
            if end is None:
                self._unbounded[(owner, n)] = (start, opened)
                unbounded.append((owner, n))
            else:
                entry = (end, start, owner, n, opened)
                self._bounded.add(entry)
                bounded.append(entry)
        if bounded:
            self._owned[owner] = bounded
        if unbounded:
            self._owned_unbounded[owner] = unbounded

    def retract(self, owner: str) -> None:
        for entry in self._owned.pop(owner, ()):
            self._bounded.remove(entry)
        for key in self._owned_unbounded.pop(owner, ()):
            del self._unbounded[key]

    def reaching(self, instant: datetime) -> list[SpanElement]:
        """Spans with ``end`` None or after ``instant``."""
        first = self._bounded.bisect_left((instant + _TICK,))
        out: list[SpanElement] = [
            (start, end, opened) for end, start, _, _, opened in self._bounded.islice(first)
        ]
        out.extend((start, None, opened) for start, opened in self._unbounded.values())
        return out

    def __len__(self) -> int:
        return len(self._bounded) + len(self._unbounded)


class InstantMultiset:
    """Instants of many items, each with a payload (see the module doc)."""

    def __init__(self) -> None:
        self._sorted: SortedList[_InstantEntry] = SortedList()  # (at, owner, n, payload)
        self._owned: dict[str, list[tuple[datetime, str, int, tuple[object, ...]]]] = {}

    def add(self, owner: str, instants: Iterable[InstantElement]) -> None:
        entries = [(at, owner, n, payload) for n, (at, payload) in enumerate(instants)]
        if entries:
            self._sorted.update(entries)
            self._owned[owner] = entries

    def retract(self, owner: str) -> None:
        for entry in self._owned.pop(owner, ()):
            self._sorted.remove(entry)

    def count_before(self, moment: datetime) -> int:
        """How many instants are earlier than ``moment``."""
        return int(self._sorted.bisect_left((moment,)))

    def count_through(self, moment: datetime) -> int:
        """How many instants are at or before ``moment``."""
        return int(self._sorted.bisect_left((moment + _TICK,)))

    def between(self, lo: datetime, hi: datetime) -> list[InstantElement]:
        """The instants in ``[lo, hi]``, in time order."""
        first = self._sorted.bisect_left((lo,))
        last = self._sorted.bisect_left((hi + _TICK,))
        return [(at, payload) for at, _, _, payload in self._sorted.islice(first, last)]

    def __len__(self) -> int:
        return len(self._sorted)


class CountedSpanMultiset(SpanMultiset):
    """A ``SpanMultiset`` that also answers how many spans contain any instant, by bisection
    (the open-backlog family: the breach model's backlog feature at an arbitrary instant)."""

    def __init__(self) -> None:
        super().__init__()
        self._starts: SortedList[datetime] = SortedList()
        self._ends: SortedList[datetime] = SortedList()

    def add(self, owner: str, spans: Sequence[SpanElement]) -> None:
        super().add(owner, spans)
        for start, end, _ in spans:
            self._starts.add(start)
            if end is not None:
                self._ends.add(end)

    def retract(self, owner: str) -> None:
        for end, start, _, _, _ in self._owned.get(owner, ()):
            self._starts.remove(start)
            self._ends.remove(end)
        for key in self._owned_unbounded.get(owner, ()):
            self._starts.remove(self._unbounded[key][0])
        super().retract(owner)

    def forget(self, owner: str) -> None:
        """Drop an owner's spans from the range queries (``reaching``) but keep them counted
        by ``count_containing`` (``ContractEngine.trim``: the load features read the backlog at
        any instant, however old; ``readd`` puts the spans back)."""
        SpanMultiset.retract(self, owner)

    def readd(self, owner: str, spans: Sequence[SpanElement]) -> None:
        """Undo ``forget``: the spans back in the range queries (they are counted already)."""
        SpanMultiset.add(self, owner, spans)

    def count_containing(self, instant: datetime) -> int:
        """How many spans ``[start, end)`` contain ``instant``."""
        return int(self._starts.bisect_right(instant)) - int(self._ends.bisect_right(instant))
