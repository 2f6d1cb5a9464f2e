"""The threshold KPI: a gauge (backlog, overdue backlog, an age percentile, items at risk, or
arrivals per completion) sampled on the KPI's own grid and compared with a bound; the measure
is the share of a period's samples within the bound.

The gauge is one of the service indicators over the KPI's items (``indicators``), so its
contributions are theirs; the series are re-derived from the first sample a change reaches."""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta

from outcome_pulse.processors.contract import ThresholdKpi
from outcome_pulse.processors.engine.contribution import (
    ARRIVALS,
    COMPLETIONS,
    clock_family,
    open_family,
    overdue_family,
)
from outcome_pulse.processors.engine.indicators.backlog import count_spans
from outcome_pulse.processors.engine.indicators.backlog_age import age_percentiles
from outcome_pulse.processors.engine.indicators.flow import count_in_slices, ratios
from outcome_pulse.processors.engine.kpis.measure import period_measure
from outcome_pulse.processors.engine.multisets import InstantMultiset, SpanMultiset
from outcome_pulse.processors.engine.to_date import ToDateWindows
from outcome_pulse.processors.periods import Period
from outcome_pulse.processors.settlement import PeriodMeasure


def gauge_values(
    kpi: ThresholdKpi,
    grid: list[datetime],
    lo: int,
    spans: dict[tuple[str, ...], SpanMultiset],
    instants: dict[tuple[str, ...], InstantMultiset],
) -> list[float]:
    start = grid[lo]
    gauge = kpi.gauge
    if gauge == "open_backlog":
        reaching = spans[open_family(kpi.priorities)].reaching(start)
        return [float(v) for v in count_spans(grid, lo, reaching)]
    if gauge == "overdue_backlog":
        reaching = spans[overdue_family(kpi.priorities)].reaching(start)
        return [float(v) for v in count_spans(grid, lo, reaching)]
    if gauge in ("backlog_age_p50", "backlog_age_p90"):
        reaching = spans[open_family(kpi.priorities)].reaching(start)
        p50, p90 = age_percentiles(grid, lo, reaching)
        return p50 if gauge == "backlog_age_p50" else p90
    if gauge == "items_at_risk":
        reaching = spans[clock_family("at_risk", str(kpi.clock_kpi))].reaching(start)
        return [float(v) for v in count_spans(grid, lo, reaching)]
    arrivals = count_in_slices(grid, lo, instants[ARRIVALS])
    completions = count_in_slices(grid, lo, instants[COMPLETIONS])
    return ratios(arrivals, completions)


def within_bound(kpi: ThresholdKpi, values: list[float]) -> list[bool]:
    bound = kpi.bound_value()
    limit = bound.total_seconds() if isinstance(bound, timedelta) else float(bound)
    return [v <= limit if kpi.op == "<=" else v >= limit for v in values]


def attainment_to_date(
    kpi: ThresholdKpi,
    grid: list[datetime],
    lo: int,
    within: list[bool],
    windows: ToDateWindows,
) -> list[float | None]:
    """The share of samples within the bound to date, at ``grid[lo:]`` (``within`` covers the
    whole grid)."""
    first = bisect_left(grid, windows.earliest(kpi.period, grid[lo]))
    local = grid[first:]
    within_times = [g for g, w in zip(local, within[first:], strict=True) if w]
    shares: list[float | None] = []
    for index in range(lo, len(grid)):
        g = grid[index]
        a, b = windows.indices(kpi.period, local, g)
        wa, wb = windows.indices(kpi.period, within_times, g)
        shares.append((wb - wa) / (b - a) if b > a else None)
    return shares


def measures(
    kpi: ThresholdKpi,
    service: str,
    periods: list[Period],
    watermark: datetime | None,
    grid: list[datetime],
    within_prefix: list[int],
) -> list[PeriodMeasure]:
    out = []
    for period in periods:
        lo, hi = bisect_left(grid, period.start), bisect_left(grid, period.end)
        n = hi - lo
        g = within_prefix[hi] - within_prefix[lo]
        out.append(period_measure(kpi, service, period, watermark, n, g, g / n if n else None))
    return out
