"""``ContractEngine``: a contract evaluated incrementally over a growing set of events.

Same results as the reference evaluation (``outcome_pulse.processors.reference_evaluation``), which
re-derives every series and period from all events on each step; here a step costs what the
batch touches:

1. ``observe`` adds the events to their items' event sets (a duplicate changes nothing) and
   notes the items touched. The watermark is the event-time *frontier* minus the allowed
   lateness; an event older than the watermark when its batch arrives is *late* (still applied).
   The frontier is the latest event time seen, unless the driver knows better and passes it
   (``step(..., frontier=...)``): the streaming monitor passes the event time every Kafka
   partition has reached (``processors.partition_progress``), so one partition running ahead
   of another does not make the slow one's events late. The watermark never moves back;
2. ``step`` swaps each touched item's contribution in its service's aggregators
   (``service.ServiceState.apply``), re-derives the series values from the first sample the
   changes reach (and the samples the grids gained), recomputes the period measures from the
   aggregators and settles them, and diffs all that against the rows it holds: the points whose
   value or finality changed (finality moves with the watermark), the outcomes that changed,
   the late events with the final rows they corrected, and the open clocks (read at the latest
   event time) when they changed.

The result depends only on the set of events (as the reference's does): the backtest and the
streaming monitor agree row for row.

Memory bounded by open work: ``compact`` drops the event sets of the items done with, and
``trim`` drops what lies wholly behind a horizon (their contributions and aggregator entries,
the grids' and series' heads; the final periods' measures are kept as they are). The exact rule
is in ``trim``'s doc; a later step that would need what was dropped raises
``TrimmedStateNeeded`` (``processors.errors``) and the driver rebuilds a full engine from every
event seen and redoes the step (the spooled backtest does; ``tests/unit/test_engine_trim.py``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta

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
from outcome_pulse.processors.engine.risk_crossings import RiskCrossing
from outcome_pulse.processors.engine.service import SeriesKey, SeriesTail, ServiceState
from outcome_pulse.processors.engine.service_load import ServiceLoadReader
from outcome_pulse.processors.errors import EngineStateError, TrimmedStateNeeded
from outcome_pulse.processors.forecast.open_clocks import OpenClockForecast
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
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
TRIM_MARGIN = timedelta(days=7)
"""How far behind the watermark ``trim`` freezes by default: a late event at most this far
behind it is applied without a rebuild."""


class _Stored:
    """One series as last emitted: its grid's instants and its values (None: no point).

    After ``trim``: ``head`` holds the points dropped with the grid's head when the series'
    indicator is kept whole (else None, and ``cut``), ``newest`` the newest point dropped."""

    __slots__ = ("cut", "grid", "head", "newest", "values")

    def __init__(self, grid: list[datetime], values: list[float | None]) -> None:
        self.grid = grid
        self.values = values
        self.head: list[tuple[datetime, float]] | None = None
        self.newest: tuple[datetime, float] | None = None
        self.cut = False

    def points(self) -> Iterator[tuple[datetime, float]]:
        """Every point held, in time order (the kept head first)."""
        if self.head:
            yield from self.head
        for at, value in zip(self.grid, self.values, strict=False):
            if value is not None:
                yield at, value


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
        self._frontier: datetime | None = None  # given by the driver (None: the latest event)
        self._frontier_given = False
        self.breach_forecast = OpenClockForecast(contract)
        self._loads = {s.service_id: ServiceLoadReader(s) for s in self._services.values()}
        self._trimmed_before: datetime | None = None
        self._broken: str | None = None

    # -- input -----------------------------------------------------------------------------------

    @property
    def watermark(self) -> datetime | None:
        """The frontier (see the module doc) minus the allowed lateness; None before any event.
        Never behind the watermark the rows held were computed at: what was final stays so."""
        frontier = self.frontier
        if frontier is None:
            return self._mark
        mark = frontier - self.lateness
        return mark if self._mark is None or mark > self._mark else self._mark

    @property
    def frontier(self) -> datetime | None:
        """The event time the input has reached: the latest event seen, or what the driver
        passed (never beyond the latest event seen, never moving back)."""
        if not self._frontier_given or self.max_time is None:
            return self.max_time
        if self._frontier is None:
            return None
        return min(self._frontier, self.max_time)

    @property
    def driver_frontier(self) -> datetime | None:
        """The latest frontier the driver passed (None: none, the engine goes by its events)."""
        return self._frontier if self._frontier_given else None

    @property
    def frontier_given(self) -> bool:
        """Whether the driver gives the frontier (``advance_frontier`` was called)."""
        return self._frontier_given

    def advance_frontier(self, frontier: datetime | None) -> None:
        """Take the frontier from the driver from now on (``None``: it knows of none yet, so
        nothing is final). Moves only forward; the rows follow at the next step."""
        self._frontier_given = True
        if frontier is not None and (self._frontier is None or frontier > self._frontier):
            self._frontier = frontier

    def moves_watermark(self, frontier: datetime) -> bool:
        """Whether ``advance_frontier(frontier)`` would move the watermark."""
        if self.max_time is None:
            return False
        held = self.watermark
        return held is None or min(frontier, self.max_time) - self.lateness > held

    def observe(self, events: Iterable[tuple[ItemEvent, int]]) -> Observed:
        """Add events (with their producer sequence numbers); see the module doc.
        ``TrimmedStateNeeded`` (before anything changes) for an event behind the trimmed
        horizon that is not a duplicate (see ``trim``)."""
        if self._broken is not None or self._trimmed_before is not None:
            events = list(events)
            self._check_trimmed(events)
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

    def step(
        self,
        events: Iterable[tuple[ItemEvent, int]],
        *,
        frontier: datetime | None = None,
    ) -> Step:
        """Observe a batch and return what it changed since the previous step.

        ``frontier``: the event time the driver's input has reached once this batch is in (see
        ``advance_frontier``); by default the latest event seen. The batch's events are late or
        not by the watermark before it. A step without new events still reports the rows whose
        finality a moved frontier changed."""
        observed = self.observe(events)
        if frontier is not None:
            self.advance_frontier(frontier)
        if not observed.new and self.watermark == self._mark:
            return Step(observed, Delta((), ()), Delta((), ()), (), None)
        outcomes_before = self._outcomes
        clocks_before = self._clocks
        points, finals = self._advance()
        outcomes = diff(outcomes_before, self._outcomes)
        late: tuple[LateEvent, ...] = ()
        if observed.late:
            # Sorted, outcomes first, so the list (cut to its first entries) does not depend on the
            # order the series were first seen in.
            changed = sorted(
                f"{o.kpi}@{o.period_start.isoformat()}"
                for o in outcomes.upserts
                if (old := outcomes_before.get(o.key)) is not None and old.final
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
        clocks = None if self._clocks == clocks_before else tuple(self._clocks.values())
        return Step(observed, points, outcomes, late, clocks)

    def _check_trimmed(self, events: list[tuple[ItemEvent, int]]) -> None:
        if self._broken is not None:
            raise TrimmedStateNeeded(self._broken)
        horizon = self._trimmed_before
        if horizon is None:
            return
        for event, _ in events:
            service = self._services.get((event.source, event.kind))
            if service is None or event.time >= horizon:
                continue
            history = service.items.get(event.item_id)
            if history is not None and (event.time, event.event_id) in history.events:
                continue  # a duplicate changes nothing
            raise TrimmedStateNeeded(
                f"contract {self.contract.contract!r}: event {event.event_id!r} of "
                f"{event.time.isoformat()} is behind the trimmed horizon "
                f"({horizon.isoformat()}): rebuild the engine from every event seen"
            )

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

    def catch_up(self) -> Delta[PointKey, IndicatorPoint]:
        """Bring the rows up to date with everything observed; returns the points that changed
        (a driver that spools the rows applies it; the outcomes are read with ``outcomes``)."""
        if self._touched:
            return self._advance()[0]
        return Delta((), ())

    # -- memory bounded by open work ---------------------------------------------------------

    def compact(self) -> int:
        """Drop the event sets of items done with (see ``ServiceState.compact``): memory then
        grows with open work, not history. Returns how many items were compacted."""
        watermark = self.watermark
        if watermark is None:
            return 0
        self.catch_up()
        dropped = 0
        for service in self._services.values():
            items = service.compactable(watermark)
            dropped += service.compact(watermark)
            self.breach_forecast.forget((service.service_id, i) for i in items)
        return dropped

    @property
    def trimmed_before(self) -> datetime | None:
        """The horizon of the last ``trim`` (None: never trimmed)."""
        return self._trimmed_before

    def trim(self, *, margin: timedelta = TRIM_MARGIN, keep: Collection[str] = ()) -> int:
        """Drop what lies wholly behind a horizon, so memory follows open work; returns how
        many items were dropped.

        The *freeze* instant F is ``margin`` behind the watermark the rows were computed at
        (never moving back). From then on a step may change nothing before F: an event behind
        F that is not a duplicate raises ``TrimmedStateNeeded`` before anything changes (as
        does, while stepping, any change of a contribution before F, a grid moving, or a new
        overdue series; the engine is then unusable), and the driver rebuilds a full engine
        from every event seen and redoes the step. So the measures of the periods ending by F
        are final and fixed: they are kept as they are (``ServiceState.freeze``). Per service,
        the *trim point* T is the earliest instant a step changing nothing before F reads
        (``ServiceState.trim_point``): the start of F's "to date" window of every KPI (its
        calendar period, or F minus its rolling days), the start of every period ending after
        F and of its trend baseline, and one grid step before F. Then:

        * items compacted (events dropped) whose every span ends and every instant is before
          T leave the aggregators and their contribution is dropped (range queries from T on
          never saw them); the open backlog's counters and the arrivals keep them, as the
          breach model's load features read those at any instant; their risk crossings are
          kept aside. An event for one needs ``restore`` first (``missing_histories`` names
          it), which derives its contribution again;
        * each grid drops its instants before T but the one before F (a slice's lower bound),
          and each series its values there: those of the indicators in ``keep`` stay readable
          (``series_values``, ``final_series``), the others' are gone (``last`` then raises:
          a driver that trims keeps the points it was given, as the backtest's spool does).

        A trim that would drop nothing (no item, no grid instant) changes nothing, sets no
        horizon and freezes nothing: the engine stays whole, and takes any late event.

        The breach model's cases that settled before F are dropped down to a checkpoint of its
        training ledger (``OpenClockForecast.trim``); a change of one raises
        ``TrimmedStateNeeded``.

        What stays growing with history: the trimmed items' ids, their arrivals and backlog
        counters, risk crossings, period outcomes, the kept series and the period forecasts'
        item records (``forecast.open_clocks``)."""
        self.compact()  # brings the rows up to date first
        mark, last = self._mark, self.max_time
        if mark is None or last is None:
            return 0
        freeze = mark - margin
        if self._trimmed_before is not None and freeze < self._trimmed_before:
            freeze = self._trimmed_before
        points = {
            group: point
            for group, service in self._services.items()
            if (point := service.trim_point(freeze, last)) is not None
        }
        if not any(
            self._services[group].trimmable(point)
            or any(self._services[group].grid_trims(point, freeze).values())
            for group, point in points.items()
        ):
            return 0  # nothing would be dropped: no horizon either (the engine stays whole)
        dropped = 0
        for group, point in points.items():
            service = self._services[group]
            service.freeze(freeze, last, mark)
            dropped += service.trim_items(point)
            counts = service.grid_trims(point, freeze)
            for key, stored in self._series.items():
                count = counts.get(id(stored.grid), 0)
                if key[0] == service.service_id and count:
                    _trim_series(stored, count, key[2] in keep)
            service.trim_grids(counts, point)
        self._trimmed_before = freeze
        self.breach_forecast.trim(freeze)
        return dropped

    def service_items(self) -> dict[str, list[ItemHistory]]:
        """Each service's item histories (by service id), in item-key order: what the
        forecasting adapter (``processors.forecast.item_clocks``) reads. ``EngineStateError``
        once any item was compacted: the adapter needs every history, and forecasts read from
        a part of them would look right and be wrong (evaluate without compacting instead)."""
        compacted = sum(
            len(service.compacted) + len(service.trimmed) for service in self._services.values()
        )
        if compacted:
            raise EngineStateError(
                f"contract {self.contract.contract!r}: {compacted:,} item histories were "
                "compacted, so the item histories are incomplete; evaluate without compaction "
                "(backtest_events(..., compact_every=None)) to read them"
            )
        return {
            service.service_id: [service.items[key] for key in sorted(service.items)]
            for service in self._services.values()
            if service.items
        }

    def missing_histories(self, events: Iterable[tuple[ItemEvent, int]]) -> list[tuple[str, str]]:
        """``(source, item_id)`` of the compacted items these events are for: the driver reads
        their stored events and passes them to ``restore`` before stepping the events."""
        missing: set[tuple[str, str]] = set()
        for event, _ in events:
            service = self._services.get((event.source, event.kind))
            if service is not None and (
                event.item_id in service.compacted or event.item_id in service.trimmed
            ):
                missing.add((event.source, event.item_id))
        return sorted(missing)

    def restore(self, events: Iterable[tuple[ItemEvent, int]]) -> None:
        """Give compacted items their event sets back (events already applied before, so nothing
        is counted, stepped or changed; events of other items are ignored)."""
        histories: dict[tuple[tuple[str, ItemKind], str], ItemHistory] = {}
        for event, sequence in events:
            group = (event.source, event.kind)
            service = self._services.get(group)
            if service is None or (
                event.item_id not in service.compacted and event.item_id not in service.trimmed
            ):
                continue
            history = histories.get((group, event.item_id))
            if history is None:
                history = ItemHistory(event.source, event.item_id, event.kind)
                histories[(group, event.item_id)] = history
            history.add(event, sequence)
        for (group, item_id), history in histories.items():
            self._services[group].restore(item_id, history)

    def rebuild(
        self, events: Iterable[tuple[ItemEvent, int]], *, frontier: datetime | None = None
    ) -> Evaluation:
        """Observe events and evaluate everything; later steps diff against this.
        ``frontier``: as for ``step``."""
        self.observe(events)
        if frontier is not None:
            self.advance_frontier(frontier)
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
        for key, stored in self._series.items():
            self._readable(key, stored)
            service, kpi, indicator = key
            for at, value in stored.points():
                final = mark is not None and at <= mark
                points[(contract, service, kpi, indicator, at)] = IndicatorPoint(
                    contract, service, kpi, indicator, at, value, final
                )
        return Evaluation(points, dict(self._outcomes), dict(self._clocks))

    def _readable(self, key: SeriesKey, stored: _Stored) -> None:
        if stored.cut:
            raise EngineStateError(
                f"contract {self.contract.contract!r}: series {'/'.join(key)} was trimmed "
                f"before {self._trimmed_before}: its earlier points are gone (trim with the "
                "indicator in keep, or keep the points the steps gave)"
            )

    @property
    def outcomes(self) -> dict[OutcomeKey, PeriodOutcome]:
        """Every period outcome as of the latest step (``last`` without building the points)."""
        return dict(self._outcomes)

    @property
    def open_clocks(self) -> dict[ClockKey, OpenClock]:
        """Every open clock as of the latest step (``last`` without building the points)."""
        return dict(self._clocks)

    def series_values(
        self, indicators: Collection[str]
    ) -> dict[tuple[str, str], dict[datetime, float]]:
        """The values of the named indicators' series by (KPI, indicator), as of the latest step:
        the values of ``last``'s points, without building every row (the alert rules read a
        few series each round)."""
        out: dict[tuple[str, str], dict[datetime, float]] = {}
        for key, stored in self._series.items():
            _, kpi, indicator = key
            if indicator not in indicators:
                continue
            self._readable(key, stored)
            values = out.setdefault((kpi, indicator), {})
            for at, value in stored.points():
                values[at] = value
        return out

    def current_open_clocks(self) -> list[OpenClock]:
        """The open clocks as of the latest step (with their breach probabilities)."""
        return list(self._clocks.values())

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
            else:
                held = stored.head[-1] if stored.head else stored.newest
                if held is not None:
                    at, value = held
                    final = mark is not None and at <= mark
                    newest.append(
                        IndicatorPoint(
                            self.contract.contract, service, kpi, indicator, at, value, final
                        )
                    )
        return newest

    def latest_outcomes(self) -> list[PeriodOutcome]:
        """The newest period outcome of every KPI."""
        newest: dict[str, PeriodOutcome] = {}
        for outcome in self._outcomes.values():
            held = newest.get(outcome.kpi)
            if held is None or outcome.period_start > held.period_start:
                newest[outcome.kpi] = outcome
        return list(newest.values())

    def period_forecasts(self) -> list[PeriodForecast]:
        """Each forecastable KPI's running period, forecast at the latest event time
        (``forecast.open_clocks.OpenClockForecast.period_forecasts``)."""
        self.catch_up()
        return self.breach_forecast.period_forecasts(self.max_time)

    def final_series(
        self, indicators: Iterable[str]
    ) -> dict[SeriesKey, tuple[list[datetime], list[float]]]:
        """The final samples (behind the watermark) of the series of these indicators, in
        time order: what drift detection reads (``forecast.drift``)."""
        self.catch_up()
        wanted, mark = set(indicators), self._mark
        out: dict[SeriesKey, tuple[list[datetime], list[float]]] = {}
        if mark is None:
            return out
        for key in sorted(self._series):
            if key[2] not in wanted:
                continue
            stored = self._series[key]
            self._readable(key, stored)
            times: list[datetime] = []
            values: list[float] = []
            for at, value in stored.points():
                if at > mark:
                    break
                times.append(at)
                values.append(value)
            if times:
                out[key] = (times, values)
        return out

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

    def risk_crossings(self) -> dict[tuple[str, str], list[RiskCrossing]]:
        """Per (service id, time-to-target KPI id), every item's at-risk crossings (see
        ``risk_crossings``) by item and time, compacted items included (they are part of the
        items' contributions), as of the latest step."""
        out: dict[tuple[str, str], list[RiskCrossing]] = {}
        for service in self._services.values():
            for kpi in service.plan.clock_kpis:
                if kpi.service != service.service_id:
                    continue  # an items-at-risk gauge of another service's clock
                found = out.setdefault((service.service_id, kpi.id), [])
                held = service.contributions
                aside = service.trimmed_crossings
                for item_id in sorted([*held, *aside]):
                    if item_id in held:
                        found.extend(held[item_id].risk_crossings.get(kpi.id, ()))
                    else:
                        found.extend(aside[item_id].get(kpi.id, ()))
        return out

    # -- the incremental evaluation ----------------------------------------------------------

    def _advance(self) -> tuple[Delta[PointKey, IndicatorPoint], list[str]]:
        if self._broken is not None:
            raise TrimmedStateNeeded(self._broken)
        try:
            return self._advance_rows()
        except TrimmedStateNeeded as exc:
            self._broken = f"{exc} (the engine is unusable: it stopped halfway)"
            raise

    def _advance_rows(self) -> tuple[Delta[PointKey, IndicatorPoint], list[str]]:
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
        changed_from: dict[str, datetime | None] = {}
        for group, service in self._services.items():
            service.apply(touched.get(group, ()))
            changed_from[service.service_id] = service.dirty
            tails = {tail.key: tail for tail in service.series(last)}
            for tail in tails.values():
                if tail.key not in self._series:
                    if self._trimmed_before is not None:
                        raise TrimmedStateNeeded(
                            f"contract {self.contract.contract!r}: series {'/'.join(tail.key)} "
                            "starts over a trimmed grid: rebuild the engine from every event seen"
                        )
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
        self._forecast(touched, changed_from)
        self._clocks = self.breach_forecast.annotate(clocks, last, self._history, self._loads)
        return Delta(tuple(upserts), tuple(deletes)), finals

    def _forecast(
        self,
        touched: dict[tuple[str, ItemKind], set[str]],
        changed_from: dict[str, datetime | None],
    ) -> None:
        """The breach model's cases follow the touched items and the load that moved."""
        histories = {
            self._services[group].service_id: [
                self._services[group].items[item_id] for item_id in sorted(ids)
            ]
            for group, ids in touched.items()
        }
        self.breach_forecast.update(histories, self._loads, changed_from)

    def _history(self, service_id: str, item_id: str) -> ItemHistory | None:
        for service in self._services.values():
            if service.service_id == service_id:
                return service.items.get(item_id)
        return None

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


def _trim_series(stored: _Stored, count: int, keep: bool) -> None:
    """Drop a series' first ``count`` values (its grid's head is dropped next)."""
    dropped = [
        (at, value)
        for at, value in zip(stored.grid[:count], stored.values[:count], strict=False)
        if value is not None
    ]
    if keep:
        stored.head = (stored.head or []) + dropped
    elif dropped:
        stored.cut = True
    if dropped:
        stored.newest = dropped[-1]
    del stored.values[:count]


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
