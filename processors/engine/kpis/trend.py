"""The trend KPI: the volume of selected events in a period against a baseline period (the
previous one, or the same one a year earlier); while a period runs it is compared with the
baseline as far in. Each item's contribution: the times of its events the selector matches."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import TrendKpi
from outcome_pulse.processors.engine.contribution import selected_family
from outcome_pulse.processors.engine.kpis.measure import count_between, period_measure
from outcome_pulse.processors.engine.multisets import InstantMultiset
from outcome_pulse.processors.engine.to_date import ToDateWindows
from outcome_pulse.processors.periods import Period, shift_period
from outcome_pulse.processors.settlement import PeriodMeasure


def series(
    kpi: TrendKpi,
    grid: list[datetime],
    lo: int,
    instants: dict[tuple[str, ...], InstantMultiset],
    windows: ToDateWindows,
) -> list[tuple[str, list[float | None]]]:
    earliest = windows.earliest(kpi.period, grid[lo])
    times = [at for at, _ in instants[selected_family(kpi.id, "count")].between(earliest, grid[-1])]
    return [("volume_to_date", windows.counts(kpi.period, times, grid, lo))]


def measures(
    kpi: TrendKpi,
    service: str,
    periods: list[Period],
    watermark: datetime | None,
    instants: dict[tuple[str, ...], InstantMultiset],
    first: datetime,
    last: datetime,
    zone: ZoneInfo,
) -> list[PeriodMeasure]:
    times = instants[selected_family(kpi.id, "count")]
    out = []
    for period in periods:
        count = count_between(times, period.start, period.end)
        base = baseline(kpi, period, zone)
        if base.end <= first:
            out.append(
                period_measure(
                    kpi, service, period, watermark, count, count, None, None, no_baseline=True
                )
            )
            continue
        base_end = base.end
        if period.end > last:  # still going: compare with the baseline as far in
            base_end = min(base.end, base.start + (last - period.start))
        base_count = count_between(times, base.start, base_end)
        change = (count - base_count) / base_count if base_count else None
        out.append(
            period_measure(
                kpi,
                service,
                period,
                watermark,
                count,
                count,
                change,
                base_count,
                no_baseline=base_count == 0,
            )
        )
    return out


def baseline(kpi: TrendKpi, period: Period, zone: ZoneInfo) -> Period:
    if kpi.period.is_rolling:
        length = period.end - period.start
        back = length if kpi.baseline == "previous_period" else timedelta(days=364)
        return Period(period.start - back, period.end - back, "baseline")
    months = (3 if kpi.period.kind == "quarter" else 1) if kpi.baseline == "previous_period" else 12
    return shift_period(period, kpi.period.kind, zone, -months)
