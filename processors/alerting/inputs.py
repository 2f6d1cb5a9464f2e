"""What the alert rules read: small, plain shapes of the contract engine's outputs.

The engine (``processors.evaluation``) and the forecasting models produce these; the rules
do not care how. ``engine_inputs`` builds them from a ``ContractEvaluation``; predictions, period
forecasts and drift signals are optional and the rules fall back to what the engine measures
when they are absent (see ``rules``).

* ``KpiCounts``: a share KPI's good and bad counts per slice ``(previous instant, instant]`` of
  an event-time grid, with the period each instant belongs to (``period_starts``/``ends``).
  Time-to-target KPIs count resolutions within / past target, ratio KPIs good and other events,
  threshold KPIs samples within / outside the bound. ``forecast_bad`` (optional) is the number
  of running items at each instant that will breach before the period ends if nothing changes.
* ``ItemRiskSpan``: an item's clock was past the at-risk share of its target, not breached,
  over ``[start, end)`` (``end`` None: still so at the evaluation instant).
* ``BreachPrediction`` (or any ``Prediction``): an open item's breach probability at a sample
  instant (the forecast model's per-sample output, ``pulse backtest --predictions``).
* ``PeriodForecast``: a running period's forecast at ``as_of`` (as ``pulse_period_forecasts``).
* ``DriftSignal``: a leading indicator's drift (as ``pulse_drift_signals``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KpiCounts:
    service: str
    kpi: str
    grid: tuple[datetime, ...]
    good: tuple[int, ...]
    bad: tuple[int, ...]
    period_starts: tuple[datetime, ...]
    period_ends: tuple[datetime, ...]
    forecast_bad: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.grid)
        lengths = {len(self.good), len(self.bad), len(self.period_starts), len(self.period_ends)}
        if self.forecast_bad is not None:
            lengths.add(len(self.forecast_bad))
        if lengths != {n}:
            raise ValueError(f"KpiCounts {self.kpi}: every column needs {n} values (one each)")


@dataclass(frozen=True, slots=True)
class ItemRiskSpan:
    service: str
    kpi: str
    item_id: str
    priority: str | None
    start: datetime
    end: datetime | None
    breach_at: datetime | None
    """When the item breaches if its clock keeps running (None: unknown)."""
    target_seconds: float


class Prediction(Protocol):
    """What the item rule reads of a breach prediction (any class with these attributes)."""

    @property
    def service(self) -> str: ...
    @property
    def kpi(self) -> str: ...
    @property
    def item_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def elapsed_share(self) -> float: ...
    @property
    def probability(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class BreachPrediction:
    """An open clock's breach probability at a grid instant, in the shape of the forecasting
    model's output (``processors.forecast``, branch ``forecast``): ``None`` while no model has
    learned enough."""

    contract: str
    service: str
    kpi: str
    item_id: str
    at: datetime
    priority: str | None
    elapsed_share: float
    probability: float | None


@dataclass(frozen=True, slots=True)
class PeriodForecast:
    service: str
    kpi: str
    period_start: datetime
    period_end: datetime
    as_of: datetime
    expected_attainment: float | None
    p_meet_target: float | None
    budget_left_target: int | None = None


@dataclass(frozen=True, slots=True)
class DriftSignal:
    service: str
    indicator: str
    detected_at: datetime
    started_at: datetime
    direction: str
    size: float
    baseline: float | None = None
    observed: float | None = None


@dataclass(frozen=True, slots=True)
class AlertInputs:
    """Everything the rules of one contract read, up to the evaluation instant ``now``."""

    now: datetime
    counts: tuple[KpiCounts, ...] = ()
    risk_spans: tuple[ItemRiskSpan, ...] = ()
    predictions: tuple[Prediction, ...] | None = None
    forecasts: tuple[PeriodForecast, ...] | None = None
    drift: tuple[DriftSignal, ...] | None = None
    sample_every: dict[str, float] = field(default_factory=dict)
    """Seconds between the instants of each KPI's predictions (to see an item leave)."""


__all__ = [
    "AlertInputs",
    "BreachPrediction",
    "DriftSignal",
    "ItemRiskSpan",
    "KpiCounts",
    "PeriodForecast",
    "Prediction",
]
