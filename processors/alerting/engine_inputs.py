"""``AlertInputs`` from the contract engine: the one place that knows the engine's shapes.

Per-KPI good/bad counts come from the engine's published indicator series (the rows of
``pulse_indicator_points``): time-to-target KPIs' ``met_to_date``/``missed_to_date``, ratio KPIs'
``good_to_date``/``total_to_date``, threshold KPIs' ``within_bound``. The "to date" series run
from the start of each calendar period, so a slice's count is the difference from the previous
instant of the same period (the first instant of a period counts from the period's start).
Rolling KPIs' windows slide, so their slices cannot be recovered from the series: they get no
counts (no burn-rate, budget or forecast alerts), only item alerts. ``breaches_forecast`` gives
the naive forecast's running breaches.

Items at risk come from the engine's risk crossings (``ContractEngine.risk_crossings``): for
every item ever seen, the event time its clock passed the KPI's at-risk share and when that
ended (it breached, or the clock stopped). They are part of each item's contribution, so they
survive the compaction of the items the engine is done with: the item rule fires in event time
for items at risk in the past as for those at risk now. When the engine is rewritten, only this
module follows it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from outcome_pulse.processors.alerting.inputs import (
    AlertInputs,
    BreachPrediction,
    DriftSignal,
    ItemRiskSpan,
    KpiCounts,
    PeriodForecast,
)
from outcome_pulse.processors.contract import (
    Contract,
    KpiBase,
    RatioKpi,
    ThresholdKpi,
    TimeToTargetKpi,
)
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.measurements import IndicatorPoint
from outcome_pulse.processors.periods import Period, calendar_period

_WANTED = {
    "met_to_date",
    "missed_to_date",
    "good_to_date",
    "total_to_date",
    "within_bound",
    "breaches_forecast",
}

SERIES_READ = frozenset(_WANTED)
"""The indicators whose series ``alert_inputs`` reads over the whole history."""


SeriesByKpi = dict[tuple[str, str], dict[datetime, float]]


def counts_from_points(contract: Contract, points: Iterable[IndicatorPoint]) -> list[KpiCounts]:
    series: SeriesByKpi = defaultdict(dict)
    for p in points:
        if p.indicator in _WANTED:
            series[(p.kpi, p.indicator)][p.at] = p.value
    return counts_from_series(contract, series)


def counts_from_series(contract: Contract, series: SeriesByKpi) -> list[KpiCounts]:
    zone = ZoneInfo(contract.client.time_zone)
    out = []
    for kpi in contract.kpis:
        if kpi.period.is_rolling:
            continue
        counts = _kpi_counts(kpi, series, zone)
        if counts is not None:
            out.append(counts)
    return out


def _kpi_counts(kpi: KpiBase, series: SeriesByKpi, zone: ZoneInfo) -> KpiCounts | None:
    if isinstance(kpi, ThresholdKpi):
        within = series.get((kpi.id, "within_bound"))
        if not within:
            return None
        slices = sorted(within)
        inside = [int(within[g]) for g in slices]
        return _with_periods(kpi, slices, inside, [1 - v for v in inside], None, zone)
    if isinstance(kpi, TimeToTargetKpi):
        good_name, bad_name, total = "met_to_date", "missed_to_date", False
    elif isinstance(kpi, RatioKpi):
        good_name, bad_name, total = "good_to_date", "total_to_date", True
    else:
        return None
    good_td = series.get((kpi.id, good_name))
    other_td = series.get((kpi.id, bad_name))
    if not good_td or not other_td:
        return None
    grid = sorted(good_td)
    periods = _periods_of(grid, kpi.period.kind, zone)
    starts = [p.start for p in periods]
    good: list[int] = []
    bad: list[int] = []
    for index, g in enumerate(grid):
        same = index > 0 and starts[index - 1] == starts[index]
        gv = int(good_td[g])
        bv = int(other_td.get(g, 0.0)) - (gv if total else 0)
        if same:
            prev = grid[index - 1]
            pg = int(good_td[prev])
            pb = int(other_td.get(prev, 0.0)) - (pg if total else 0)
            good.append(gv - pg)
            bad.append(bv - pb)
        else:
            good.append(gv)
            bad.append(bv)
    forecast = series.get((kpi.id, "breaches_forecast"))
    forecast_bad = [int(forecast.get(g, 0.0)) for g in grid] if forecast else None
    return _with_periods(kpi, grid, good, bad, forecast_bad, zone, periods)


def _periods_of(grid: Sequence[datetime], kind: str, zone: ZoneInfo) -> list[Period]:
    """The calendar period of each grid instant (computed once per period, not per instant)."""
    out: list[Period] = []
    current: Period | None = None
    for g in grid:
        if current is None or not current.start <= g < current.end:
            current = calendar_period(g, kind, zone)
        out.append(current)
    return out


def _with_periods(
    kpi: KpiBase,
    grid: Sequence[datetime],
    good: Sequence[int],
    bad: Sequence[int],
    forecast_bad: Sequence[int] | None,
    zone: ZoneInfo,
    periods: Sequence[Period] | None = None,
) -> KpiCounts:
    if periods is None:
        periods = _periods_of(grid, kpi.period.kind, zone)
    return KpiCounts(
        kpi.service,
        kpi.id,
        tuple(grid),
        tuple(good),
        tuple(bad),
        tuple(p.start for p in periods),
        tuple(p.end for p in periods),
        None if forecast_bad is None else tuple(forecast_bad),
    )


def risk_spans(evaluation: ContractEvaluation) -> list[ItemRiskSpan]:
    """Every stretch over which an item's time-to-target clock was at risk (past the KPI's
    at-risk share, not breached), from the engine's risk crossings: every item ever seen,
    compacted ones included, by KPI, item and time."""
    out: list[ItemRiskSpan] = []
    for (service, kpi), crossings in sorted(evaluation.risk_crossings().items()):
        out.extend(
            ItemRiskSpan(
                service,
                kpi,
                c.item_id,
                c.priority,
                c.at,
                c.until,
                c.breach_at,
                c.target_seconds,
            )
            for c in crossings
        )
    return out


def alert_inputs(
    evaluation: ContractEvaluation,
    points: Iterable[IndicatorPoint] | None = None,
    *,
    predictions: Sequence[BreachPrediction] | None = None,
    forecasts: Sequence[PeriodForecast] | None = None,
    drift: Sequence[DriftSignal] | None = None,
) -> AlertInputs | None:
    """What the rules read after the engine evaluated (None before it saw any event): from
    ``points`` when given, else from the engine's latest ``step`` or ``rebuild`` (the values of
    its published series, ``evaluation.series_values``)."""
    now = evaluation.max_time
    if now is None:
        return None
    contract = evaluation.contract
    if points is None:
        counts = counts_from_series(contract, evaluation.series_values(_WANTED))
    else:
        counts = counts_from_points(contract, points)
    return AlertInputs(
        now=now,
        counts=tuple(counts),
        risk_spans=tuple(risk_spans(evaluation)),
        predictions=None if predictions is None else tuple(predictions),
        forecasts=None if forecasts is None else tuple(forecasts),
        drift=None if drift is None else tuple(drift),
        sample_every={k.id: contract.monitoring.step.total_seconds() for k in contract.kpis},
    )


__all__ = ["SERIES_READ", "alert_inputs", "counts_from_points", "risk_spans"]
