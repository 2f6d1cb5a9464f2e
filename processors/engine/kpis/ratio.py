"""The ratio KPI: good events over total events (two event selectors), to date and per period.
Each item's contribution: the times of its events each selector matches."""

from __future__ import annotations

from datetime import datetime

from outcome_pulse.processors.contract import RatioKpi
from outcome_pulse.processors.engine.contribution import selected_family
from outcome_pulse.processors.engine.kpis.measure import share_measures
from outcome_pulse.processors.engine.multisets import InstantMultiset
from outcome_pulse.processors.engine.to_date import ToDateWindows
from outcome_pulse.processors.periods import Period
from outcome_pulse.processors.settlement import PeriodMeasure


def series(
    kpi: RatioKpi,
    grid: list[datetime],
    lo: int,
    instants: dict[tuple[str, ...], InstantMultiset],
    windows: ToDateWindows,
) -> list[tuple[str, list[float | None]]]:
    earliest = windows.earliest(kpi.period, grid[lo])
    good = [at for at, _ in instants[selected_family(kpi.id, "good")].between(earliest, grid[-1])]
    total = [at for at, _ in instants[selected_family(kpi.id, "total")].between(earliest, grid[-1])]
    shares: list[float | None] = []
    for index in range(lo, len(grid)):
        first, last = windows.indices(kpi.period, total, grid[index])
        gfirst, glast = windows.indices(kpi.period, good, grid[index])
        shares.append((glast - gfirst) / (last - first) if last > first else None)
    return [
        ("good_to_date", windows.counts(kpi.period, good, grid, lo)),
        ("total_to_date", windows.counts(kpi.period, total, grid, lo)),
        ("attainment_to_date", shares),
    ]


def measures(
    kpi: RatioKpi,
    service: str,
    periods: list[Period],
    watermark: datetime | None,
    instants: dict[tuple[str, ...], InstantMultiset],
) -> list[PeriodMeasure]:
    return share_measures(
        kpi,
        service,
        periods,
        watermark,
        instants[selected_family(kpi.id, "total")],
        instants[selected_family(kpi.id, "good")],
    )
