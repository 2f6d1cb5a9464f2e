"""A baseline to negotiate from: what history says about targets, before there is a contract.

From the items' clocks (the same fold and calendars the evaluation uses,
``outcome_pulse.processors.clock_measures``):

* the distribution of business time to resolve, per item kind and priority (at each clock stop,
  the priority the item had then, as a time-to-target KPI judges it);
* for a candidate target per priority, the attainment each past month would have had: the share
  of that month's stops within the candidate, exactly what a ``time_to_target`` KPI with that
  target would measure (months in the client's time zone);
* suggested levels: the highest level that at least a chosen share of past months met (with
  confidence 80%, at least 80% of the judged months were at or above it).

Quantiles are nearest-rank, as the backlog-age indicators use.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.calendar import BusinessCalendar
from outcome_pulse.processors.clock_measures import clock_timeline
from outcome_pulse.processors.contract import TimeToTargetKpi
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.periods import calendar_period

QUANTILES = (0.5, 0.8, 0.9, 0.95)
NO_PRIORITY = "(none)"


@dataclass(frozen=True, slots=True)
class Resolved:
    """One clock stop: the item's kind and priority then, when, and the business time used."""

    kind: str
    priority: str
    item_id: str
    at: datetime
    elapsed: timedelta


@dataclass(frozen=True, slots=True)
class Distribution:
    kind: str
    priority: str
    count: int
    quantiles: tuple[tuple[float, timedelta], ...]
    longest: timedelta

    def at(self, q: float) -> timedelta:
        return dict(self.quantiles)[q]


@dataclass(frozen=True, slots=True)
class MonthAttainment:
    month: str
    measured: int
    good: int

    @property
    def attainment(self) -> float | None:
        return self.good / self.measured if self.measured else None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A candidate target for one kind and priority, and the months it would have had."""

    kind: str
    priority: str
    target: timedelta
    months: tuple[MonthAttainment, ...]
    minimum_volume: int

    def judged(self) -> list[float]:
        return [
            m.good / m.measured
            for m in self.months
            if m.measured and m.measured >= max(self.minimum_volume, 1)
        ]


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: str
    priority: str
    target: timedelta
    months_judged: int
    median: float | None
    worst: float | None
    target_level: float | None
    minimum_level: float | None


def resolutions(
    histories: Iterable[ItemHistory], kpi: TimeToTargetKpi, calendar: BusinessCalendar
) -> list[Resolved]:
    """Every stop of ``kpi``'s clock on ``calendar``, with the business time run up to it (the
    clock's running spans before the stop), whatever the item's priority: its targets are not
    used. Only stopped clocks are read, so no target has to be projected into the future."""
    out: list[Resolved] = []
    for history in histories:
        timeline = clock_timeline(history, kpi)
        for stop in timeline.stops:
            elapsed = timedelta(0)
            for span in timeline.spans:
                if span.start >= stop:
                    break
                end = stop if span.end is None or span.end > stop else span.end
                elapsed += calendar.business_time_between(span.start, end)
            priority = history.priorities.value_at(stop)
            out.append(
                Resolved(
                    history.kind.value,
                    NO_PRIORITY if priority is None else str(priority),
                    history.item_id,
                    stop,
                    elapsed,
                )
            )
    out.sort(key=lambda r: (r.at, r.item_id))
    return out


def nearest_rank(sorted_values: Sequence[timedelta], q: float) -> timedelta:
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def distributions(resolved: Iterable[Resolved]) -> list[Distribution]:
    groups: dict[tuple[str, str], list[timedelta]] = defaultdict(list)
    for r in resolved:
        groups[(r.kind, r.priority)].append(r.elapsed)
    out = []
    for (kind, priority), values in sorted(groups.items()):
        values.sort()
        out.append(
            Distribution(
                kind,
                priority,
                len(values),
                tuple((q, nearest_rank(values, q)) for q in QUANTILES),
                values[-1],
            )
        )
    return out


def month_label(moment: datetime, zone: ZoneInfo) -> str:
    return calendar_period(moment, "month", zone).label


def candidate(
    resolved: Iterable[Resolved],
    kind: str,
    priority: str,
    target: timedelta,
    zone: ZoneInfo,
    months: Sequence[str],
    minimum_volume: int = 20,
) -> Candidate:
    """Monthly attainment of ``target`` for one kind and priority over ``months``."""
    counts: dict[str, list[int]] = {month: [0, 0] for month in months}
    for r in resolved:
        if r.kind != kind or r.priority != priority:
            continue
        row = counts.setdefault(month_label(r.at, zone), [0, 0])
        row[0] += 1
        row[1] += r.elapsed <= target
    return Candidate(
        kind,
        priority,
        target,
        tuple(MonthAttainment(m, *counts[m]) for m in sorted(counts)),
        minimum_volume,
    )


def level_met_by(levels: Sequence[float], confidence: float) -> float | None:
    """The highest level that at least ``confidence`` of ``levels`` reach (None: no levels)."""
    if not levels:
        return None
    ordered = sorted(levels, reverse=True)
    k = max(1, math.ceil(confidence * len(ordered) - 1e-9))
    return ordered[k - 1]


def suggest(c: Candidate, confidence: float, minimum_confidence: float) -> Suggestion:
    judged = c.judged()
    ordered = sorted(judged)
    median = ordered[(len(ordered) - 1) // 2] if ordered else None
    return Suggestion(
        c.kind,
        c.priority,
        c.target,
        len(judged),
        median,
        ordered[0] if ordered else None,
        level_met_by(judged, confidence),
        level_met_by(judged, minimum_confidence),
    )


def default_candidates(dist: Distribution) -> list[timedelta]:
    """The p50, p80 and p90 business times, rounded up to whole hours (distinct, ascending)."""
    hours = sorted({max(1, math.ceil(dist.at(q).total_seconds() / 3600)) for q in (0.5, 0.8, 0.9)})
    return [timedelta(hours=h) for h in hours]


def months_between(first: datetime, last: datetime, zone: ZoneInfo) -> list[str]:
    months = []
    current = calendar_period(first, "month", zone)
    while current.start <= last:
        months.append(current.label)
        current = calendar_period(current.end, "month", zone)
    return months
