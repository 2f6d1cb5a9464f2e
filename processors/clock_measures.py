"""What a time-to-target KPI measures on one item: its resolutions and its risk over time.

The item's clock transitions come from its events through the KPI's clock spec
(``ClockSpec.actions_for``) and are folded by ``outcome_pulse.processors.sla_clock``. From the
resulting timeline:

* every stop of the clock is one *resolution*: the business time elapsed up to the stop against
  the target of the item's priority at that moment (no target for that priority: not measured);
* while the clock is open (started or reopened, not stopped), the item is *past its risk share*
  once the elapsed time reaches ``at_risk_share`` of its target, *at risk* from then until the
  target is used up, and *breached* after that. These are spans of time, so a gauge read at any
  instant counts the items whose span contains it.

Time counts on the calendar of the item's priority at the moment measured (a KPI may give
P1/P2 a 24x7 calendar and P3/P4 office hours): a ``CalendarFor`` maps a priority to its calendar.
The elapsed business time is non-decreasing, so each threshold is crossed at most once per
priority segment; the crossing instant is found with ``BusinessCalendar.add_business_time``.
As in ``ClockReading``, an item whose elapsed time equals its target is at risk, not breached.
While the clock runs, the instant its target will be used up if it keeps running is constant over
each running span: that is the forecast counted by the ``breaches_forecast`` indicator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from outcome_pulse.processors.calendar import BusinessCalendar
from outcome_pulse.processors.contract import Contract, TimeToTargetKpi
from outcome_pulse.processors.item_history import ItemHistory, Span
from outcome_pulse.processors.sla_clock import (
    ClockReading,
    ClockTimeline,
    ClockTransition,
    RunningSpan,
    SlaClock,
    fold_transitions,
    read_timeline,
)

_ZERO = timedelta(0)
_TICK = timedelta(microseconds=1)

CalendarFor = Callable[[str | None], BusinessCalendar]
"""The calendar an item of a priority (None: no priority) counts its time on."""


def _priority(value: object | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Resolution:
    """One stop of an item's clock, measured against its target."""

    at: datetime
    elapsed: timedelta
    target: timedelta
    priority: str | None

    @property
    def met(self) -> bool:
        return self.elapsed <= self.target


@dataclass(frozen=True, slots=True)
class ItemClockMeasures:
    resolutions: tuple[Resolution, ...] = ()
    measured_open: tuple[Span, ...] = ()
    past_risk_share: tuple[Span, ...] = ()
    at_risk: tuple[Span, ...] = ()
    breached: tuple[Span, ...] = ()
    forecasts: tuple[tuple[Span, datetime], ...] = ()
    """While the clock runs: when the target will be used up if it keeps running."""


class _Elapsed:
    """Business time elapsed on a clock's running spans, and its inverse."""

    def __init__(self, spans: tuple[RunningSpan, ...], calendar: BusinessCalendar) -> None:
        self.spans = spans
        self.calendar = calendar
        self.before: list[timedelta] = []
        total = _ZERO
        for span in spans:
            self.before.append(total)
            if span.end is not None:
                total += calendar.business_time_between(span.start, span.end)

    def at(self, moment: datetime) -> timedelta:
        elapsed = _ZERO
        for span, before in zip(self.spans, self.before, strict=True):
            if span.start >= moment:
                break
            end = moment if span.end is None or span.end > moment else span.end
            elapsed = before + self.calendar.business_time_between(span.start, end)
        return elapsed

    def reaches(self, amount: timedelta) -> datetime | None:
        """The first instant the elapsed time reaches ``amount`` (None: it never does)."""
        for span, before in zip(self.spans, self.before, strict=True):
            if span.end is None:
                return self.calendar.add_business_time(span.start, amount - before)
            length = self.calendar.business_time_between(span.start, span.end)
            if before + length >= amount:
                return self.calendar.add_business_time(span.start, amount - before)
        return None


def _transitions(history: ItemHistory, kpi: TimeToTargetKpi) -> list[ClockTransition]:
    return [
        ClockTransition(event.time, action, sequence, event.event_id)
        for _, event, sequence in history.ordered()
        for action in kpi.clock.actions_for(event)
    ]


def _per_priority(calendar: CalendarFor | BusinessCalendar) -> CalendarFor:
    """A ``CalendarFor``; one calendar stands for every priority."""
    if isinstance(calendar, BusinessCalendar):
        return lambda _priority: calendar
    return calendar


def read_open_clock(
    history: ItemHistory,
    kpi: TimeToTargetKpi,
    calendar: CalendarFor | BusinessCalendar,
    now: datetime,
) -> ClockReading | None:
    """The item's clock read at ``now`` if it is open then and has a target (else None)."""
    calendar_for = _per_priority(calendar)
    priority = _priority(history.priorities.value_at(now))
    policy = kpi.policy_for(priority, calendar_for(priority))
    if policy is None:
        return None
    if history.ordered()[-1][1].time <= now:
        # Every transition is at or before ``now``: the clock folds to the timeline derived
        # once per change of the item (the engine reads its open clocks at the latest event).
        reading = read_timeline(policy, clock_timeline(history, kpi), now)
    else:
        clock = SlaClock(policy, history.opened_at, frozenset(_transitions(history, kpi)))
        reading = clock.read(now)
    return reading if reading.is_open else None


def clock_timeline(history: ItemHistory, kpi: TimeToTargetKpi) -> ClockTimeline:
    """The item's clock under ``kpi``'s clock spec, folded once per change of the item."""
    clock = kpi.clock

    def build() -> tuple[object, ClockTimeline]:
        transitions = _transitions(history, kpi)
        timeline = fold_transitions(
            transitions,
            opened_at=history.opened_at,
            retroactive_start=clock.retroactive_start,
        )
        return clock, timeline

    key = ("clock_timeline", id(clock))
    held, timeline = history.derived(key, build)
    if held is not clock:  # another spec once had that id (a checkpoint's cache)
        held, timeline = history.rederive(key, build)
    return timeline


def contract_measures(
    history: ItemHistory, kpi: TimeToTargetKpi, contract: Contract
) -> ItemClockMeasures:
    """``measure_clock`` on the contract's calendar of each priority (``Contract.calendar_of``),
    derived once per change of the item (the contribution and the breach model's clocks both
    read it)."""

    def calendar(priority: str | None) -> BusinessCalendar:
        return contract.calendar_of(kpi, priority)

    def build() -> tuple[object, object, ItemClockMeasures]:
        return kpi, contract, measure_clock(history, kpi, calendar)

    key = ("clock_measures", id(kpi), id(contract))
    held_kpi, held_contract, measures = history.derived(key, build)
    if held_kpi is not kpi or held_contract is not contract:  # ids reused (see above)
        held_kpi, held_contract, measures = history.rederive(key, build)
    return measures


def measure_clock(
    history: ItemHistory, kpi: TimeToTargetKpi, calendar: CalendarFor | BusinessCalendar
) -> ItemClockMeasures:
    """What ``kpi`` measures on the item; ``calendar``: per priority (``CalendarFor``, see
    ``ContractEvaluation.calendar_for``), or one calendar for every priority."""
    calendar_for = _per_priority(calendar)
    timeline = clock_timeline(history, kpi)
    if not timeline.episodes:
        return ItemClockMeasures()
    elapsed_on: dict[int, _Elapsed] = {}

    def on(priority: str | None) -> _Elapsed:
        calendar = calendar_for(priority)
        found = elapsed_on.get(id(calendar))
        if found is None:
            found = elapsed_on[id(calendar)] = _Elapsed(timeline.spans, calendar)
        return found

    priorities = history.priorities
    resolutions = []
    for stop in timeline.stops:
        priority = _priority(priorities.value_at(stop))
        target = kpi.target_for(priority)
        if target is not None:
            resolutions.append(Resolution(stop, on(priority).at(stop), target, priority))
    measured: list[Span] = []
    past: list[Span] = []
    risk: list[Span] = []
    breached: list[Span] = []
    forecasts: list[tuple[Span, datetime]] = []
    for index, span in enumerate(timeline.spans):
        for start, end, value in priorities.segments(span.start, span.end):
            priority = _priority(value)
            target = kpi.target_for(priority)
            if target is None or (end is not None and end <= start):
                continue
            elapsed = on(priority)
            calendar = elapsed.calendar
            before = elapsed.before[index]
            used = before + calendar.business_time_between(span.start, start)
            runs_out = calendar.add_business_time(start, max(target - used, _ZERO))
            forecasts.append((Span(start, end), runs_out))
    for episode in timeline.episodes:
        for start, end, value in priorities.segments(episode.start, episode.end):
            priority = _priority(value)
            target = kpi.target_for(priority)
            if target is None:
                continue
            elapsed = on(priority)
            measured.append(Span(start, end))
            risk_from = elapsed.reaches(target * kpi.at_risk_share)
            used_up = elapsed.reaches(target)
            # Breached once the elapsed time *exceeds* the target (as ClockReading says): at
            # the instant it is used up the item is still at risk, not breached.
            breach_at = None if used_up is None else used_up + _TICK
            _clip(past, risk_from, None, start, end)
            _clip(risk, risk_from, breach_at, start, end)
            _clip(breached, breach_at, None, start, end)
    return ItemClockMeasures(
        tuple(resolutions),
        tuple(measured),
        tuple(past),
        tuple(risk),
        tuple(breached),
        tuple(forecasts),
    )


def _clip(
    into: list[Span],
    begin: datetime | None,
    finish: datetime | None,
    start: datetime,
    end: datetime | None,
) -> None:
    """Append ``[begin, finish) ∩ [start, end)`` when not empty (``begin`` None: never)."""
    if begin is None:
        return
    lo = max(begin, start)
    hi = end if finish is None else (finish if end is None else min(finish, end))
    if hi is None or lo < hi:
        into.append(Span(lo, hi))
