"""The ratio KPI: good events over total events (two event selectors), to date and per period.
Each item's contribution: the times of its events each selector matches."""

from __future__ import annotations

from datetime import datetime

from outcome_pulse.processors.contract import RatioKpi
from outcome_pulse.processors.engine.contribution import selected_family
from outcome_pulse.processors.engine.kpis.measure import share_measures, share_series
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
    total, good = selected_family(kpi.id, "total"), selected_family(kpi.id, "good")
    return share_series(kpi, grid, lo, instants[total], instants[good], windows)


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
