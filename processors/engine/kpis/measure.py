"""One KPI's measure in one period (``PeriodMeasure``), as every KPI kind states it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import KpiBase
from outcome_pulse.processors.engine.multisets import InstantMultiset
from outcome_pulse.processors.engine.to_date import ToDateWindows
from outcome_pulse.processors.periods import Period, periods_covering
from outcome_pulse.processors.settlement import PeriodMeasure


def periods_of(kpi: KpiBase, first: datetime, last: datetime, zone: ZoneInfo) -> list[Period]:
    return periods_covering(first, last, kpi.period.kind, zone, kpi.period.days)


def period_measure(
    kpi: KpiBase,
    service: str,
    period: Period,
    watermark: datetime | None,
    measured: int,
    good: int,
    measure: float | None,
    baseline: int | None = None,
    no_baseline: bool = False,
) -> PeriodMeasure:
    name = f"rolling {kpi.period.days}d" if kpi.period.is_rolling else kpi.period.kind
    final = watermark is not None and period.end <= watermark
    if measured < kpi.minimum_volume:
        measure = None
    return PeriodMeasure(
        kpi, service, period, name, measured, good, baseline, measure, final, no_baseline
    )


def count_between(instants: InstantMultiset, start: datetime, end: datetime) -> int:
    """Instants in ``[start, end)``."""
    return instants.count_before(end) - instants.count_before(start)


def share_measures(
    kpi: KpiBase,
    service: str,
    periods: list[Period],
    watermark: datetime | None,
    total: InstantMultiset,
    good: InstantMultiset,
) -> list[PeriodMeasure]:
    out = []
    for period in periods:
        n = count_between(total, period.start, period.end)
        g = count_between(good, period.start, period.end)
        out.append(period_measure(kpi, service, period, watermark, n, g, g / n if n else None))
    return out


def share_series(
    kpi: KpiBase,
    grid: list[datetime],
    lo: int,
    total: InstantMultiset,
    good: InstantMultiset,
    windows: ToDateWindows,
) -> list[tuple[str, list[float | None]]]:
    """The to-date series of a share KPI (good instants over total instants in the period to
    date) for the samples ``grid[lo:]``."""
    earliest = windows.earliest(kpi.period, grid[lo])
    good_at = [at for at, _ in good.between(earliest, grid[-1])]
    total_at = [at for at, _ in total.between(earliest, grid[-1])]
    shares: list[float | None] = []
    for index in range(lo, len(grid)):
        first, last = windows.indices(kpi.period, total_at, grid[index])
        gfirst, glast = windows.indices(kpi.period, good_at, grid[index])
        shares.append((glast - gfirst) / (last - first) if last > first else None)
    return [
        ("good_to_date", windows.counts(kpi.period, good_at, grid, lo)),
        ("total_to_date", windows.counts(kpi.period, total_at, grid, lo)),
        ("attainment_to_date", shares),
    ]
