"""The items behind a period's misses: which items a KPI counted against the target, and why.

A report that says "88% of incidents met their target" must be able to name the other 12%. For a
``time_to_target`` KPI a miss is a clock stop in the period whose business time exceeded the
target of the item's priority at the stop; its *timeline* is the clock's open episode that ended
there, cut into running and paused stretches (business time counts only while running). For a
``ratio`` KPI a miss is an event of the period selected by ``total`` but not by ``good`` (e.g. a
delivery after its due date).

These are re-derived from the item histories with the same clock fold
(``outcome_pulse.processors.clock_measures``) and selectors (``EventSelectorSpec.matches``) the
evaluation uses; ``check_against`` then insists that they add up to the period outcome's own
``measured`` and ``good`` counts, and raises ``EvidenceError`` when they do not, so a report can
never list misses that disagree with the money.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from outcome_pulse.processors.calendar import BusinessCalendar
from outcome_pulse.processors.clock_measures import CalendarFor, clock_timeline, measure_clock
from outcome_pulse.processors.contract import Contract, EventSelectorSpec, RatioKpi, TimeToTargetKpi
from outcome_pulse.processors.errors import EvidenceError
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.lifecycle import ItemEvent
from outcome_pulse.processors.measurements import PeriodOutcome
from outcome_pulse.processors.sla_clock import RunningSpan


@dataclass(frozen=True, slots=True)
class ClockStretch:
    """A piece of an item's open clock: ``running`` (counts) or ``paused`` (does not)."""

    state: str
    start: datetime
    end: datetime
    business: timedelta


@dataclass(frozen=True, slots=True)
class Miss:
    """One item counted against a KPI in a period.

    ``elapsed``/``target``: business time to the clock stop and the target (time_to_target);
    for ratio KPIs ``elapsed`` is how long after its due date the event came (``None`` when the
    item had no due date) and ``target`` is zero.
    """

    kpi: str
    item_id: str
    priority: str | None
    at: datetime
    elapsed: timedelta | None
    target: timedelta
    opened_at: datetime
    due_at: datetime | None = None
    stretches: tuple[ClockStretch, ...] = ()

    @property
    def overrun(self) -> float | None:
        """Elapsed over target (1.5 = 50% over); None when there is no target to compare."""
        if self.elapsed is None or self.target <= timedelta(0):
            return None
        return self.elapsed / self.target


@dataclass(frozen=True, slots=True)
class KpiMisses:
    """What one KPI counted in one period, item by item: totals and the misses."""

    kpi: str
    measured: int
    good: int
    misses: tuple[Miss, ...]

    def worst(self, n: int) -> list[Miss]:
        def badness(miss: Miss) -> tuple[float, float]:
            over = miss.overrun if miss.overrun is not None else 0.0
            late = miss.elapsed.total_seconds() if miss.elapsed is not None else 0.0
            return (-over, -late)

        return sorted(self.misses, key=lambda m: (*badness(m), m.item_id))[:n]


def build_histories(events: Iterable[tuple[ItemEvent, int]]) -> dict[tuple[str, str], ItemHistory]:
    """Each item's distinct events (by source and item id)."""
    histories: dict[tuple[str, str], ItemHistory] = {}
    for event, sequence in events:
        key = (event.source, event.item_id)
        history = histories.get(key)
        if history is None:
            history = histories[key] = ItemHistory(event.source, event.item_id, event.kind)
        history.add(event, sequence)
    return histories


def misses_in_period(
    contract: Contract,
    kpi: TimeToTargetKpi | RatioKpi,
    histories: Iterable[ItemHistory],
    start: datetime,
    end: datetime,
) -> KpiMisses:
    """The KPI's measured items and misses in ``[start, end)`` (see the module doc)."""
    service = contract.service_of(kpi)
    items = [
        h
        for h in histories
        if h.source == service.source and h.kind == service.item_kind and h.events
    ]
    items.sort(key=lambda h: h.item_id)
    if isinstance(kpi, TimeToTargetKpi):
        # per priority: a KPI may give P1/P2 a 24x7 calendar and the rest office hours
        return _clock_misses(
            kpi, lambda priority: contract.calendar_of(kpi, priority), items, start, end
        )
    return _ratio_misses(kpi, items, start, end)


def check_against(found: KpiMisses, outcome: PeriodOutcome) -> None:
    """Raise ``EvidenceError`` unless the items add up to the outcome's counts."""
    if found.measured != outcome.measured or found.good != outcome.good:
        raise EvidenceError(
            f"KPI {outcome.kpi}, period starting {outcome.period_start.isoformat()}: the items "
            f"behind the outcome add up to {found.measured} measured / {found.good} good, but "
            f"the evaluation says {outcome.measured} / {outcome.good}; refusing to report "
            "figures that disagree (a bug: please report it with the input)"
        )


def _clock_misses(
    kpi: TimeToTargetKpi,
    calendar: CalendarFor,
    items: Sequence[ItemHistory],
    start: datetime,
    end: datetime,
) -> KpiMisses:
    measured = good = 0
    misses: list[Miss] = []
    for item in items:
        resolutions = [
            r for r in measure_clock(item, kpi, calendar).resolutions if start <= r.at < end
        ]
        if not resolutions:
            continue
        timeline = None
        for resolution in resolutions:
            measured += 1
            if resolution.met:
                good += 1
                continue
            if timeline is None:
                timeline = clock_timeline(item, kpi)
            episode = next((e for e in timeline.episodes if e.end == resolution.at), None)
            stretches: tuple[ClockStretch, ...] = ()
            if episode is not None:
                stretches = _stretches(
                    timeline.spans, episode.start, resolution.at, calendar(resolution.priority)
                )
            misses.append(
                Miss(
                    kpi.id,
                    item.item_id,
                    resolution.priority,
                    resolution.at,
                    resolution.elapsed,
                    resolution.target,
                    item.opened_at,
                    stretches=stretches,
                )
            )
    return KpiMisses(kpi.id, measured, good, tuple(misses))


def _stretches(
    spans: Iterable[RunningSpan], begin: datetime, stop: datetime, calendar: BusinessCalendar
) -> tuple[ClockStretch, ...]:
    """Running spans of ``[begin, stop]`` and the paused gaps between them."""
    out: list[ClockStretch] = []
    cursor = begin
    for span in spans:
        s_start, s_end = span.start, span.end
        if s_start < begin or s_start >= stop:
            continue
        finish = stop if s_end is None or s_end > stop else s_end
        if s_start > cursor:
            out.append(
                ClockStretch(
                    "paused", cursor, s_start, calendar.business_time_between(cursor, s_start)
                )
            )
        out.append(
            ClockStretch(
                "running", s_start, finish, calendar.business_time_between(s_start, finish)
            )
        )
        cursor = finish
    if cursor < stop:
        out.append(
            ClockStretch("paused", cursor, stop, calendar.business_time_between(cursor, stop))
        )
    return tuple(out)


def _ratio_misses(
    kpi: RatioKpi, items: Sequence[ItemHistory], start: datetime, end: datetime
) -> KpiMisses:
    measured = good = 0
    misses: list[Miss] = []
    for item in items:
        for _, event, _ in item.ordered():
            if not start <= event.time < end:
                continue
            due = item.due_dates.value_at(event.time)
            due_at = due if isinstance(due, datetime) else None
            if not _selected(kpi.total, item, event, due_at):
                continue
            measured += 1
            if _selected(kpi.good, item, event, due_at):
                good += 1
                continue
            priority = item.priorities.value_at(event.time)
            misses.append(
                Miss(
                    kpi.id,
                    item.item_id,
                    None if priority is None else str(priority),
                    event.time,
                    None if due_at is None else event.time - due_at,
                    timedelta(0),
                    item.opened_at,
                    due_at=due_at,
                )
            )
    return KpiMisses(kpi.id, measured, good, tuple(misses))


def _selected(
    selector: EventSelectorSpec, item: ItemHistory, event: ItemEvent, due_at: datetime | None
) -> bool:
    priority = item.priorities.value_at(event.time)
    return selector.matches(
        event,
        opened_at=item.opened_by(event.time),
        due_at=due_at,
        priority=None if priority is None else str(priority),
    )
