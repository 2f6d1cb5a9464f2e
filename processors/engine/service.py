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
from outcome_pulse.processors.engine.to_date import ToDateWindows, prefix
from outcome_pulse.processors.errors import EngineStateError
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

    # -- contributions ---------------------------------------------------------------------------

    def history(self, event_source: str, item_id: str, kind: ItemKind) -> ItemHistory:
        if item_id in self.compacted:
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
        """Put a compacted item's event set back (its contribution is unchanged by it)."""
        self.compacted.discard(item_id)
        self.items[item_id] = history

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
            if self.first is None or first < self.first:
                if self.grid is not None and self.first is not None:
                    self.regrid = self.regrid or self._grids_move(self.first, first)
                self.first = first
            for key, spans in new.spans.items():
                before = () if old is None else old.spans.get(key, ())
                moment = spans_differ_from(before, spans)
                if moment is not None:
                    self._mark(moment)
                    family = self.spans.setdefault(key, SpanMultiset())
                    family.retract(item_id)
                    family.add(item_id, spans)
            for key, instants in new.instants.items():
                before_i = () if old is None else old.instants.get(key, ())
                moment = instants_differ_from(before_i, instants)
                if moment is not None:
                    self._mark(moment)
                    ifamily = self.instants.setdefault(key, InstantMultiset())
                    ifamily.retract(item_id)
                    ifamily.add(item_id, instants)
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
    if contribution.open_clocks:
        return False
    for spans in contribution.spans.values():
        for _, end, _ in spans:
            if end is None or end > watermark:
                return False
    for instants in contribution.instants.values():
        for at, _ in instants:
            if at > watermark:
                return False
    return True


def _floats(values: list[int]) -> list[float | None]:
    return [float(v) for v in values]


__all__ = ["SeriesKey", "SeriesTail", "ServiceState", "prefix"]
