"""A contract evaluated over a set of events: indicator series and period outcomes.

``ContractEvaluation`` is the one computation both drivers run. The backtest feeds it the events
of a file; the streaming monitor feeds it the events the pipeline stored. It keeps each item's
events as a set (``ItemHistory``) and evaluates from those sets, so the result depends only on
*which* events it has seen: not their order, not how often. That is what makes the backtest and
the streaming pipeline agree exactly, also on shuffled and duplicated input.

Event time drives everything. The *watermark* is the latest event time seen minus the contract's
allowed lateness. Rows at or before the watermark are ``final``. An event older than the
watermark when it arrives is *late beyond the allowed lateness*: it is still applied (nothing is
lost), reported as a ``LateEvent`` naming the final rows it corrected, and counted.

Series are sampled on event-time grids (``outcome_pulse.processors.periods``): the service
indicators on the contract's ``monitoring.sample_every`` grid, each threshold KPI's gauge on its own
``sample_every`` grid. Counts of items in a state (open, overdue, at risk) at an instant are
counts of the spans containing it; event counts (arrivals, completions, reassignments) are per
slice ``(previous sample, sample]``; "to date" values run from the start of the sample's contract
period (rolling KPIs: the N days up to the sample) to the sample, inclusive.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.calendar import BusinessCalendar
from outcome_pulse.processors.clock_measures import (
    CalendarFor,
    ItemClockMeasures,
    measure_clock,
    read_open_clock,
)
from outcome_pulse.processors.contract import (
    Contract,
    DataQualityKpi,
    EventSelectorSpec,
    KpiBase,
    RatioKpi,
    Service,
    ThresholdKpi,
    TimeToTargetKpi,
    TrendKpi,
)
from outcome_pulse.processors.engine.help import INDICATOR_HELP
from outcome_pulse.processors.forecast.features import LoadReader
from outcome_pulse.processors.forecast.item_clocks import ServiceLoadIndex
from outcome_pulse.processors.forecast.open_clocks import OpenClockForecast
from outcome_pulse.processors.item_history import ItemHistory, Span
from outcome_pulse.processors.lifecycle import ItemEvent, ItemKind
from outcome_pulse.processors.measurements import (
    SERVICE_WIDE,
    Delta,
    IndicatorPoint,
    LateEvent,
    OpenClock,
    PeriodOutcome,
    diff,
)
from outcome_pulse.processors.periods import (
    Period,
    calendar_period,
    index_range,
    periods_covering,
    sample_grid,
    shift_period,
)
from outcome_pulse.processors.quantities import parse_duration
from outcome_pulse.processors.settlement import PeriodMeasure, settle

_MAX_CHANGED_LISTED = 100


@dataclass(frozen=True, slots=True)
class Evaluation:
    points: dict[tuple[str, str, str, str, datetime], IndicatorPoint]
    outcomes: dict[tuple[str, str, datetime], PeriodOutcome]
    open_clocks: dict[tuple[str, str, str], OpenClock] = field(default_factory=dict)


SeriesKey = tuple[str, str, str]  # (service, kpi, indicator)


@dataclass(frozen=True, slots=True)
class Series:
    """One indicator's values on its grid (``None``: no value at that instant)."""

    grid: list[datetime]
    values: list[float | None]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What one evaluation computed, before it is spelt out as rows."""

    series: dict[SeriesKey, Series]
    outcomes: dict[tuple[str, str, datetime], PeriodOutcome]
    watermark: datetime | None
    open_clocks: dict[tuple[str, str, str], OpenClock] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Observed:
    """What one ``observe`` call did with its events."""

    new: int
    duplicates: int
    unmonitored: int
    late: tuple[ItemEvent, ...]
    watermark: datetime | None


@dataclass(frozen=True, slots=True)
class Step:
    """The rows one batch of events changed, ready to write."""

    observed: Observed
    points: Delta[tuple[str, str, str, str, datetime], IndicatorPoint]
    outcomes: Delta[tuple[str, str, datetime], PeriodOutcome]
    late: tuple[LateEvent, ...]
    open_clocks: tuple[OpenClock, ...] | None = None
    """Every open clock now, when they changed (None: unchanged since the previous step)."""


@dataclass(slots=True)
class _ServiceItems:
    service_id: str
    service: Service
    items: dict[str, ItemHistory] = field(default_factory=dict)

    def sorted_items(self) -> list[ItemHistory]:
        return [self.items[key] for key in sorted(self.items)]


class ContractEvaluation:
    """Events in, indicator points and period outcomes out (see the module doc)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.zone = ZoneInfo(contract.client.time_zone)
        self.lateness = contract.monitoring.lateness
        self.sample_every = contract.monitoring.step
        self._services: dict[tuple[str, ItemKind], _ServiceItems] = {
            (svc.source, svc.item_kind): _ServiceItems(sid, svc)
            for sid, svc in contract.services.items()
        }
        self._clock_cache: dict[tuple[str, str, str], tuple[int, ItemClockMeasures]] = {}
        # Where the month or quarter of a grid instant starts: fixed, so kept across steps.
        self.period_starts: dict[tuple[datetime, str], datetime] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self.max_time: datetime | None = None
        self.min_time: datetime | None = None
        self._last = _Snapshot({}, {}, None)

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
            group = self._services.get((event.source, event.kind))
            if group is None:
                unmonitored += 1
                continue
            history = group.items.get(event.item_id)
            if history is None:
                history = group.items[event.item_id] = ItemHistory(
                    event.source, event.item_id, event.kind
                )
            if not history.add(event, sequence):
                duplicates += 1
                continue
            new += 1
            key = (event.source, event.item_id)
            self._versions[key] = self._versions.get(key, 0) + 1
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
        before = self._last
        after = self._compute() if observed.new else before
        self._last = after
        points, finals = self._point_delta(before, after)
        outcomes = diff(before.outcomes, after.outcomes)
        late: tuple[LateEvent, ...] = ()
        if observed.late:
            # Sorted, outcomes first, so the list (cut to its first entries) does not depend on the
            # order the series were first seen in.
            changed = sorted(
                f"{o.kpi}@{o.period_start.isoformat()}"
                for o in outcomes.upserts
                if (old := before.outcomes.get(o.key)) is not None and old.final
            )
            changed.extend(sorted(finals))
            late = tuple(
                LateEvent(
                    self.contract.contract,
                    event.source,
                    event.event_id,
                    event.time,
                    observed.watermark or event.time,
                    tuple(changed[:_MAX_CHANGED_LISTED]),
                )
                for event in observed.late
            )
        clocks = None
        if after.open_clocks != before.open_clocks:
            clocks = tuple(after.open_clocks.values())
        return Step(observed, points, outcomes, late, clocks)

    def rebuild(self, events: Iterable[tuple[ItemEvent, int]]) -> Evaluation:
        """Observe events and evaluate everything (no delta); later steps diff against this."""
        self.observe(events)
        self._last = self._compute()
        return self.last

    @property
    def last(self) -> Evaluation:
        """The evaluation of the latest ``step`` or ``rebuild``, as rows."""
        last = self._last
        return Evaluation(self._points(last), dict(last.outcomes), dict(last.open_clocks))

    def evaluate(self) -> Evaluation:
        """Evaluate everything observed so far, as rows (does not move ``last``)."""
        snapshot = self._compute()
        return Evaluation(
            self._points(snapshot), dict(snapshot.outcomes), dict(snapshot.open_clocks)
        )

    def latest_points(self) -> list[IndicatorPoint]:
        """The newest point of every series of the last evaluation (for gauges)."""
        newest: list[IndicatorPoint] = []
        watermark = self._last.watermark
        for (service, kpi, indicator), series in self._last.series.items():
            for at, value in zip(reversed(series.grid), reversed(series.values), strict=True):
                if value is not None:
                    final = watermark is not None and at <= watermark
                    newest.append(
                        IndicatorPoint(
                            self.contract.contract, service, kpi, indicator, at, value, final
                        )
                    )
                    break
        return newest

    def latest_outcomes(self) -> list[PeriodOutcome]:
        """The newest period outcome of every KPI of the last evaluation."""
        newest: dict[str, PeriodOutcome] = {}
        for outcome in self._last.outcomes.values():
            held = newest.get(outcome.kpi)
            if held is None or outcome.period_start > held.period_start:
                newest[outcome.kpi] = outcome
        return list(newest.values())

    # -- output ----------------------------------------------------------------------------------

    def service_items(self) -> dict[str, list[ItemHistory]]:
        """Each service's item histories (by service id), in item-key order: what the
        forecasting adapter (``outcome_pulse.processors.forecast.item_clocks``) reads."""
        return {
            group.service_id: group.sorted_items()
            for group in self._services.values()
            if group.items
        }

    def _compute(self) -> _Snapshot:
        series: dict[SeriesKey, Series] = {}
        measures: list[PeriodMeasure] = []
        clocks: dict[tuple[str, str, str], OpenClock] = {}
        if self.max_time is not None and self.min_time is not None:
            for group in self._services.values():
                if not group.items:
                    continue
                run = _ServiceRun(self, group)
                for key, values in run.series():
                    series[key] = values
                measures.extend(run.measures())
                clocks.update((clock.key, clock) for clock in run.open_clocks())
        outcomes = {row.key: row for row in settle(self.contract, measures)}
        clocks = self._with_breach_probabilities(clocks)
        return _Snapshot(series, outcomes, self.watermark, clocks)

    def _with_breach_probabilities(
        self, clocks: dict[tuple[str, str, str], OpenClock]
    ) -> dict[tuple[str, str, str], OpenClock]:
        """The breach model trained from scratch on every settled case (the oracle of the
        engine's incremental training), with the load read from the item histories."""
        if not clocks:
            return clocks
        items = self.service_items()
        loads: dict[str, LoadReader] = {sid: ServiceLoadIndex(g) for sid, g in items.items()}
        held = {(sid, i.item_id): i for sid, group in items.items() for i in group}
        forecast = OpenClockForecast(self.contract)
        forecast.update(items, loads, {})
        return forecast.annotate(clocks, self.max_time, lambda s, i: held.get((s, i)), loads)

    def _points(
        self, snapshot: _Snapshot
    ) -> dict[tuple[str, str, str, str, datetime], IndicatorPoint]:
        contract, watermark = self.contract.contract, snapshot.watermark
        points = {}
        for (service, kpi, indicator), series in snapshot.series.items():
            for at, value in zip(series.grid, series.values, strict=True):
                if value is not None:
                    final = watermark is not None and at <= watermark
                    points[(contract, service, kpi, indicator, at)] = IndicatorPoint(
                        contract, service, kpi, indicator, at, value, final
                    )
        return points

    def _point_delta(
        self, before: _Snapshot, after: _Snapshot
    ) -> tuple[Delta[tuple[str, str, str, str, datetime], IndicatorPoint], list[str]]:
        """Points that changed (value or finality) and keys gone, compared series by series;
        also the final points that changed, named for late-event reports."""
        contract = self.contract.contract
        upserts: list[IndicatorPoint] = []
        deletes: list[tuple[str, str, str, str, datetime]] = []
        finals: list[str] = []
        old_mark, new_mark = before.watermark, after.watermark
        for key, series in after.series.items():
            old = before.series.get(key)
            old_values: dict[datetime, float | None]
            if old is not None and old.grid == series.grid[: len(old.grid)]:
                aligned = True
                old_len = len(old.grid)
            else:
                aligned = False
                old_len = 0
            old_values = (
                {} if aligned or old is None else dict(zip(old.grid, old.values, strict=True))
            )
            service, kpi, indicator = key
            first = 0
            if aligned:  # skip the unchanged, equally final prefix (compared at C speed)
                first = min(
                    _common_prefix(old.values, series.values),  # type: ignore[union-attr]
                    _first_flip(series.grid, old_mark, new_mark),
                )
            for index in range(first, len(series.grid)):
                at, value = series.grid[index], series.values[index]
                if aligned:
                    was = old.values[index] if index < old_len else None  # type: ignore[union-attr]
                else:
                    was = old_values.pop(at, None)
                final = new_mark is not None and at <= new_mark
                was_final = old_mark is not None and at <= old_mark
                if value is None:
                    if was is not None:
                        deletes.append((contract, service, kpi, indicator, at))
                    continue
                if value != was or final != was_final:
                    upserts.append(
                        IndicatorPoint(contract, service, kpi, indicator, at, value, final)
                    )
                    if was_final and was is not None and value != was:
                        finals.append(f"{kpi or service}/{indicator}@{at.isoformat()}")
            for at, was in old_values.items():
                if was is not None:
                    deletes.append((contract, service, kpi, indicator, at))
        for key, old in before.series.items():
            if key not in after.series:
                service, kpi, indicator = key
                deletes.extend(
                    (contract, service, kpi, indicator, at)
                    for at, was in zip(old.grid, old.values, strict=True)
                    if was is not None
                )
        return Delta(tuple(upserts), tuple(deletes)), finals

    def calendar_for(self, kpi: TimeToTargetKpi) -> CalendarFor:
        contract = self.contract

        def calendar(priority: str | None) -> BusinessCalendar:
            return contract.calendar_of(kpi, priority)

        return calendar

    def clock_measures(self, kpi: TimeToTargetKpi, history: ItemHistory) -> ItemClockMeasures:
        key = (kpi.id, history.source, history.item_id)
        version = self._versions.get((history.source, history.item_id), 0)
        cached = self._clock_cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        measures = measure_clock(history, kpi, self.calendar_for(kpi))
        self._clock_cache[key] = (version, measures)
        return measures


# -- one service's series and measures ------------------------------------------------------------


class _ServiceRun:
    """Evaluates one service of a contract: its indicators and its KPIs' period measures."""

    def __init__(self, evaluation: ContractEvaluation, group: _ServiceItems) -> None:
        assert evaluation.max_time is not None
        self.ev = evaluation
        self.contract = evaluation.contract
        self.zone = evaluation.zone
        self.group = group
        self.items = group.sorted_items()
        self.first = min(item.first_event_at for item in self.items)
        self.last = evaluation.max_time
        self.watermark = evaluation.watermark
        self.step = evaluation.sample_every
        self.grid = sample_grid(self.first, self.last, self.step, self.zone)
        self._selected: dict[int, list[datetime]] = {}
        self._period_starts = evaluation.period_starts
        self._samples: dict[str, tuple[list[datetime], list[float], list[bool]]] = {}

    def _series(
        self, kpi: str, indicator: str, grid: list[datetime], values: Sequence[float | None]
    ) -> Iterator[tuple[SeriesKey, Series]]:
        floats = [None if v is None else float(v) for v in values]
        yield (self.group.service_id, kpi, indicator), Series(grid, floats)

    def kpis(self) -> list[KpiBase]:
        return [k for k in self.contract.kpis if k.service == self.group.service_id]

    # -- indicators ------------------------------------------------------------------------------

    def series(self) -> Iterator[tuple[SeriesKey, Series]]:
        grid, step = self.grid, self.step
        open_spans = self._open_spans(None)
        yield from self._series(SERVICE_WIDE, "open_backlog", grid, _count_spans(grid, open_spans))
        p50, p90 = _age_percentiles(grid, open_spans)
        yield from self._series(SERVICE_WIDE, "backlog_age_p50_seconds", grid, p50)
        yield from self._series(SERVICE_WIDE, "backlog_age_p90_seconds", grid, p90)
        arrivals = _count_in_slices(grid, step, (item.opened_at for item in self.items))
        completions = _count_in_slices(
            grid, step, (t for item in self.items for t in item.completions())
        )
        yield from self._series(SERVICE_WIDE, "arrivals", grid, arrivals)
        yield from self._series(SERVICE_WIDE, "completions", grid, completions)
        yield from self._series(
            SERVICE_WIDE, "arrival_completion_ratio", grid, _ratios(arrivals, completions)
        )
        yield from self._series(
            SERVICE_WIDE,
            "reassignments",
            grid,
            _count_in_slices(grid, step, (t for item in self.items for t in item.reassignments())),
        )
        yield from self._quality_series()
        if self.group.service.item_kind is ItemKind.ORDER or any(
            item.due_dates.at for item in self.items
        ):
            yield from self._series(
                SERVICE_WIDE, "overdue_backlog", grid, _count_spans(grid, self._overdue_spans(None))
            )
        for kpi in self.kpis():
            if isinstance(kpi, TimeToTargetKpi):
                yield from self._clock_points(kpi)
            elif isinstance(kpi, RatioKpi):
                yield from self._ratio_points(kpi)
            elif isinstance(kpi, ThresholdKpi):
                yield from self._threshold_points(kpi)
            elif isinstance(kpi, TrendKpi):
                yield from self._to_date_points(
                    kpi, "volume_to_date", self._selected_times(kpi.count)
                )
            elif isinstance(kpi, DataQualityKpi):
                yield from self._quality_points(kpi)

    def _quality_series(self) -> Iterator[tuple[SeriesKey, Series]]:
        """Events per slice, and the shares of them carrying no priority / no assignee."""
        grid, step = self.grid, self.step
        events = [event for item in self.items for _, event, _ in item.ordered()]
        received = _count_in_slices(grid, step, (e.time for e in events))
        yield from self._series(SERVICE_WIDE, "events", grid, received)
        for name in ("priority", "assignee"):
            carrying = _count_in_slices(
                grid, step, (e.time for e in events if getattr(e, name) is not None)
            )
            shares = [(n - c) / n if n else None for n, c in zip(received, carrying, strict=True)]
            yield from self._series(SERVICE_WIDE, f"share_missing_{name}", grid, shares)

    def _quality_times(self, kpi: DataQualityKpi) -> tuple[list[datetime], list[datetime]]:
        """``(total, good)`` times of a data-quality KPI, sorted."""
        name = kpi.field
        if kpi.of == "items":
            total = sorted(item.opened_at for item in self.items)
            good: list[datetime] = []
            for item in self.items:
                # The first time the item carried the field, counted only within its opening
                # period (written out here again, independently of the engine's module).
                ends = calendar_period(item.opened_at, kpi.period.kind, self.zone).end
                carrying = [e.time for _, e, _ in item.ordered() if getattr(e, name) is not None]
                if carrying and min(carrying) < ends:
                    good.append(max(min(carrying), item.opened_at))
            return total, sorted(good)
        events = [event for item in self.items for _, event, _ in item.ordered()]
        total = sorted(e.time for e in events)
        return total, sorted(e.time for e in events if getattr(e, name) is not None)

    def _quality_points(self, kpi: DataQualityKpi) -> Iterator[tuple[SeriesKey, Series]]:
        total_times, good_times = self._quality_times(kpi)
        yield from self._to_date_points(kpi, "good_to_date", good_times)
        yield from self._to_date_points(kpi, "total_to_date", total_times)
        shares: list[float | None] = []
        for g in self.grid:
            lo, hi = self._to_date_range(kpi, total_times, g)
            glo, ghi = self._to_date_range(kpi, good_times, g)
            shares.append((ghi - glo) / (hi - lo) if hi > lo else None)
        yield from self._series(kpi.id, "attainment_to_date", self.grid, shares)

    def _clock_points(self, kpi: TimeToTargetKpi) -> Iterator[tuple[SeriesKey, Series]]:
        grid = self.grid
        measures = [self.ev.clock_measures(kpi, item) for item in self.items]
        measured = _count_spans(grid, [s for m in measures for s in m.measured_open])
        past = _count_spans(grid, [s for m in measures for s in m.past_risk_share])
        yield from self._series(
            kpi.id,
            "items_at_risk",
            grid,
            _count_spans(grid, [s for m in measures for s in m.at_risk]),
        )
        yield from self._series(
            kpi.id,
            "breached_open",
            grid,
            _count_spans(grid, [s for m in measures for s in m.breached]),
        )
        yield from self._series(
            kpi.id,
            "share_past_risk",
            grid,
            [p / n if n else 0.0 for p, n in zip(past, measured, strict=True)],
        )
        # Running items whose target will be used up before the end of the sample's period
        # (the month, for rolling KPIs) if nothing changes: counted from the start of the
        # period the forecast instant falls in.
        kind = "month" if kpi.period.is_rolling else kpi.period.kind
        forecast: list[Span] = []
        for m in measures:
            for span, used_up in m.forecasts:
                begins = max(span.start, calendar_period(used_up, kind, self.zone).start)
                if span.end is None or begins < span.end:
                    forecast.append(Span(begins, span.end))
        yield from self._series(kpi.id, "breaches_forecast", grid, _count_spans(grid, forecast))
        resolutions = sorted((r for m in measures for r in m.resolutions), key=lambda r: r.at)
        times = [r.at for r in resolutions]
        met_prefix = _prefix(1 if r.met else 0 for r in resolutions)
        micros_prefix = _prefix(r.elapsed // timedelta(microseconds=1) for r in resolutions)
        met_series: list[float | None] = []
        missed_series: list[float | None] = []
        attainment: list[float | None] = []
        mttr: list[float | None] = []
        for g in grid:
            lo, hi = self._to_date_range(kpi, times, g)
            met = met_prefix[hi] - met_prefix[lo]
            total = hi - lo
            met_series.append(met)
            missed_series.append(total - met)
            attainment.append(met / total if total else None)
            mttr.append((micros_prefix[hi] - micros_prefix[lo]) / total / 1e6 if total else None)
        yield from self._series(kpi.id, "met_to_date", grid, met_series)
        yield from self._series(kpi.id, "missed_to_date", grid, missed_series)
        yield from self._series(kpi.id, "attainment_to_date", grid, attainment)
        yield from self._series(kpi.id, "mttr_seconds", grid, mttr)

    def _ratio_points(self, kpi: RatioKpi) -> Iterator[tuple[SeriesKey, Series]]:
        good_times = self._selected_times(kpi.good)
        yield from self._to_date_points(kpi, "good_to_date", good_times)
        total_times = self._selected_times(kpi.total)
        yield from self._to_date_points(kpi, "total_to_date", total_times)
        shares: list[float | None] = []
        for g in self.grid:
            lo, hi = self._to_date_range(kpi, total_times, g)
            glo, ghi = self._to_date_range(kpi, good_times, g)
            shares.append((ghi - glo) / (hi - lo) if hi > lo else None)
        yield from self._series(kpi.id, "attainment_to_date", self.grid, shares)

    def _threshold_points(self, kpi: ThresholdKpi) -> Iterator[tuple[SeriesKey, Series]]:
        grid, values, within = self._threshold_samples(kpi)
        yield from self._series(kpi.id, "gauge_value", grid, values)
        yield from self._series(kpi.id, "within_bound", grid, [1.0 if w else 0.0 for w in within])
        within_times = [g for g, w in zip(grid, within, strict=True) if w]
        shares: list[float | None] = []
        for g in grid:
            lo, hi = self._to_date_range(kpi, grid, g)
            wlo, whi = self._to_date_range(kpi, within_times, g)
            shares.append((whi - wlo) / (hi - lo) if hi > lo else None)
        yield from self._series(kpi.id, "attainment_to_date", grid, shares)

    def _to_date_points(
        self, kpi: KpiBase, indicator: str, times: list[datetime]
    ) -> Iterator[tuple[SeriesKey, Series]]:
        counts: list[float | None] = []
        for g in self.grid:
            lo, hi = self._to_date_range(kpi, times, g)
            counts.append(hi - lo)
        yield from self._series(kpi.id, indicator, self.grid, counts)

    def _to_date_range(self, kpi: KpiBase, times: list[datetime], g: datetime) -> tuple[int, int]:
        if kpi.period.is_rolling:
            assert kpi.period.days is not None
            start = g - timedelta(days=kpi.period.days)
            return bisect.bisect_right(times, start), bisect.bisect_right(times, g)
        key = (g, kpi.period.kind)
        begins = self._period_starts.get(key)
        if begins is None:
            begins = self._period_starts[key] = calendar_period(g, kpi.period.kind, self.zone).start
        return bisect.bisect_left(times, begins), bisect.bisect_right(times, g)

    # -- spans and selections -------------------------------------------------------------------

    def _open_spans(self, priorities: Sequence[str] | None) -> list[tuple[Span, datetime]]:
        """Open spans (with the item's opening time), only while of ``priorities`` if given."""
        out: list[tuple[Span, datetime]] = []
        for item in self.items:
            opened = item.opened_at
            for span in item.open_spans():
                if priorities is None:
                    out.append((span, opened))
                    continue
                for start, end, value in item.priorities.segments(span.start, span.end):
                    if value is not None and str(value) in priorities:
                        out.append((Span(start, end), opened))
        return out

    def _overdue_spans(self, priorities: Sequence[str] | None) -> list[Span]:
        out: list[Span] = []
        for item in self.items:
            for span in item.open_spans():
                for start, end, due in item.due_dates.segments(span.start, span.end):
                    if not isinstance(due, datetime):
                        continue
                    if (
                        priorities is not None
                        and str(item.priorities.value_at(start)) not in priorities
                    ):
                        continue
                    lo = max(start, due)
                    if end is None or lo < end:
                        out.append(Span(lo, end))
        return out

    def _selected_times(self, selector: EventSelectorSpec) -> list[datetime]:
        key = id(selector)
        if key not in self._selected:
            self._selected[key] = self._select(selector)
        return self._selected[key]

    def _select(self, selector: EventSelectorSpec) -> list[datetime]:
        times: list[datetime] = []
        for item in self.items:
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
        times.sort()
        return times

    def _threshold_samples(
        self, kpi: ThresholdKpi
    ) -> tuple[list[datetime], list[float], list[bool]]:
        if kpi.id not in self._samples:
            self._samples[kpi.id] = self._sample_threshold(kpi)
        return self._samples[kpi.id]

    def _sample_threshold(
        self, kpi: ThresholdKpi
    ) -> tuple[list[datetime], list[float], list[bool]]:
        step = parse_duration(kpi.sample_every)
        grid = sample_grid(self.first, self.last, step, self.zone)
        values: list[float]
        gauge = kpi.gauge
        if gauge == "open_backlog":
            values = [float(v) for v in _count_spans(grid, self._open_spans(kpi.priorities))]
        elif gauge == "overdue_backlog":
            values = [float(v) for v in _count_spans(grid, self._overdue_spans(kpi.priorities))]
        elif gauge in ("backlog_age_p50", "backlog_age_p90"):
            p50, p90 = _age_percentiles(grid, self._open_spans(kpi.priorities))
            values = p50 if gauge == "backlog_age_p50" else p90
        elif gauge == "items_at_risk":
            clock = self.contract.kpi(str(kpi.clock_kpi))
            assert isinstance(clock, TimeToTargetKpi)
            spans = [s for item in self.items for s in self.ev.clock_measures(clock, item).at_risk]
            values = [float(v) for v in _count_spans(grid, spans)]
        else:  # arrival_completion_ratio
            arrivals = _count_in_slices(grid, step, (item.opened_at for item in self.items))
            completions = _count_in_slices(
                grid, step, (t for item in self.items for t in item.completions())
            )
            values = _ratios(arrivals, completions)
        bound = kpi.bound_value()
        limit = bound.total_seconds() if isinstance(bound, timedelta) else float(bound)
        within = [v <= limit if kpi.op == "<=" else v >= limit for v in values]
        return grid, values, within

    # -- open clocks -----------------------------------------------------------------------------

    def open_clocks(self) -> Iterator[OpenClock]:
        """Every item whose clock is open at the latest event time, read then."""
        now = self.last
        for kpi in self.kpis():
            if not isinstance(kpi, TimeToTargetKpi):
                continue
            calendar = self.ev.calendar_for(kpi)
            for item in self.items:
                spans = self.ev.clock_measures(kpi, item).measured_open
                if not spans or spans[-1].end is not None:
                    continue  # stopped, or never measured (no target for its priority)
                reading = read_open_clock(item, kpi, calendar, now)
                if reading is None:
                    continue
                priority = item.priorities.value_at(now)
                yield OpenClock(
                    contract=self.contract.contract,
                    kpi=kpi.id,
                    service=self.group.service_id,
                    source=item.source,
                    item_id=item.item_id,
                    priority=None if priority is None else str(priority),
                    status=reading.status.value,
                    started_at=reading.started_at,
                    elapsed_seconds=reading.elapsed.total_seconds(),
                    target_seconds=reading.target.total_seconds(),
                    share_used=reading.share_used,
                    at_risk=reading.at_risk,
                    breached=reading.breached,
                    breach_at=reading.breach_at,
                    as_of=now,
                )

    # -- period measures ---------------------------------------------------------------------------

    def _periods(self, kpi: KpiBase) -> list[Period]:
        return periods_covering(self.first, self.last, kpi.period.kind, self.zone, kpi.period.days)

    def _measure(
        self,
        kpi: KpiBase,
        period: Period,
        measured: int,
        good: int,
        measure: float | None,
        baseline: int | None = None,
        no_baseline: bool = False,
    ) -> PeriodMeasure:
        name = f"rolling {kpi.period.days}d" if kpi.period.is_rolling else kpi.period.kind
        final = self.watermark is not None and period.end <= self.watermark
        if measured < kpi.minimum_volume:
            measure = None
        return PeriodMeasure(
            kpi,
            self.group.service_id,
            period,
            name,
            measured,
            good,
            baseline,
            measure,
            final,
            no_baseline,
        )

    def measures(self) -> Iterator[PeriodMeasure]:
        for kpi in self.kpis():
            if isinstance(kpi, TimeToTargetKpi):
                resolutions = sorted(
                    (
                        r
                        for item in self.items
                        for r in self.ev.clock_measures(kpi, item).resolutions
                    ),
                    key=lambda r: r.at,
                )
                yield from self._share_measures(
                    kpi, [r.at for r in resolutions], [r.at for r in resolutions if r.met]
                )
            elif isinstance(kpi, RatioKpi):
                yield from self._share_measures(
                    kpi, self._selected_times(kpi.total), self._selected_times(kpi.good)
                )
            elif isinstance(kpi, ThresholdKpi):
                grid, _, within = self._threshold_samples(kpi)
                yield from self._share_measures(
                    kpi, grid, [g for g, w in zip(grid, within, strict=True) if w]
                )
            elif isinstance(kpi, TrendKpi):
                yield from self._trend_measures(kpi)
            elif isinstance(kpi, DataQualityKpi):
                yield from self._share_measures(kpi, *self._quality_times(kpi))

    def _share_measures(
        self, kpi: KpiBase, total: list[datetime], good: list[datetime]
    ) -> Iterator[PeriodMeasure]:
        for period in self._periods(kpi):
            n = _count_between(total, period.start, period.end)
            g = _count_between(good, period.start, period.end)
            yield self._measure(kpi, period, n, g, g / n if n else None)

    def _trend_measures(self, kpi: TrendKpi) -> Iterator[PeriodMeasure]:
        times = self._selected_times(kpi.count)
        for period in self._periods(kpi):
            count = _count_between(times, period.start, period.end)
            base = self._baseline(kpi, period)
            if base.end <= self.first:
                yield self._measure(kpi, period, count, count, None, None, no_baseline=True)
                continue
            base_end = base.end
            if period.end > self.last:  # still going: compare with the baseline as far in
                base_end = min(base.end, base.start + (self.last - period.start))
            base_count = _count_between(times, base.start, base_end)
            change = (count - base_count) / base_count if base_count else None
            yield self._measure(
                kpi, period, count, count, change, base_count, no_baseline=base_count == 0
            )

    def _baseline(self, kpi: TrendKpi, period: Period) -> Period:
        if kpi.period.is_rolling:
            length = period.end - period.start
            back = length if kpi.baseline == "previous_period" else timedelta(days=364)
            return Period(period.start - back, period.end - back, "baseline")
        months = (
            (3 if kpi.period.kind == "quarter" else 1) if kpi.baseline == "previous_period" else 12
        )
        return shift_period(period, kpi.period.kind, self.zone, -months)


# -- counting on grids ------------------------------------------------------------------------


def _count_spans(grid: list[datetime], spans: Iterable[Span | tuple[Span, datetime]]) -> list[int]:
    """How many spans contain each grid instant."""
    marks = [0] * (len(grid) + 1)
    for entry in spans:
        span = entry[0] if isinstance(entry, tuple) else entry
        indices = index_range(grid, span.start, span.end)
        if indices:
            marks[indices.start] += 1
            marks[indices.stop] -= 1
    counts, running = [], 0
    for mark in marks[:-1]:
        running += mark
        counts.append(running)
    return counts


def _count_in_slices(
    grid: list[datetime], step: timedelta, instants: Iterable[datetime]
) -> list[int]:
    """How many instants fall in each slice ``(previous grid instant, grid instant]``."""
    counts = [0] * len(grid)
    if not grid:
        return counts
    floor = grid[0] - step
    for moment in instants:
        index = bisect.bisect_left(grid, moment)
        if index < len(grid) and moment > floor:
            counts[index] += 1
    return counts


def _ratios(numerators: Sequence[int], denominators: Sequence[int]) -> list[float]:
    return [n / d if d else float(n) for n, d in zip(numerators, denominators, strict=True)]


def _age_percentiles(
    grid: list[datetime], spans: list[tuple[Span, datetime]]
) -> tuple[list[float], list[float]]:
    """Median and 90th-percentile age (seconds, nearest rank) of the open items at each instant."""
    starts = sorted((span.start, opened) for span, opened in spans)
    ends = sorted((span.end, opened) for span, opened in spans if span.end is not None)
    opened_sorted: list[datetime] = []
    p50: list[float] = []
    p90: list[float] = []
    si = ei = 0
    for g in grid:
        while si < len(starts) and starts[si][0] <= g:
            bisect.insort(opened_sorted, starts[si][1])
            si += 1
        while ei < len(ends) and ends[ei][0] <= g:
            opened_sorted.pop(bisect.bisect_left(opened_sorted, ends[ei][1]))
            ei += 1
        n = len(opened_sorted)
        if n == 0:
            p50.append(0.0)
            p90.append(0.0)
            continue
        # Ages descend as opening times ascend: the k-th smallest age is the (n-k)-th opening.
        p50.append((g - opened_sorted[n - _rank(0.5, n)]).total_seconds())
        p90.append((g - opened_sorted[n - _rank(0.9, n)]).total_seconds())
    return p50, p90


def _rank(quantile: float, n: int) -> int:
    """Nearest-rank position (1-based) of a quantile among ``n`` values."""
    return max(1, -(-int(quantile * 1000) * n // 1000))


def _common_prefix(old: list[float | None], new: list[float | None]) -> int:
    """Length of the longest common prefix (binary search over slice comparisons)."""
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _first_flip(grid: list[datetime], old: datetime | None, new: datetime | None) -> int:
    """First grid index whose finality differs between watermarks ``old`` and ``new``."""
    if old == new:
        return len(grid)
    if old is None or new is None:
        return 0
    return bisect.bisect_right(grid, min(old, new))


def _prefix(values: Iterable[int]) -> list[int]:
    out = [0]
    for value in values:
        out.append(out[-1] + value)
    return out


def _count_between(times: list[datetime], start: datetime, end: datetime) -> int:
    return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)


__all__ = [
    "INDICATOR_HELP",
    "ContractEvaluation",
    "Evaluation",
    "Observed",
    "Step",
]
