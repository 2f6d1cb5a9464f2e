"""``ContractEngine``: a contract evaluated incrementally over a growing set of events.

Same results as the reference evaluation (``outcome_pulse.processors.reference_evaluation``), which
re-derives every series and period from all events on each step; here a step costs what the
batch touches:

1. ``observe`` adds the events to their items' event sets (a duplicate changes nothing) and
   notes the items touched. The watermark is the latest event time minus the allowed lateness;
   an event older than the watermark when its batch arrives is *late* (still applied);
2. ``step`` swaps each touched item's contribution in its service's aggregators
   (``service.ServiceState.apply``), re-derives the series values from the first sample the
   changes reach (and the samples the grids gained), recomputes the period measures from the
   aggregators and settles them, and diffs all that against the rows it holds: the points whose
   value or finality changed (finality moves with the watermark), the outcomes that changed,
   the late events with the final rows they corrected, and the open clocks (read at the latest
   event time) when they changed.

The result depends only on the set of events (as the reference's does): the backtest and the
streaming monitor agree row for row.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime

from outcome_pulse.processors.contract import Contract, TimeToTargetKpi
from outcome_pulse.processors.engine.open_clocks import read_open_clocks
from outcome_pulse.processors.engine.results import (
    ClockKey,
    Evaluation,
    Observed,
    OutcomeKey,
    PointKey,
    Step,
)
from outcome_pulse.processors.engine.service import SeriesKey, SeriesTail, ServiceState
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind
from outcome_pulse.processors.measurements import (
    Delta,
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
    diff,
)
from outcome_pulse.processors.settlement import settle

_MAX_CHANGED_LISTED = 100


class _Stored:
    """One series as last emitted: its grid's instants and its values (None: no point)."""

    __slots__ = ("grid", "values")

    def __init__(self, grid: list[datetime], values: list[float | None]) -> None:
        self.grid = grid
        self.values = values


class ContractEngine:
    """Events in, indicator points and period outcomes out (see the module doc)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.lateness = contract.monitoring.lateness
        self._services: dict[tuple[str, ItemKind], ServiceState] = {
            (svc.source, svc.item_kind): ServiceState(sid, svc, contract)
            for sid, svc in contract.services.items()
        }
        self._touched: dict[tuple[str, ItemKind], set[str]] = {}
        self.max_time: datetime | None = None
        self.min_time: datetime | None = None
        self._series: dict[SeriesKey, _Stored] = {}
        self._outcomes: dict[OutcomeKey, PeriodOutcome] = {}
        self._clocks: dict[ClockKey, OpenClock] = {}
        self._mark: datetime | None = None  # the watermark the rows held were computed at

    # -- input -----------------------------------------------------------------------------------

    @property
    def watermark(self) -> datetime | None:
        return None if self.max_time is None else self.max_time - self.lateness

    def observe(self, events: Iterable[tuple[ItemEvent, int]]) -> Observed:
        """Add events (with their producer sequence numbers); see the module doc."""
        watermark = self.watermark
        new = duplicates = unmonitored = 0
        late: list[ItemEvent] = []
        for event, sequence in events:
            group = (event.source, event.kind)
            service = self._services.get(group)
            if service is None:
                unmonitored += 1
                continue
            history = service.history(event.source, event.item_id, event.kind)
            if not history.add(event, sequence):
                duplicates += 1
                continue
            new += 1
            self._touched.setdefault(group, set()).add(event.item_id)
            if watermark is not None and event.time < watermark:
                late.append(event)
            if self.max_time is None or event.time > self.max_time:
                self.max_time = event.time
            if self.min_time is None or event.time < self.min_time:
                self.min_time = event.time
        return Observed(new, duplicates, unmonitored, tuple(late), watermark)

    def step(self, events: Iterable[tuple[ItemEvent, int]]) -> Step:
        """Observe a batch and return what it changed since the previous step."""
        observed = self.observe(events)
        if not observed.new:
            return Step(observed, Delta((), ()), Delta((), ()), (), None)
        outcomes_before = self._outcomes
        clocks_before = self._clocks
        points, finals = self._advance()
        outcomes = diff(outcomes_before, self._outcomes)
        late: tuple[LateEvent, ...] = ()
        if observed.late:
            changed = [
                f"{o.kpi}@{o.period_start.isoformat()}"
                for o in outcomes.upserts
                if (old := outcomes_before.get(o.key)) is not None and old.final
            ]
            changed.extend(finals)
            late = tuple(
                LateEvent(
                    self.contract.contract,
                    event.event_id,
                    event.time,
                    observed.watermark or event.time,
                    tuple(changed[:_MAX_CHANGED_LISTED]),
                )
                for event in observed.late
            )
        clocks = None if self._clocks == clocks_before else tuple(self._clocks.values())
        return Step(observed, points, outcomes, late, clocks)

    def late_in(self, events: Iterable[tuple[ItemEvent, int]]) -> bool:
        """Whether stepping ``events`` now would report a late event (a new one behind the
        watermark). Lets a driver that only needs the final rows skip the steps in between."""
        watermark = self.watermark
        if watermark is None:
            return False
        for event, _ in events:
            if event.time >= watermark:
                continue
            service = self._services.get((event.source, event.kind))
            if service is None:
                continue
            history = service.items.get(event.item_id)
            if history is None or (event.time, event.event_id) not in history.events:
                return True
        return False

    def catch_up(self) -> None:
        """Bring the rows up to date with everything observed (the changes are not returned)."""
        if self._touched:
            self._advance()

    # -- memory bounded by open work ---------------------------------------------------------

    def compact(self) -> int:
        """Drop the event sets of items done with (see ``ServiceState.compact``): memory then
        grows with open work, not history. Returns how many items were compacted."""
        watermark = self.watermark
        if watermark is None:
            return 0
        self.catch_up()
        return sum(service.compact(watermark) for service in self._services.values())

    def missing_histories(self, events: Iterable[tuple[ItemEvent, int]]) -> list[tuple[str, str]]:
        """``(source, item_id)`` of the compacted items these events are for: the driver reads
        their stored events and passes them to ``restore`` before stepping the events."""
        missing: set[tuple[str, str]] = set()
        for event, _ in events:
            service = self._services.get((event.source, event.kind))
            if service is not None and event.item_id in service.compacted:
                missing.add((event.source, event.item_id))
        return sorted(missing)

    def restore(self, events: Iterable[tuple[ItemEvent, int]]) -> None:
        """Give compacted items their event sets back (events already applied before, so nothing
        is counted, stepped or changed; events of other items are ignored)."""
        histories: dict[tuple[tuple[str, ItemKind], str], ItemHistory] = {}
        for event, sequence in events:
            group = (event.source, event.kind)
            service = self._services.get(group)
            if service is None or event.item_id not in service.compacted:
                continue
            history = histories.get((group, event.item_id))
            if history is None:
                history = ItemHistory(event.source, event.item_id, event.kind)
                histories[(group, event.item_id)] = history
            history.add(event, sequence)
        for (group, item_id), history in histories.items():
            self._services[group].restore(item_id, history)

    def rebuild(self, events: Iterable[tuple[ItemEvent, int]]) -> Evaluation:
        """Observe events and evaluate everything; later steps diff against this."""
        self.observe(events)
        self._advance()
        return self.last

    def evaluate(self) -> Evaluation:
        """Bring the rows up to date with everything observed, and return them all."""
        self.catch_up()
        return self.last

    @property
    def last(self) -> Evaluation:
        """Every row as of the latest step."""
        contract, mark = self.contract.contract, self._mark
        points: dict[PointKey, IndicatorPoint] = {}
        for (service, kpi, indicator), stored in self._series.items():
            for at, value in zip(stored.grid, stored.values, strict=False):
                if value is not None:
                    final = mark is not None and at <= mark
                    points[(contract, service, kpi, indicator, at)] = IndicatorPoint(
                        contract, service, kpi, indicator, at, value, final
                    )
        return Evaluation(points, dict(self._outcomes), dict(self._clocks))

    def latest_points(self) -> list[IndicatorPoint]:
        """The newest point of every series (for gauges)."""
        newest: list[IndicatorPoint] = []
        mark = self._mark
        for (service, kpi, indicator), stored in self._series.items():
            for index in range(len(stored.values) - 1, -1, -1):
                value = stored.values[index]
                if value is not None:
                    at = stored.grid[index]
                    final = mark is not None and at <= mark
                    newest.append(
                        IndicatorPoint(
                            self.contract.contract, service, kpi, indicator, at, value, final
                        )
                    )
                    break
        return newest

    def latest_outcomes(self) -> list[PeriodOutcome]:
        """The newest period outcome of every KPI."""
        newest: dict[str, PeriodOutcome] = {}
        for outcome in self._outcomes.values():
            held = newest.get(outcome.kpi)
            if held is None or outcome.period_start > held.period_start:
                newest[outcome.kpi] = outcome
        return list(newest.values())

    def open_clocks_at(self, at: datetime) -> list[OpenClock]:
        """Every time-to-target clock open at instant ``at``, read then (see ``open_clocks``).

        Complete for instants after the watermark; items compacted since (``compact``) are
        left out of earlier instants (their clocks stopped before the watermark)."""
        out: list[OpenClock] = []
        for service in self._services.values():
            for kpi in service.kpis:
                if not isinstance(kpi, TimeToTargetKpi):
                    continue
                family = ("measured", kpi.id)
                items = [
                    service.items[item_id]
                    for item_id, contribution in sorted(service.contributions.items())
                    if item_id in service.items
                    and any(
                        start <= at and (end is None or at < end)
                        for start, end, _ in contribution.spans.get(family, ())
                    )
                ]
                out.extend(read_open_clocks(self.contract, service.service_id, kpi, items, at))
        return out

    # -- the incremental evaluation ----------------------------------------------------------

    def _advance(self) -> tuple[Delta[PointKey, IndicatorPoint], list[str]]:
        last = self.max_time
        touched, self._touched = self._touched, {}
        if last is None:
            return Delta((), ()), []
        old_mark, new_mark = self._mark, self.watermark
        self._mark = new_mark
        upserts: list[IndicatorPoint] = []
        deletes: list[PointKey] = []
        finals: list[str] = []
        measures = []
        clocks: dict[ClockKey, OpenClock] = {}
        for group, service in self._services.items():
            service.apply(touched.get(group, ()))
            tails = {tail.key: tail for tail in service.series(last)}
            for tail in tails.values():
                if tail.key not in self._series:
                    self._series[tail.key] = _Stored(tail.grid, [])
            for key, stored in self._series.items():
                if key[0] != service.service_id:
                    continue
                self._emit(
                    key, stored, tails.get(key), old_mark, new_mark, upserts, deletes, finals
                )
            measures.extend(service.measures(last, new_mark))
            for kpi in service.kpis:
                if isinstance(kpi, TimeToTargetKpi):
                    holders = sorted(service.open_clock_items[kpi.id])
                    items = [service.items[item_id] for item_id in holders]
                    for clock in read_open_clocks(
                        self.contract, service.service_id, kpi, items, last
                    ):
                        clocks[clock.key] = clock
        self._outcomes = {row.key: row for row in settle(self.contract, measures)}
        self._clocks = clocks
        return Delta(tuple(upserts), tuple(deletes)), finals

    def _emit(
        self,
        key: SeriesKey,
        stored: _Stored,
        tail: SeriesTail | None,
        old_mark: datetime | None,
        new_mark: datetime | None,
        upserts: list[IndicatorPoint],
        deletes: list[PointKey],
        finals: list[str],
    ) -> None:
        """Diff one series' new tail (and the watermark's move) against what it held."""
        contract = self.contract.contract
        service, kpi, indicator = key
        values = stored.values  # updated in place: only the tail is copied
        if tail is not None and tail.grid is not stored.grid:  # regridded: align by instant
            by_instant = dict(zip(stored.grid, values, strict=False))
            values = [by_instant.pop(at, None) for at in tail.grid]
            deletes.extend(
                (contract, service, kpi, indicator, at)
                for at, was in by_instant.items()
                if was is not None
            )
        grid = stored.grid if tail is None else tail.grid
        lo = len(values) if tail is None else tail.lo
        old_tail = values[lo:]
        if tail is not None:
            del values[lo:]
            values.extend(tail.values)
        flips = _flip_range(grid, old_mark, new_mark)
        ranges = flips if tail is None else _union(flips, range(lo, len(grid)))
        for index in ranges:
            at, value = grid[index], values[index]
            if index < lo:
                was = value  # below the tail: unchanged, only its finality may flip
            else:
                was = old_tail[index - lo] if index - lo < len(old_tail) else None
            final = new_mark is not None and at <= new_mark
            was_final = old_mark is not None and at <= old_mark
            if value is None:
                if was is not None:
                    deletes.append((contract, service, kpi, indicator, at))
                continue
            if value != was or final != was_final:
                upserts.append(IndicatorPoint(contract, service, kpi, indicator, at, value, final))
                if was_final and was is not None and value != was:
                    finals.append(f"{kpi or service}/{indicator}@{at.isoformat()}")
        stored.grid = grid
        stored.values = values


def _flip_range(grid: list[datetime], old: datetime | None, new: datetime | None) -> range:
    """Indices whose finality differs between watermarks ``old`` and ``new``."""
    if old == new:
        return range(0)
    if old is None or new is None:
        return range(len(grid))
    lo, hi = min(old, new), max(old, new)
    return range(bisect_right(grid, lo), bisect_right(grid, hi))


def _union(a: range, b: range) -> list[int] | range:
    """The indices of two ranges, ascending, each once."""
    if not a:
        return b
    if not b or (b.start <= a.start and a.stop <= b.stop):
        return b if b else a
    if a.stop < b.start:
        return [*a, *b]
    return range(min(a.start, b.start), max(a.stop, b.stop))


__all__ = ["ContractEngine"]
