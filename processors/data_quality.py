"""How complete the input was: per source and period, events missing a priority or an assignee.

A credit computed on incidents that carry no priority is computed on a guess (they fall to the
default target, or are not measured at all), so the evidence report shows how many events lacked
what the contract keys on.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.periods import Period


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """Counts for one source over ``[start, end)``."""

    source: str
    start: datetime
    end: datetime
    events: int
    missing_priority: int
    missing_assignee: int

    @property
    def share_with_priority(self) -> float | None:
        return None if not self.events else 1 - self.missing_priority / self.events

    @property
    def share_with_assignee(self) -> float | None:
        return None if not self.events else 1 - self.missing_assignee / self.events


def source_quality(
    events: Iterable[ItemEvent], sources: Iterable[str], start: datetime, end: datetime
) -> list[SourceQuality]:
    """One ``SourceQuality`` per source in ``sources`` (sorted), over events in ``[start, end)``."""
    counts = {source: [0, 0, 0] for source in sources}
    for event in events:
        row = counts.get(event.source)
        if row is None or not start <= event.time < end:
            continue
        row[0] += 1
        row[1] += event.priority is None
        row[2] += event.assignee is None
    return [SourceQuality(source, start, end, *counts[source]) for source in sorted(counts)]


def monthly_quality(
    events: Iterable[ItemEvent], sources: Iterable[str], months: Sequence[Period]
) -> list[SourceQuality]:
    """``source_quality`` for each of ``months`` (consecutive periods), by month then source."""
    names = sorted(set(sources))
    starts = [m.start for m in months]
    counts = {(i, s): [0, 0, 0] for i in range(len(months)) for s in names}
    for event in events:
        index = bisect.bisect_right(starts, event.time) - 1
        if index < 0 or event.time >= months[index].end:
            continue
        row = counts.get((index, event.source))
        if row is None:
            continue
        row[0] += 1
        row[1] += event.priority is None
        row[2] += event.assignee is None
    return [
        SourceQuality(s, months[i].start, months[i].end, *counts[(i, s)])
        for i in range(len(months))
        for s in names
    ]
