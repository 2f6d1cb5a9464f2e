"""Today's adapter: snapshots and settled cases from ``ItemHistory`` and the contract's KPIs.

The breach model only sees ``features.ClockSnapshot`` and ``features.SettledCase``. This module
builds them from what today's engine keeps (each item's events as a set, ``ItemHistory``; the
KPI's clock spec folded by ``outcome_pulse.processors.sla_clock``). Two kinds of item clocks are
forecast:

* ``time_to_target`` KPIs: the item's SLA clock in business time against the target of its
  priority at the instant; settled by the next stop of the clock (met or missed against the
  target of the priority then, exactly as ``clock_measures.Resolution``);
* ``ratio`` KPIs whose good events are the total events ``on_time`` (delivered by the due date):
  a deadline clock in wall-clock time from the item's opening to its due date as known at the
  instant; settled by the first total event (late when after the due date then).

Everything read "at ``t``" uses only events at or before ``t``: the clock's running spans up to
``t``, the priority, due date, attributes, pauses and reassignments as of ``t``, the service's
backlog and arrivals up to ``t``. A clock is never forecast before its start or after its stop.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.calendar import BusinessCalendar
from outcome_pulse.processors.clock_measures import (
    clock_timeline,
    contract_measures,
    read_open_clock,
)
from outcome_pulse.processors.contract import Contract, KpiBase, RatioKpi, TimeToTargetKpi
from outcome_pulse.processors.forecast.features import (
    ClockSnapshot,
    LoadReader,
    ServiceLoad,
    SettledCase,
)
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.sla_clock import ClockAction, RunningSpan

_DAY = timedelta(days=1)
_ZERO = timedelta(0)

TRAINING_AGES: tuple[timedelta, ...] = tuple(
    timedelta(hours=h) for h in (0.02, 1, 4, 8, 16, 24, 48, 96, 192, 384, 720)
)
"""Ages after opening (wall clock) at which each item's clock is sampled for learning."""


class ServiceLoadIndex:
    """Backlog and arrivals of one service at any instant, from its items' open spans."""

    def __init__(self, items: Iterable[ItemHistory]) -> None:
        starts: list[datetime] = []
        ends: list[datetime] = []
        opened: list[datetime] = []
        for item in items:
            opened.append(item.opened_at)
            for span in item.open_spans():
                starts.append(span.start)
                if span.end is not None:
                    ends.append(span.end)
        self.starts, self.ends, self.opened = sorted(starts), sorted(ends), sorted(opened)

    def at(self, moment: datetime) -> ServiceLoad:
        backlog = bisect.bisect_right(self.starts, moment) - bisect.bisect_right(self.ends, moment)
        arrivals = bisect.bisect_right(self.opened, moment) - bisect.bisect_right(
            self.opened, moment - _DAY
        )
        return ServiceLoad(backlog, arrivals)

    def arrival_times(self) -> list[datetime]:
        return self.opened


def forecastable(kpi: KpiBase) -> bool:
    """Whether the KPI measures per-item clocks the breach model can forecast."""
    if isinstance(kpi, TimeToTargetKpi):
        return True
    return (
        isinstance(kpi, RatioKpi)
        and kpi.good.on_time is True
        and set(kpi.good.events) == set(kpi.total.events)
        and kpi.total.on_time is None
    )


class ItemClock:
    """One item's clock for one KPI, readable at any instant (see the module doc)."""

    def __init__(
        self,
        contract: Contract,
        service: str,
        kpi: TimeToTargetKpi | RatioKpi,
        item: ItemHistory,
        load: LoadReader,
    ) -> None:
        self.contract, self.service, self.kpi, self.item, self.load = (
            contract,
            service,
            kpi,
            item,
            load,
        )
        self.zone = ZoneInfo(contract.client.time_zone)
        self._pauses: list[datetime] = []
        self._episodes: tuple[RunningSpan, ...] = ()
        self._spans: tuple[RunningSpan, ...] = ()
        self._settled: list[tuple[datetime, bool]] = []
        self._calendar: BusinessCalendar | None = None
        self._span_starts: list[datetime] = []
        self._used_before_on: dict[str, list[timedelta]] = {}
        self._targets: dict[str | None, float | None] = {}
        self._last_read: tuple[tuple[str, int], datetime, timedelta] | None = None
        if isinstance(kpi, TimeToTargetKpi):
            self._init_sla(kpi)
        else:
            self._init_deadline(kpi)
        self._reassignments = item.reassignments()
        self._attribute_times: list[datetime] = []
        self._attribute_values: list[tuple[tuple[str, str], ...]] = []
        current: dict[str, str] = {}
        for _, event, _ in item.ordered():
            if not event.attributes:
                continue
            current.update(event.attributes)
            frozen = tuple(sorted(current.items()))
            if self._attribute_times and self._attribute_times[-1] == event.time:
                self._attribute_values[-1] = frozen
            else:
                self._attribute_times.append(event.time)
                self._attribute_values.append(frozen)

    # -- construction ----------------------------------------------------------------------------

    def _init_sla(self, kpi: TimeToTargetKpi) -> None:
        self._calendar = self.contract.calendar_of(kpi)
        timeline = clock_timeline(self.item, kpi)
        self._episodes, self._spans = timeline.episodes, timeline.spans
        self._span_starts = [span.start for span in self._spans]
        self._pauses = sorted(
            event.time
            for _, event, _ in self.item.ordered()
            if ClockAction.PAUSE in kpi.clock.actions_for(event)
        )
        measures = contract_measures(self.item, kpi, self.contract)
        self._settled = [(r.at, not r.met) for r in measures.resolutions]
        self._retroactive = kpi.clock.retroactive_start

    def _init_deadline(self, kpi: RatioKpi) -> None:
        self._retroactive = False
        opened = self.item.opened_at
        first_total: datetime | None = None
        late = False
        for _, event, _ in self.item.ordered():
            if event.lifecycle in kpi.total.events:
                due = self.item.due_dates.value_at(event.time)
                due_at = due if isinstance(due, datetime) else event.due_at
                if due_at is None:
                    break  # no due date: not measured on time or late
                first_total, late = event.time, event.time > due_at
                break
        self._episodes = (RunningSpan(opened, first_total),)
        self._spans = self._episodes
        if first_total is not None:
            self._settled = [(first_total, late)]

    # -- reading ---------------------------------------------------------------------------------

    def is_open(self, moment: datetime) -> bool:
        return any(e.start <= moment and (e.end is None or moment < e.end) for e in self._episodes)

    def _attributes_at(self, moment: datetime) -> tuple[tuple[str, str], ...]:
        index = bisect.bisect_right(self._attribute_times, moment)
        return () if index == 0 else self._attribute_values[index - 1]

    def open_between(self) -> tuple[datetime, datetime | None] | None:
        """From the first start to the last stop (None: still open), or None if never open."""
        if not self._episodes:
            return None
        return self._episodes[0].start, self._episodes[-1].end

    def snapshot(self, moment: datetime) -> ClockSnapshot | None:
        """The clock as known at ``moment``; None when not open then or not measured."""
        if not self.is_open(moment):
            return None
        read = self._read(moment)
        if read is None:
            return None
        status, elapsed, target = read
        priority = self.item.priorities.value_at(moment)
        local = moment.astimezone(self.zone)
        attributes = self._attributes_at(moment)
        return ClockSnapshot(
            service=self.service,
            kpi=self.kpi.id,
            item_id=self.item.item_id,
            at=moment,
            opened_at=self.item.opened_at,
            priority=None if priority is None else str(priority),
            status=status,
            elapsed_seconds=elapsed,
            target_seconds=target,
            pauses=bisect.bisect_right(self._pauses, moment),
            reassignments=bisect.bisect_right(self._reassignments, moment),
            load=self.load.at(moment),
            hour=local.hour,
            weekday=local.weekday(),
            attributes=attributes,
        )

    def _read(self, moment: datetime) -> tuple[str, float, float] | None:
        if isinstance(self.kpi, RatioKpi):
            due = self.item.due_dates.value_at(moment)
            if not isinstance(due, datetime) or due <= self.item.opened_at:
                return None
            elapsed = (moment - self.item.opened_at).total_seconds()
            return "running", elapsed, (due - self.item.opened_at).total_seconds()
        assert self._calendar is not None
        if self._retroactive:  # the start may move back once known: read the clock as it was
            reading = read_open_clock(self.item, self.kpi, self._calendar_for, moment)
            if reading is None:
                return None
            return (
                reading.status.value,
                reading.elapsed.total_seconds(),
                reading.target.total_seconds(),
            )
        priority = self.item.priorities.value_at(moment)
        target = self._target_for(None if priority is None else str(priority))
        if target is None:
            return None
        index = bisect.bisect_right(self._span_starts, moment) - 1
        if index < 0:
            return "paused", 0.0, target  # open but not started: nothing elapsed yet
        # The whole clock counts on the calendar of the priority at the instant (as
        # ``clock_measures.read_open_clock`` reads it).
        calendar = self._calendar_for(None if priority is None else str(priority))
        span = self._spans[index]
        running = span.end is None or moment < span.end
        end = moment if running or span.end is None else span.end
        # Readings at rising instants of one span (the sample grid) extend the previous one.
        last = self._last_read
        if last is not None and last[0] == (calendar.name, index) and last[1] <= end:
            in_span = last[2] + calendar.business_time_between(last[1], end)
        else:
            in_span = calendar.business_time_between(span.start, end)
        self._last_read = ((calendar.name, index), end, in_span)
        used = self._used_before(calendar)[index] + in_span
        return ("running" if running else "paused"), used.total_seconds(), target

    def _calendar_for(self, priority: str | None) -> BusinessCalendar:
        assert isinstance(self.kpi, TimeToTargetKpi)
        return self.contract.calendar_of(self.kpi, priority)

    def _used_before(self, calendar: BusinessCalendar) -> list[timedelta]:
        """Business time on ``calendar`` before each running span."""
        cached = self._used_before_on.get(calendar.name)
        if cached is None:
            cached, total = [], _ZERO
            for span in self._spans:
                cached.append(total)
                if span.end is not None:
                    total += calendar.business_time_between(span.start, span.end)
            self._used_before_on[calendar.name] = cached
        return cached

    def _target_for(self, priority: str | None) -> float | None:
        if priority not in self._targets:
            kpi = self.kpi
            target = kpi.target_for(priority) if isinstance(kpi, TimeToTargetKpi) else None
            self._targets[priority] = None if target is None else target.total_seconds()
        return self._targets[priority]

    def settlements(self) -> list[tuple[datetime, bool]]:
        """Every stop of the clock that was measured: when, and whether it breached."""
        return list(self._settled)

    def settlement_after(self, moment: datetime) -> tuple[datetime, bool] | None:
        """The next stop after ``moment`` and whether it breached (None: not settled yet)."""
        for at, breached in self._settled:
            if at > moment:
                return at, breached
        return None

    def settled_cases(self, ages: Sequence[timedelta] = TRAINING_AGES) -> Iterator[SettledCase]:
        """The item sampled at each training age while open and not yet breached, with how
        each sample's clock ended."""
        opened = self.item.opened_at
        for age in ages:
            moment = opened + age
            settled = self.settlement_after(moment)
            if settled is None:
                return
            snapshot = self.snapshot(moment)
            if snapshot is None or snapshot.breached:
                continue
            yield SettledCase(snapshot, settled[1], settled[0])


def forecastable_kpis(contract: Contract, service: str) -> list[TimeToTargetKpi | RatioKpi]:
    return [
        k
        for k in contract.kpis
        if k.service == service and forecastable(k) and isinstance(k, TimeToTargetKpi | RatioKpi)
    ]


def item_clocks(
    contract: Contract, service: str, items: Sequence[ItemHistory]
) -> Iterator[ItemClock]:
    """Every (item, forecastable KPI) clock of one service, in a fixed order."""
    kpis = forecastable_kpis(contract, service)
    if not kpis:
        return
    load = ServiceLoadIndex(items)
    for kpi in kpis:
        for item in sorted(items, key=lambda i: i.key):
            yield ItemClock(contract, service, kpi, item, load)


def all_item_clocks(
    contract: Contract, service_items: Mapping[str, Sequence[ItemHistory]]
) -> list[ItemClock]:
    return [
        clock
        for service in sorted(service_items)
        for clock in item_clocks(contract, service, service_items[service])
    ]


def settled_cases(clocks: Iterable[ItemClock]) -> list[SettledCase]:
    return sorted((c for clock in clocks for c in clock.settled_cases()), key=lambda c: c.order)
