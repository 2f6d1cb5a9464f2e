"""The alert rules' inputs from the forecasting model: the one function both drivers call.

``model_alert_inputs`` is ``engine_inputs.alert_inputs`` plus what ``processors.forecast``
says, converted to the rules' shapes (``inputs``):

* ``drift``: the drift signals of the leading indicators (``forecast.drift``: read from the
  final samples only, so a function of the set of events: the backtest computes them from its
  final points at the end, ``forecast.drift.drift_signals``, the monitor keeps them with a
  ``DriftTracker`` fed each round's final samples, and both give the same rows after the same
  events). ``PulseIndicatorDrift`` fires on them.
* ``forecasts``: period forecasts *over history*, one per KPI at each instant they were made
  (``PulseKpiForecastToMiss`` then reads ``p_meet_target`` instead of the naive forecast);
* ``predictions``: breach probabilities of every open clock at every sample instant
  (``PulseItemAboutToBreach`` then reads the probability instead of the at-risk share).

A forecast or prediction history is what the model said at each past instant: only the
backtest over every item's history computes it today (``forecast.period_outlook
.period_forecasts`` and ``forecast.open_clocks.grid_predictions``); the streaming monitor keeps
the model at the latest event time only, so it passes ``drift`` alone (see README, "Alerts").
``None`` for an input means "not given": the rule falls back to what the engine measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from outcome_pulse.processors.alerting.engine_inputs import alert_inputs
from outcome_pulse.processors.alerting.inputs import (
    AlertInputs,
    BreachPrediction,
    DriftSignal,
    PeriodForecast,
)
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.forecast import drift as forecast_drift
from outcome_pulse.processors.forecast import open_clocks as forecast_clocks
from outcome_pulse.processors.forecast import period_forecast as forecast_period
from outcome_pulse.processors.measurements import IndicatorPoint


def drift_inputs(signals: Iterable[forecast_drift.DriftSignal]) -> list[DriftSignal]:
    return [
        DriftSignal(
            s.service,
            s.indicator,
            s.detected_at,
            s.started_at,
            s.direction,
            s.size,
            s.baseline,
            s.observed,
        )
        for s in signals
    ]


def forecast_inputs(forecasts: Iterable[forecast_period.PeriodForecast]) -> list[PeriodForecast]:
    return [
        PeriodForecast(
            f.service,
            f.kpi,
            f.period_start,
            f.period_end,
            f.as_of,
            f.expected_attainment,
            f.p_meet_target,
            f.budget_left_target,
        )
        for f in forecasts
    ]


def prediction_inputs(
    predictions: Iterable[forecast_clocks.BreachPrediction],
) -> list[BreachPrediction]:
    return [
        BreachPrediction(
            p.contract,
            p.service,
            p.kpi,
            p.item_id,
            p.at,
            p.priority,
            p.elapsed_share,
            p.probability,
        )
        for p in predictions
    ]


def model_alert_inputs(
    evaluation: ContractEvaluation,
    points: Iterable[IndicatorPoint] | None,
    *,
    drift: Sequence[forecast_drift.DriftSignal],
    forecasts: Sequence[forecast_period.PeriodForecast] | None = None,
    predictions: Sequence[forecast_clocks.BreachPrediction] | None = None,
) -> AlertInputs | None:
    """What the rules read after the engine evaluated, with the model's outputs (see the
    module doc); None before the engine saw any event."""
    return alert_inputs(
        evaluation,
        points,
        drift=drift_inputs(drift),
        forecasts=None if forecasts is None else forecast_inputs(forecasts),
        predictions=None if predictions is None else prediction_inputs(predictions),
    )


__all__ = ["drift_inputs", "forecast_inputs", "model_alert_inputs", "prediction_inputs"]
