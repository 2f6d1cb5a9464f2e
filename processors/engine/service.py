"""One service of a contract, kept up to date incrementally.

The service holds its items' event sets, each item's contribution (``contribution``) and the
aggregators the contributions are added to (``multisets``), keyed by family. ``apply`` takes
the items an event batch touched: each retracts its old contribution and adds the new one, and
the earliest instant where any of them differ is the *dirty* instant. ``series`` then re-derives
every indicator series only from the first sample at or after it (plus the samples the grid
gained), the KPIs' period measures from the aggregators (bisections, no scan), and hands back the
new values for the driver to diff against the stored ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import (
    Contract,
    DataQualityKpi,
    KpiBase,
    RatioKpi,
    Service,
    ThresholdKpi,
    TimeToTargetKpi,
    TrendKpi,
)
from outcome_pulse.processors.engine.contribution import (
    ARRIVALS,
    COMPLETIONS,
    REASSIGNMENTS,
    Contribution,
    FamilyKey,
    FamilyPlan,
    contribution_of,
    instants_differ_from,
    open_family,
    overdue_family,
    spans_differ_from,
)
from outcome_pulse.processors.engine.grid import SampleGrid
from outcome_pulse.processors.engine.indicators.backlog import count_spans
from outcome_pulse.processors.engine.indicators.backlog_age import age_percentiles
from outcome_pulse.processors.engine.indicators.data_quality import (
    quality_families,
    quality_series,
)
from outcome_pulse.processors.engine.indicators.flow import count_in_slices, ratios
from outcome_pulse.processors.engine.kpis import (
    data_quality,
    ratio,
    threshold,
    time_to_target,
    trend,
)
from outcome_pulse.processors.engine.kpis.measure import periods_of
from outcome_pulse.processors.engine.multisets import (
    CountedSpanMultiset,
    InstantMultiset,
    SpanMultiset,
)
from outcome_pulse.processors.engine.risk_crossings import RiskCrossing
from outcome_pulse.processors.engine.to_date import ToDateWindows, prefix
from outcome_pulse.processors.errors import EngineStateError, TrimmedStateNeeded
from outcome_pulse.processors.item_history import ItemHistory
from outcome_pulse.processors.lifecycle import ItemKind
from outcome_pulse.processors.measurements import SERVICE_WIDE
from outcome_pulse.processors.quantities import parse_duration
from outcome_pulse.processors.settlement import PeriodMeasure

SeriesKey = tuple[str, str, str]  # (service, kpi, indicator)


@dataclass(slots=True)
class SeriesTail:
    """A series' new values from grid index ``lo`` on (``grid`` is the series' grid)."""

    key: SeriesKey
    grid: list[datetime]
    lo: int
    values: list[float | None]


class ServiceState:
    def __init__(self, service_id: str, service: Service, contract: Contract) -> None:
        self.service_id = service_id
        self.service = service
        self.contract = contract
        self.zone = ZoneInfo(contract.client.time_zone)
        self.step = contract.monitoring.step
        self.kpis: list[KpiBase] = [k for k in contract.kpis if k.service == service_id]
        self.orders = service.item_kind is ItemKind.ORDER
        self.plan = FamilyPlan.of(contract, self.kpis, self.orders)
        self.items: dict[str, ItemHistory] = {}
        self.contributions: dict[str, Contribution] = {}
        self.spans: dict[FamilyKey, SpanMultiset] = {open_family(None): CountedSpanMultiset()}
        self.instants: dict[FamilyKey, InstantMultiset] = {}
        self.open_clock_items: dict[str, set[str]] = {k.id: set() for k in self.plan.clock_kpis}
        self.first: datetime | None = None
        self.grid: SampleGrid | None = None
        self.threshold_grids: dict[str, SampleGrid] = {}
        self.within: dict[str, list[bool]] = {}
        self.within_prefix: dict[str, list[int]] = {}
        self.windows = ToDateWindows(self.zone)
        self.dirty: datetime | None = None
        self.regrid = False
        self.has_due_dates = False
        """Whether any item carried a due date: the overdue backlog is then a series too."""
        self._overdue_emitted = False
        self.compacted: set[str] = set()
        """Items whose event sets were dropped (``compact``); their contributions stay."""
        self.trimmed: set[str] = set()
        """Items dropped wholly (``trim``): no events, no contribution, none of their spans or
        instants in the aggregators but the two the load features count at any instant (the
        open backlog's counters and the arrivals); their risk crossings are kept aside."""
        self.trimmed_crossings: dict[str, dict[str, tuple[RiskCrossing, ...]]] = {}
        self.frozen: dict[str, list[PeriodMeasure]] = {}
        """Per KPI, the measures of the periods ending at or before ``frozen_to`` (``trim``)."""
        self.frozen_to: datetime | None = None

    # -- contributions ---------------------------------------------------------------------------

    def history(self, event_source: str, item_id: str, kind: ItemKind) -> ItemHistory:
        if item_id in self.compacted or item_id in self.trimmed:
            raise EngineStateError(
                f"an event for item {item_id!r} of {event_source!r}, whose event history was "
                "compacted: restore its stored events first (ContractEngine.restore)"
            )
        history = self.items.get(item_id)
        if history is None:
            history = self.items[item_id] = ItemHistory(event_source, item_id, kind)
        return history

    def compact(self, watermark: datetime) -> int:
        """Drop the event sets of the items done with: no open span or clock, and nothing of
        their contribution after ``watermark``. Their contributions stay in the aggregators, so
        no row changes; a later event for one needs ``restore`` first."""
        dropped = 0
        for item_id in self.compactable(watermark):
            del self.items[item_id]
            self.compacted.add(item_id)
            dropped += 1
        return dropped

    def compactable(self, watermark: datetime) -> list[str]:
        """The items ``compact`` drops at ``watermark``."""
        # the items not compacted yet: open work, and recent
        return [i for i in self.items if _settled(self.contributions[i], watermark)]

    def restore(self, item_id: str, history: ItemHistory) -> None:
        """Put a compacted item's event set back (its contribution is unchanged by it); a
        trimmed item's contribution is derived again from it and put back in the aggregators
        (the same spans and instants ``trim`` took out: a function of the events)."""
        if item_id in self.trimmed:
            contribution = contribution_of(history, self.plan, self.contract, self.zone)
            for key, spans in contribution.spans.items():
                family = self.spans.setdefault(key, SpanMultiset())
                if isinstance(family, CountedSpanMultiset):
                    family.readd(item_id, spans)
                else:
                    family.add(item_id, spans)
            for key, instants in contribution.instants.items():
                if key != ARRIVALS:  # never taken out
                    self.instants.setdefault(key, InstantMultiset()).add(item_id, instants)
            self.contributions[item_id] = contribution
            self.trimmed.discard(item_id)
            self.trimmed_crossings.pop(item_id, None)
        self.compacted.discard(item_id)
        self.items[item_id] = history

    # -- trimming behind a horizon ---------------------------------------------------------

    def trim_point(self, freeze: datetime, last: datetime) -> datetime | None:
        """The earliest instant a step that changes nothing before ``freeze`` may read: the
        start of the "to date" window of ``freeze`` for every KPI, of every period ending after
        ``freeze`` (and of its trend baseline), and the sample before ``freeze`` on every grid.
        None: nothing to trim (no grid yet)."""
        if self.first is None or self.grid is None:
            return None
        point = freeze
        steps = [self.step] + [
            parse_duration(k.sample_every) for k in self.kpis if isinstance(k, ThresholdKpi)
        ]
        point = min(point, freeze - max(steps))
        for kpi in self.kpis:
            point = min(point, self.windows.earliest(kpi.period, freeze))
            for period in periods_of(kpi, self.first, last, self.zone):
                if period.end <= freeze:
                    continue
                point = min(point, period.start)
                if isinstance(kpi, TrendKpi):
                    point = min(point, trend.baseline(kpi, period, self.zone).start)
        return point

    def freeze(self, freeze: datetime, last: datetime, watermark: datetime) -> None:
        """Keep the measures of the periods ending at or before ``freeze`` (final: ``freeze``
        is not after ``watermark``), so ``measures`` no longer reads their aggregators."""
        held: dict[str, list[PeriodMeasure]] = {}
        for measure in self.measures(last, watermark):
            if measure.period.end <= freeze:
                held.setdefault(measure.kpi.id, []).append(measure)
        self.frozen, self.frozen_to = held, freeze

    def trimmable(self, point: datetime) -> list[str]:
        """The compacted items whose every span and instant lies before ``point``."""
        return [i for i in sorted(self.compacted) if _before(self.contributions[i], point)]

    def trim_items(self, point: datetime) -> int:
        """Drop the compacted items whose every span and instant lies before ``point``."""
        gone = self.trimmable(point)
        for item_id in gone:
            contribution = self.contributions.pop(item_id)
            for key in contribution.spans:
                family = self.spans[key]
                if isinstance(family, CountedSpanMultiset):
                    family.forget(item_id)
                else:
                    family.retract(item_id)
            for key in contribution.instants:
                if key != ARRIVALS:  # the load features count arrivals at any instant
                    self.instants[key].retract(item_id)
            crossings = {k: c for k, c in contribution.risk_crossings.items() if c}
            if crossings:
                self.trimmed_crossings[item_id] = crossings
            self.compacted.discard(item_id)
            self.trimmed.add(item_id)
        return len(gone)

    def grid_trims(self, point: datetime, freeze: datetime) -> dict[int, int]:
        """How many instants each grid (by ``id`` of its instants) drops: those before
        ``point``, keeping one before ``freeze`` (the lower bound of the first slice a step may
        recount)."""
        grids = [] if self.grid is None else [self.grid]
        grids.extend(self.threshold_grids.values())
        return {id(grid.instants): _trim_count(grid, point, freeze) for grid in grids}

    def trim_grids(self, counts: dict[int, int], point: datetime) -> None:
        """Drop the heads ``grid_trims`` counted (the series stored on them are trimmed by the
        engine first), and what is kept per threshold sample and per grid instant."""
        for kpi_id, tgrid in self.threshold_grids.items():
            count = counts.get(id(tgrid.instants), 0)
            del self.within[kpi_id][:count]
            del self.within_prefix[kpi_id][:count]
        grids = [] if self.grid is None else [self.grid]
        grids.extend(self.threshold_grids.values())
        for grid in grids:
            del grid.instants[: counts.get(id(grid.instants), 0)]
        self.windows.forget_before(point)

    def check_change(self, moment: datetime) -> None:
        if self.frozen_to is not None and moment < self.frozen_to:
            raise TrimmedStateNeeded(
                f"service {self.service_id!r}: a change from {moment.isoformat()} reaches behind "
                f"the trimmed horizon ({self.frozen_to.isoformat()}): rebuild the engine from "
                "every event seen"
            )

    def apply(self, touched: Iterable[str]) -> None:
        """Swap the touched items' contributions; remember from where the series changed."""
        for item_id in touched:
            item = self.items[item_id]
            old = self.contributions.get(item_id)
            new = contribution_of(item, self.plan, self.contract, self.zone)
            if item.due_dates.at:
                self.has_due_dates = True
            self.contributions[item_id] = new
            first = item.first_event_at
            if self.first is not None and first < self.first:
                self.check_change(first)
            if self.first is None or first < self.first:
                if self.grid is not None and self.first is not None:
                    self.regrid = self.regrid or self._grids_move(self.first, first)
                self.first = first
            for key, spans in new.spans.items():
                before = () if old is None else old.spans.get(key, ())
                moment = spans_differ_from(before, spans)
                if moment is not None:
                    self.check_change(moment)
                    self._mark(moment)
                    self.spans.setdefault(key, SpanMultiset()).replace(item_id, spans)
            for key, instants in new.instants.items():
                before_i = () if old is None else old.instants.get(key, ())
                moment = instants_differ_from(before_i, instants)
                if moment is not None:
                    self.check_change(moment)
                    self._mark(moment)
                    self.instants.setdefault(key, InstantMultiset()).replace(item_id, instants)
            for kpi_id, holders in self.open_clock_items.items():
                if kpi_id in new.open_clocks:
                    holders.add(item_id)
                else:
                    holders.discard(item_id)

    def _grids_move(self, before: datetime, after: datetime) -> bool:
        """Whether an earlier first event moves the start of any of the service's grids."""
        steps = [self.step] + [
            parse_duration(k.sample_every) for k in self.kpis if isinstance(k, ThresholdKpi)
        ]
        return any(
            SampleGrid.starts_at(after, step, self.zone)
            != SampleGrid.starts_at(before, step, self.zone)
            for step in steps
        )

    def _mark(self, moment: datetime) -> None:
        if self.dirty is None or moment < self.dirty:
            self.dirty = moment

    def _families_ready(self) -> None:
        for prios in self.plan.open_filters:
            self.spans.setdefault(open_family(prios), SpanMultiset())
        for prios in self.plan.overdue_filters:
            self.spans.setdefault(overdue_family(prios), SpanMultiset())
        for key in (ARRIVALS, COMPLETIONS, REASSIGNMENTS):
            self.instants.setdefault(key, InstantMultiset())
        for kpi in self.plan.clock_kpis:
            for name in ("measured", "past_risk", "at_risk", "breached", "forecast"):
                self.spans.setdefault((name, kpi.id), SpanMultiset())
            for name in ("resolutions", "met"):
                self.instants.setdefault((name, kpi.id), InstantMultiset())
        for key, _ in self.plan.selectors:
            self.instants.setdefault(key, InstantMultiset())
        for key in quality_families(self.plan.quality_items):
            self.instants.setdefault(key, InstantMultiset())

    # -- series ----------------------------------------------------------------------------------

    def series(self, last: datetime, full: bool = False) -> list[SeriesTail]:
        """The new tails of every series (see the module doc); ``full``: from the start."""
        if self.first is None:
            return []
        self._families_ready()
        if self.grid is None or self.regrid or full:
            if self.frozen_to is not None:
                raise TrimmedStateNeeded(
                    f"service {self.service_id!r}: its grids move, and were trimmed: rebuild "
                    "the engine from every event seen"
                )
            self._overdue_emitted = False
            self.grid = SampleGrid(self.first, last, self.step, self.zone)
            self.threshold_grids = {}
            self.within, self.within_prefix = {}, {}
            lo = 0
        else:
            known = len(self.grid)
            self.grid.extend_to(last)
            lo = known if self.dirty is None else min(known, self.grid.index_from(self.dirty))
        tails: list[SeriesTail] = []
        grid = self.grid.instants
        if lo < len(grid):
            tails.extend(self._service_tails(grid, lo))
        if self.orders or self.has_due_dates:
            if not self._overdue_emitted:  # a new series (the first due date): all of it
                if self.frozen_to is not None:
                    raise TrimmedStateNeeded(
                        f"service {self.service_id!r}: the overdue backlog starts, over a "
                        "trimmed grid: rebuild the engine from every event seen"
                    )
                tails.append(self._overdue_tail(grid, 0))
                self._overdue_emitted = True
            elif lo < len(grid):
                tails.append(self._overdue_tail(grid, lo))
        for kpi in self.kpis:
            if isinstance(kpi, ThresholdKpi):
                tails.extend(self._threshold_tails(kpi, last))
            elif lo < len(grid):
                tails.extend(self._kpi_tails(kpi, grid, lo))
        self.dirty = None
        self.regrid = False
        return tails

    def _tail(
        self, kpi: str, indicator: str, grid: list[datetime], lo: int, values: list[float | None]
    ) -> SeriesTail:
        return SeriesTail((self.service_id, kpi, indicator), grid, lo, values)

    def _service_tails(self, grid: list[datetime], lo: int) -> list[SeriesTail]:
        start = grid[lo]
        opened = self.spans[open_family(None)].reaching(start)
        p50, p90 = age_percentiles(grid, lo, opened)
        arrivals = count_in_slices(grid, lo, self.instants[ARRIVALS])
        completions = count_in_slices(grid, lo, self.instants[COMPLETIONS])
        out = [
            self._tail(
                SERVICE_WIDE, "open_backlog", grid, lo, _floats(count_spans(grid, lo, opened))
            ),
            self._tail(SERVICE_WIDE, "backlog_age_p50_seconds", grid, lo, list(p50)),
            self._tail(SERVICE_WIDE, "backlog_age_p90_seconds", grid, lo, list(p90)),
            self._tail(SERVICE_WIDE, "arrivals", grid, lo, _floats(arrivals)),
            self._tail(SERVICE_WIDE, "completions", grid, lo, _floats(completions)),
            self._tail(
                SERVICE_WIDE,
                "arrival_completion_ratio",
                grid,
                lo,
                list(ratios(arrivals, completions)),
            ),
            self._tail(
                SERVICE_WIDE,
                "reassignments",
                grid,
                lo,
                _floats(count_in_slices(grid, lo, self.instants[REASSIGNMENTS])),
            ),
        ]
        out.extend(
            self._tail(SERVICE_WIDE, name, grid, lo, values)
            for name, values in quality_series(grid, lo, self.instants)
        )
        return out

    def _overdue_tail(self, grid: list[datetime], lo: int) -> SeriesTail:
        """The overdue backlog, a series once any item has a due date. Its first tail is the
        whole grid, even in a step that adds no sample (the first due date can arrive in one)."""
        overdue = self.spans[overdue_family(None)].reaching(grid[lo])
        values = _floats(count_spans(grid, lo, overdue))
        return self._tail(SERVICE_WIDE, "overdue_backlog", grid, lo, values)

    def _kpi_tails(self, kpi: KpiBase, grid: list[datetime], lo: int) -> list[SeriesTail]:
        named: list[tuple[str, list[float | None]]]
        if isinstance(kpi, TimeToTargetKpi):
            named = time_to_target.series(kpi, grid, lo, self.spans, self.instants, self.windows)
        elif isinstance(kpi, RatioKpi):
            named = ratio.series(kpi, grid, lo, self.instants, self.windows)
        elif isinstance(kpi, TrendKpi):
            named = trend.series(kpi, grid, lo, self.instants, self.windows)
        elif isinstance(kpi, DataQualityKpi):
            named = data_quality.series(kpi, grid, lo, self.instants, self.windows)
        else:
            return []
        return [self._tail(kpi.id, name, grid, lo, values) for name, values in named]

    def _threshold_tails(self, kpi: ThresholdKpi, last: datetime) -> list[SeriesTail]:
        assert self.first is not None
        tgrid = self.threshold_grids.get(kpi.id)
        if tgrid is None:
            tgrid = self.threshold_grids[kpi.id] = SampleGrid(
                self.first, last, parse_duration(kpi.sample_every), self.zone
            )
            self.within[kpi.id] = []
            self.within_prefix[kpi.id] = [0]
            lo = 0
        else:
            known = len(tgrid)
            tgrid.extend_to(last)
            lo = known if self.dirty is None else min(known, tgrid.index_from(self.dirty))
        grid = tgrid.instants
        if lo >= len(grid):
            return []
        values = threshold.gauge_values(kpi, grid, lo, self.spans, self.instants)
        within_tail = threshold.within_bound(kpi, values)
        within = self.within[kpi.id]
        del within[lo:]
        within.extend(within_tail)
        running = self.within_prefix[kpi.id]
        del running[lo + 1 :]
        for w in within_tail:
            running.append(running[-1] + (1 if w else 0))
        shares = threshold.attainment_to_date(kpi, grid, lo, within, self.windows)
        return [
            self._tail(kpi.id, "gauge_value", grid, lo, list(values)),
            self._tail(kpi.id, "within_bound", grid, lo, [1.0 if w else 0.0 for w in within_tail]),
            self._tail(kpi.id, "attainment_to_date", grid, lo, shares),
        ]

    # -- period measures ---------------------------------------------------------------------------

    def measures(self, last: datetime, watermark: datetime | None) -> list[PeriodMeasure]:
        if self.first is None:
            return []
        out: list[PeriodMeasure] = []
        sid = self.service_id
        for kpi in self.kpis:
            periods = periods_of(kpi, self.first, last, self.zone)
            if self.frozen_to is not None:
                frozen_to = self.frozen_to
                out.extend(self.frozen.get(kpi.id, ()))
                periods = [p for p in periods if p.end > frozen_to]
            if isinstance(kpi, TimeToTargetKpi):
                out.extend(time_to_target.measures(kpi, sid, periods, watermark, self.instants))
            elif isinstance(kpi, RatioKpi):
                out.extend(ratio.measures(kpi, sid, periods, watermark, self.instants))
            elif isinstance(kpi, ThresholdKpi):
                grid = self.threshold_grids[kpi.id].instants
                out.extend(
                    threshold.measures(
                        kpi, sid, periods, watermark, grid, self.within_prefix[kpi.id]
                    )
                )
            elif isinstance(kpi, TrendKpi):
                out.extend(
                    trend.measures(
                        kpi, sid, periods, watermark, self.instants, self.first, last, self.zone
                    )
                )
            elif isinstance(kpi, DataQualityKpi):
                out.extend(data_quality.measures(kpi, sid, periods, watermark, self.instants))
        return out


def _settled(contribution: Contribution, watermark: datetime) -> bool:
    """Whether no clock is open and every span ends, and every instant is, by ``watermark``."""
    return _ends_by(contribution, watermark, instants_at_limit=True)


def _before(contribution: Contribution, point: datetime) -> bool:
    """Whether every span of the contribution ends, and every instant is, before ``point``."""
    return _ends_by(contribution, point, instants_at_limit=False)


def _ends_by(contribution: Contribution, limit: datetime, instants_at_limit: bool) -> bool:
    """No open clock, every span ended by ``limit``, every instant before it (or at it, when
    ``instants_at_limit``)."""
    if contribution.open_clocks:
        return False
    for spans in contribution.spans.values():
        for _, end, _ in spans:
            if end is None or end > limit:
                return False
    for instants in contribution.instants.values():
        for at, _ in instants:
            if at > limit or (at == limit and not instants_at_limit):
                return False
    return True


def _trim_count(grid: SampleGrid, point: datetime, freeze: datetime) -> int:
    return max(0, min(grid.index_from(point), grid.index_from(freeze) - 1))


def _floats(values: list[int]) -> list[float | None]:
    return [float(v) for v in values]


__all__ = ["SeriesKey", "SeriesTail", "ServiceState", "prefix"]
