"""The time-to-target KPI: per-item SLA clocks against a target per priority.

Its items' contributions are their clock spans (``indicators.at_risk``) and resolutions (each
clock stop, met or missed, with its elapsed business time). From the resolutions: the series
met, missed, attainment and mean time to resolve to date, and the share met per period."""

from __future__ import annotations

from datetime import datetime

from outcome_pulse.processors.contract import TimeToTargetKpi
from outcome_pulse.processors.engine.contribution import clock_family
from outcome_pulse.processors.engine.indicators.at_risk import at_risk_series
from outcome_pulse.processors.engine.kpis.measure import share_measures
from outcome_pulse.processors.engine.multisets import InstantMultiset, SpanMultiset
from outcome_pulse.processors.engine.to_date import ToDateWindows, prefix
from outcome_pulse.processors.periods import Period
from outcome_pulse.processors.settlement import PeriodMeasure


def series(
    kpi: TimeToTargetKpi,
    grid: list[datetime],
    lo: int,
    spans: dict[tuple[str, ...], SpanMultiset],
    instants: dict[tuple[str, ...], InstantMultiset],
    windows: ToDateWindows,
) -> list[tuple[str, list[float | None]]]:
    out = at_risk_series(kpi.id, grid, lo, spans)
    resolutions = instants[clock_family("resolutions", kpi.id)]
    local = resolutions.between(windows.earliest(kpi.period, grid[lo]), grid[-1])
    times = [at for at, _ in local]
    met_prefix = prefix([1 if payload[0] else 0 for _, payload in local])
    micros_prefix = prefix([int(payload[1]) for _, payload in local])  # type: ignore[call-overload]
    met_series: list[float | None] = []
    missed_series: list[float | None] = []
    attainment: list[float | None] = []
    mttr: list[float | None] = []
    for index in range(lo, len(grid)):
        first, last = windows.indices(kpi.period, times, grid[index])
        met = met_prefix[last] - met_prefix[first]
        total = last - first
        met_series.append(float(met))
        missed_series.append(float(total - met))
        attainment.append(met / total if total else None)
        mttr.append((micros_prefix[last] - micros_prefix[first]) / total / 1e6 if total else None)
    out.append(("met_to_date", met_series))
    out.append(("missed_to_date", missed_series))
    out.append(("attainment_to_date", attainment))
    out.append(("mttr_seconds", mttr))
    return out


def measures(
    kpi: TimeToTargetKpi,
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
        instants[clock_family("resolutions", kpi.id)],
        instants[clock_family("met", kpi.id)],
    )
