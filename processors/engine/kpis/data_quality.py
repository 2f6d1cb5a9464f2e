"""The data-quality KPI: the share of the period's events (or of the items opened in it) that
carry a priority or an assignee, to date and per period (``good`` carrying it, ``total`` all).
Its contributions are the data-quality indicators' (``indicators.data_quality``); over items,
the total is the arrivals."""

from __future__ import annotations

from datetime import datetime

from outcome_pulse.processors.contract import DataQualityKpi
from outcome_pulse.processors.engine.contribution import ARRIVALS
from outcome_pulse.processors.engine.indicators.data_quality import (
    EVENTS,
    FamilyKey,
    events_with,
    items_with,
)
from outcome_pulse.processors.engine.kpis.measure import share_measures, share_series
from outcome_pulse.processors.engine.multisets import InstantMultiset
from outcome_pulse.processors.engine.to_date import ToDateWindows
from outcome_pulse.processors.periods import Period
from outcome_pulse.processors.settlement import PeriodMeasure


def families(kpi: DataQualityKpi) -> tuple[FamilyKey, FamilyKey]:
    """``(total, good)``: the families counted by ``kpi``."""
    if kpi.of == "items":
        return ARRIVALS, items_with(kpi.field, kpi.period.kind)
    return EVENTS, events_with(kpi.field)


def series(
    kpi: DataQualityKpi,
    grid: list[datetime],
    lo: int,
    instants: dict[FamilyKey, InstantMultiset],
    windows: ToDateWindows,
) -> list[tuple[str, list[float | None]]]:
    total_key, good_key = families(kpi)
    return share_series(kpi, grid, lo, instants[total_key], instants[good_key], windows)


def measures(
    kpi: DataQualityKpi,
    service: str,
    periods: list[Period],
    watermark: datetime | None,
    instants: dict[FamilyKey, InstantMultiset],
) -> list[PeriodMeasure]:
    total_key, good_key = families(kpi)
    return share_measures(kpi, service, periods, watermark, instants[total_key], instants[good_key])
