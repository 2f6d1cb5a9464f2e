"""The column order of the forecasting rows (``pulse_period_forecasts``,
``pulse_drift_signals``) and their statements by name (``sinks/sql/dml/forecasts.sql``).

The columns are the fields of ``PeriodForecast`` and ``DriftSignal``, in their order, so a row
tuple, its INSERT and the dataclass built back from a SELECT cannot drift apart.
"""

from __future__ import annotations

from dataclasses import fields

from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.sinks.sql_text import statements

FORECAST_COLUMNS = tuple(f.name for f in fields(PeriodForecast))
DRIFT_COLUMNS = tuple(f.name for f in fields(DriftSignal))

_SQL = statements(
    "forecasts",
    forecast_columns=", ".join(FORECAST_COLUMNS),
    forecast_params=", ".join(["%s"] * len(FORECAST_COLUMNS)),
    drift_columns=", ".join(DRIFT_COLUMNS),
    drift_params=", ".join(["%s"] * len(DRIFT_COLUMNS)),
)

DELETE_FORECASTS = _SQL["delete_forecasts"]
INSERT_FORECAST = _SQL["insert_forecast"]
SELECT_FORECASTS = _SQL["select_forecasts"]
DELETE_DRIFT_SIGNALS = _SQL["delete_drift_signals"]
INSERT_DRIFT_SIGNAL = _SQL["insert_drift_signal"]
SELECT_DRIFT_SIGNALS = _SQL["select_drift_signals"]
