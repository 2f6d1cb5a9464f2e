"""What one item contributes to its service's indicators and KPIs: its *contribution*.

An item's contribution is a handful of spans and instants per *family* (the open spans, the
completions, each time-to-target KPI's at-risk spans and resolutions, each selector's matching
events, ...), derived from the item's event set (``ItemHistory``) by the same functions the
reference evaluation uses, so each family's aggregate is exactly the reference's. When an item
changes, its old contribution is retracted and the new one added; ``changed_from`` tells from
which instant on the two differ, which bounds what must be recomputed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.calendar import BusinessCalendar
from outcome_pulse.processors.clock_measures import CalendarFor, contract_measures
from outcome_pulse.processors.contract import (
    Contract,
    DataQualityKpi,
    EventSelectorSpec,
    KpiBase,
    RatioKpi,
    ThresholdKpi,
    TimeToTargetKpi,
    TrendKpi,
)
from outcome_pulse.processors.engine.indicators.data_quality import quality_instants
from outcome_pulse.processors.engine.multisets import InstantElement, SpanElement
from outcome_pulse.processors.engine.risk_crossings import RiskCrossing, risk_crossings
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.periods import calendar_period

FamilyKey = tuple[str, ...]
_MICRO = timedelta(microseconds=1)

OPEN = "open"
OVERDUE = "overdue"
ARRIVALS: FamilyKey = ("arrivals",)
COMPLETIONS: FamilyKey = ("completions",)
REASSIGNMENTS: FamilyKey = ("reassignments",)
CLOCK_SPANS = ("measured", "past_risk", "at_risk", "breached", "forecast")


def open_family(priorities: Sequence[str] | None) -> FamilyKey:
    return (OPEN, *(sorted(priorities) if priorities is not None else ("*",)))


def overdue_family(priorities: Sequence[str] | None) -> FamilyKey:
    return (OVERDUE, *(sorted(priorities) if priorities is not None else ("*",)))


def clock_family(name: str, kpi_id: str) -> FamilyKey:
    return (name, kpi_id)


def selected_family(kpi_id: str, role: str) -> FamilyKey:
    return ("selected", kpi_id, role)


@dataclass(frozen=True, slots=True)
class FamilyPlan:
    """Which families one service needs, from its KPIs."""

    open_filters: tuple[tuple[str, ...] | None, ...]
    overdue_filters: tuple[tuple[str, ...] | None, ...]
    clock_kpis: tuple[TimeToTargetKpi, ...]
    selectors: tuple[tuple[FamilyKey, EventSelectorSpec], ...]
    quality_items: tuple[tuple[str, str], ...] = ()
    """``(field, period kind)`` of the ``data_quality`` KPIs counted over items."""

    @staticmethod
    def of(contract: Contract, kpis: Sequence[KpiBase], orders: bool) -> FamilyPlan:
        opens: list[tuple[str, ...] | None] = [None]
        # Every kind may carry due dates; the service's overdue backlog appears with the first.
        overdue: list[tuple[str, ...] | None] = [None]
        clocks: dict[str, TimeToTargetKpi] = {}
        selectors: list[tuple[FamilyKey, EventSelectorSpec]] = []
        quality_items = sorted(
            {
                (k.field, k.period.kind)
                for k in kpis
                if isinstance(k, DataQualityKpi) and k.of == "items"
            }
        )
        for kpi in kpis:
            if isinstance(kpi, TimeToTargetKpi):
                clocks[kpi.id] = kpi
            elif isinstance(kpi, RatioKpi):
                selectors.append((selected_family(kpi.id, "good"), kpi.good))
                selectors.append((selected_family(kpi.id, "total"), kpi.total))
            elif isinstance(kpi, TrendKpi):
                selectors.append((selected_family(kpi.id, "count"), kpi.count))
            elif isinstance(kpi, ThresholdKpi):
                prios = None if kpi.priorities is None else tuple(kpi.priorities)
                if kpi.gauge == "overdue_backlog":
                    if prios not in overdue:
                        overdue.append(prios)
                elif kpi.gauge == "items_at_risk":
                    clock = contract.kpi(str(kpi.clock_kpi))
                    assert isinstance(clock, TimeToTargetKpi)
                    clocks.setdefault(clock.id, clock)
                elif prios not in opens:
                    opens.append(prios)
        return FamilyPlan(
            tuple(opens),
            tuple(overdue),
            tuple(clocks.values()),
            tuple(selectors),
            tuple(quality_items),
        )


@dataclass(frozen=True, slots=True)
class Contribution:
    spans: dict[FamilyKey, tuple[SpanElement, ...]] = field(default_factory=dict)
    instants: dict[FamilyKey, tuple[InstantElement, ...]] = field(default_factory=dict)
    open_clocks: frozenset[str] = frozenset()
    """The time-to-target KPIs whose clock is open on this item at its latest event."""
    risk_crossings: dict[str, tuple[RiskCrossing, ...]] = field(default_factory=dict)
    """Per time-to-target KPI, when the item was at risk (``risk_crossings``; no aggregator)."""


def contribution_of(
    item: ItemHistory, plan: FamilyPlan, contract: Contract, zone: ZoneInfo
) -> Contribution:
    spans: dict[FamilyKey, tuple[SpanElement, ...]] = {}
    instants: dict[FamilyKey, tuple[InstantElement, ...]] = {}
    for prios in plan.open_filters:
        spans[open_family(prios)] = tuple(_open_spans(item, prios))
    for prios in plan.overdue_filters:
        spans[overdue_family(prios)] = tuple(_overdue_spans(item, prios))
    instants[ARRIVALS] = ((item.opened_at, ()),)
    instants[COMPLETIONS] = tuple((t, ()) for t in item.completions())
    instants[REASSIGNMENTS] = tuple((t, ()) for t in item.reassignments())
    instants.update(quality_instants(item, plan.quality_items, zone))
    open_clocks: set[str] = set()
    crossings: dict[str, tuple[RiskCrossing, ...]] = {}
    for kpi in plan.clock_kpis:
        m = contract_measures(item, kpi, contract)
        crossings[kpi.id] = risk_crossings(item, kpi, m)
        spans[clock_family("measured", kpi.id)] = tuple(
            (s.start, s.end, None) for s in m.measured_open
        )
        spans[clock_family("past_risk", kpi.id)] = tuple(
            (s.start, s.end, None) for s in m.past_risk_share
        )
        spans[clock_family("at_risk", kpi.id)] = tuple((s.start, s.end, None) for s in m.at_risk)
        spans[clock_family("breached", kpi.id)] = tuple((s.start, s.end, None) for s in m.breached)
        kind = "month" if kpi.period.is_rolling else kpi.period.kind
        forecast: list[SpanElement] = []
        for span, used_up in m.forecasts:
            begins = max(span.start, calendar_period(used_up, kind, zone).start)
            if span.end is None or begins < span.end:
                forecast.append((begins, span.end, None))
        spans[clock_family("forecast", kpi.id)] = tuple(forecast)
        instants[clock_family("resolutions", kpi.id)] = tuple(
            (r.at, (r.met, r.elapsed // _MICRO)) for r in m.resolutions
        )
        instants[clock_family("met", kpi.id)] = tuple((r.at, ()) for r in m.resolutions if r.met)
        if m.measured_open and m.measured_open[-1].end is None:
            open_clocks.add(kpi.id)
    for key, selector in plan.selectors:
        instants[key] = tuple((t, ()) for t in _selected(item, selector))
    return Contribution(spans, instants, frozenset(open_clocks), crossings)


def calendar_for(contract: Contract, kpi: TimeToTargetKpi) -> CalendarFor:
    """The calendar an item of each priority counts its time on, for ``kpi``."""

    def calendar(priority: str | None) -> BusinessCalendar:
        return contract.calendar_of(kpi, priority)

    return calendar


def _open_spans(item: ItemHistory, priorities: Sequence[str] | None) -> list[SpanElement]:
    out: list[SpanElement] = []
    opened = item.opened_at
    for span in item.open_spans():
        if priorities is None:
            out.append((span.start, span.end, opened))
            continue
        for start, end, value in item.priorities.segments(span.start, span.end):
            if value is not None and str(value) in priorities:
                out.append((start, end, opened))
    return out


def _overdue_spans(item: ItemHistory, priorities: Sequence[str] | None) -> list[SpanElement]:
    out: list[SpanElement] = []
    for span in item.open_spans():
        for start, end, due in item.due_dates.segments(span.start, span.end):
            if not isinstance(due, datetime):
                continue
            if priorities is not None and str(item.priorities.value_at(start)) not in priorities:
                continue
            lo = max(start, due)
            if end is None or lo < end:
                out.append((lo, end, None))
    return out


def _selected(item: ItemHistory, selector: EventSelectorSpec) -> list[datetime]:
    times: list[datetime] = []
    for _, event, _ in item.ordered():
        if event.lifecycle not in selector.events:
            continue
        priority = item.priorities.value_at(event.time)
        due = item.due_dates.value_at(event.time)
        if selector.matches(
            event,
            opened_at=item.opened_by(event.time),
            due_at=due if isinstance(due, datetime) else None,
            priority=None if priority is None else str(priority),
        ):
            times.append(event.time)
    return times


# -- where two contributions differ ----------------------------------------------------------


def spans_differ_from(old: Sequence[SpanElement], new: Sequence[SpanElement]) -> datetime | None:
    """The earliest instant covered differently by the two span lists (None: identical).

    Coverage is compared per ``opened`` value, so a changed opening time counts from the span's
    start, while a span that only ended (``[s, None)`` to ``[s, t)``) counts from ``t``.
    """
    if old == new:
        return None
    if not old:
        return min(start for start, _, _ in new)
    marks: Counter[tuple[datetime, datetime | None]] = Counter()
    for sign, spans in ((1, old), (-1, new)):
        for start, end, opened in spans:
            marks[(start, opened)] += sign
            if end is not None:
                marks[(end, opened)] -= sign
    running: Counter[datetime | None] = Counter()
    for (at, opened), delta in sorted(marks.items(), key=_by_time):
        if delta == 0:
            continue
        running[opened] += delta
        if running[opened] != 0:
            return at
    return None


def _by_time(entry: tuple[tuple[datetime, datetime | None], int]) -> datetime:
    return entry[0][0]


def instants_differ_from(
    old: Sequence[InstantElement], new: Sequence[InstantElement]
) -> datetime | None:
    """The earliest instant in one list and not the other (None: identical multisets)."""
    if old == new:
        return None
    if not old or not new:
        return min(at for at, _ in (old or new))
    common = min(len(old), len(new))
    if old[:common] == new[:common]:  # one extends the other (an item's new completion)
        return min(at for at, _ in (old[common:] or new[common:]))
    diff = (Counter(old) - Counter(new)) + (Counter(new) - Counter(old))
    return min((at for at, _ in diff), default=None)
