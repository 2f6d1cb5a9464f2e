"""The two aggregators every indicator is built on: a multiset of spans and one of instants.

Each holds the *contributions* of many items, each item's under its own key, so a changed item
swaps its old contribution for its new one (``replace``: only the entries that differ leave and
enter the sorted lists, usually the one span or instant its new event moved) at a cost that grows
with the change to the item, not with the history. Reads are range queries, so a recomputation
of the values at the sample instants from some instant on touches only the spans and instants
that reach it:

* ``SpanMultiset.reaching(instant)``: the spans ``[start, end)`` still going at or after
  ``instant`` (``end`` None or later than it): the open work, and what ended since;
* ``InstantMultiset.between(lo, hi)``, ``count_before(t)``, ``count_through(t)``: instants (with
  a payload, e.g. a resolution's elapsed time) in a time range, by bisection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sortedcontainers import SortedList

# Entries are compared with 1-tuples (a time) to bisect, so typed loosely.
_SpanEntry = tuple[Any, ...]
_InstantEntry = tuple[Any, ...]

SpanElement = tuple[datetime, datetime | None, datetime | None]
"""``(start, end, opened)``: ``end`` None means still going; ``opened`` is the item's opening
time where the indicator needs it (backlog age), else None."""

InstantElement = tuple[datetime, tuple[object, ...]]
"""``(at, payload)``."""

_T = TypeVar("_T")

_TICK = timedelta(microseconds=1)

_BoundedEntry = tuple[datetime, datetime, str, int, datetime | None]
"""``(end, start, owner, k, opened)``: the ``k``-th span of ``owner`` with those bounds."""
_UnboundedKey = tuple[str, datetime, datetime | None, int]
"""``(owner, start, opened, k)``."""
_OwnedInstant = tuple[datetime, str, int, tuple[object, ...]]
"""``(at, owner, k, payload)``: the ``k``-th instant of ``owner`` at ``at``."""


class _Deferred(Generic[_T]):
    """A ``SortedList`` whose insertions wait for the next read or removal and then go in as
    one ``update``: a rebuild, which adds every item's entries, sorts each family once instead
    of inserting its entries one by one (a round's few go in one by one, as before)."""

    __slots__ = ("_sorted", "_waiting")

    def __init__(self) -> None:
        self._sorted: SortedList[_T] = SortedList()
        self._waiting: list[_T] = []

    def add(self, value: _T) -> None:
        self._waiting.append(value)

    def update(self, values: Iterable[_T]) -> None:
        self._waiting.extend(values)

    def remove(self, value: _T) -> None:
        self._ready().remove(value)

    def bisect_left(self, value: Any) -> int:
        return int(self._ready().bisect_left(value))

    def bisect_right(self, value: Any) -> int:
        return int(self._ready().bisect_right(value))

    def islice(self, start: int | None = None, stop: int | None = None) -> Iterator[_T]:
        return iter(self._ready().islice(start, stop))

    def __len__(self) -> int:
        return len(self._sorted) + len(self._waiting)

    def _ready(self) -> SortedList[_T]:
        if self._waiting:
            self._sorted.update(self._waiting)
            self._waiting = []
        return self._sorted


class SpanMultiset:
    """Spans of many items (see the module doc).

    An item's entries are numbered among its spans of equal bounds (``k``: the first, second,
    ... span ``[start, end)``), so an entry names the same span in the old and the new
    contribution, and entries of one owner never tie before ``opened``."""

    def __init__(self) -> None:
        # Bounded spans sorted by end: (end, start, owner, k, opened); unbounded by key.
        self._bounded: _Deferred[_SpanEntry] = _Deferred()
        self._unbounded: dict[_UnboundedKey, tuple[datetime, datetime | None]] = {}
        self._owned: dict[str, list[_BoundedEntry]] = {}
        self._owned_unbounded: dict[str, list[_UnboundedKey]] = {}

    def add(self, owner: str, spans: Sequence[SpanElement]) -> None:
        bounded, unbounded = _span_entries(owner, spans)
        for key in unbounded:
            self._unbounded[key] = (key[1], key[2])
        self._bounded.update(bounded)
        self._hold(owner, bounded, unbounded)

    def retract(self, owner: str) -> None:
        for entry in self._owned.pop(owner, ()):
            self._bounded.remove(entry)
        for key in self._owned_unbounded.pop(owner, ()):
            del self._unbounded[key]

    def replace(self, owner: str, spans: Sequence[SpanElement]) -> None:
        """``retract(owner)`` then ``add(owner, spans)``, moving only the entries that differ."""
        bounded, unbounded = _span_entries(owner, spans)
        gone, new = _differ(self._owned.get(owner, ()), bounded)
        gone_open, new_open = _differ(self._owned_unbounded.get(owner, ()), unbounded)
        self._moved(gone, gone_open, new, new_open)
        for entry in gone:
            self._bounded.remove(entry)
        self._bounded.update(new)
        for key in gone_open:
            del self._unbounded[key]
        for key in new_open:
            self._unbounded[key] = (key[1], key[2])
        self._owned.pop(owner, None)
        self._owned_unbounded.pop(owner, None)
        self._hold(owner, bounded, unbounded)

    def _moved(
        self,
        gone: list[_BoundedEntry],
        gone_open: list[_UnboundedKey],
        new: list[_BoundedEntry],
        new_open: list[_UnboundedKey],
    ) -> None:
        """What ``replace`` takes out and puts in (a subclass's counts follow it)."""

    def _hold(
        self, owner: str, bounded: list[_BoundedEntry], unbounded: list[_UnboundedKey]
    ) -> None:
        if bounded:
            self._owned[owner] = bounded
        if unbounded:
            self._owned_unbounded[owner] = unbounded

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
        self._sorted: _Deferred[_InstantEntry] = _Deferred()  # (at, owner, k, payload)
        self._owned: dict[str, list[_OwnedInstant]] = {}

    def add(self, owner: str, instants: Iterable[InstantElement]) -> None:
        entries = _instant_entries(owner, instants)
        if entries:
            self._sorted.update(entries)
            self._owned[owner] = entries

    def retract(self, owner: str) -> None:
        for entry in self._owned.pop(owner, ()):
            self._sorted.remove(entry)

    def replace(self, owner: str, instants: Iterable[InstantElement]) -> None:
        """``retract(owner)`` then ``add(owner, instants)``, moving only the entries that differ."""
        entries = _instant_entries(owner, instants)
        gone, new = _differ(self._owned.pop(owner, ()), entries)
        for entry in gone:
            self._sorted.remove(entry)
        self._sorted.update(new)
        if entries:
            self._owned[owner] = entries

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
        self._starts: _Deferred[datetime] = _Deferred()
        self._ends: _Deferred[datetime] = _Deferred()

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

    def _moved(
        self,
        gone: list[_BoundedEntry],
        gone_open: list[_UnboundedKey],
        new: list[_BoundedEntry],
        new_open: list[_UnboundedKey],
    ) -> None:
        for end, start, _, _, _ in gone:
            self._starts.remove(start)
            self._ends.remove(end)
        for key in gone_open:
            self._starts.remove(key[1])
        for end, start, _, _, _ in new:
            self._starts.add(start)
            self._ends.add(end)
        for key in new_open:
            self._starts.add(key[1])

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


def _span_entries(
    owner: str, spans: Sequence[SpanElement]
) -> tuple[list[_BoundedEntry], list[_UnboundedKey]]:
    bounded: list[_BoundedEntry] = []
    unbounded: list[_UnboundedKey] = []
    seen: dict[tuple[datetime, datetime | None], int] = {}
    for start, end, opened in spans:
        k = seen.get((start, end), 0)
        seen[start, end] = k + 1
        if end is None:
            unbounded.append((owner, start, opened, k))
        else:
            bounded.append((end, start, owner, k, opened))
    return bounded, unbounded


def _instant_entries(owner: str, instants: Iterable[InstantElement]) -> list[_OwnedInstant]:
    entries: list[_OwnedInstant] = []
    seen: dict[datetime, int] = {}
    for at, payload in instants:
        k = seen.get(at, 0)
        seen[at] = k + 1
        entries.append((at, owner, k, payload))
    return entries


def _differ(old: Sequence[_T], new: Sequence[_T]) -> tuple[list[_T], list[_T]]:
    """The entries of ``old`` not in ``new`` and of ``new`` not in ``old`` (each list's entries
    are distinct)."""
    if not old:
        return [], list(new)
    kept = set(new)
    before = set(old)
    return [e for e in old if e not in kept], [e for e in new if e not in before]
