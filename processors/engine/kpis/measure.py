"""One KPI's measure in one period (``PeriodMeasure``), as every KPI kind states it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import KpiBase
from outcome_pulse.processors.engine.multisets import InstantMultiset
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
