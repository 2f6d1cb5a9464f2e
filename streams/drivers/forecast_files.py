"""``pulse backtest --predictions FILE`` / ``--forecasts FILE`` / ``--drift FILE``: what the
forecasting would have said on history, as CSV files.

* predictions: every open clock at every instant of the contract's sample grid (or a coarser
  ``--predictions-every``), with the breach probability the online model gave *then*
  (``forecast.open_clocks.grid_predictions``);
* forecasts: each KPI's running period forecast at the sample instants
  (``forecast.period_forecast``), in the columns of ``pulse_period_forecasts``;
* drift: the drift signals of the leading indicators (``forecast.drift``), in the
  columns of ``pulse_drift_signals``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from outcome_pulse.processors.errors import ConfigError
from outcome_pulse.processors.forecast.drift import DriftSignal, drift_signals, final_series
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.streams.drivers.backtest import BacktestResult, forecasts_over_history


def write_rows(path: Path, kind: type, rows: Iterable[Any]) -> int:
    """Write dataclass rows of ``kind`` as CSV (times ISO 8601, empty for None); the count."""
    columns = [f.name for f in fields(kind)]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    count = 0
    with handle as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(_cell(value) for value in asdict(row).values())
            count += 1
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def columns_of(kind: type) -> Sequence[str]:
    return [f.name for f in fields(kind)]


def forecasts_of(result: BacktestResult, every: timedelta) -> list[PeriodForecast]:
    """Period forecasts at every ``every`` (from the first local midnight) and at the end."""
    assert result.engine is not None
    return forecasts_over_history(result.engine, every)


def drift_of(result: BacktestResult) -> list[DriftSignal]:
    zone = ZoneInfo(result.contract.client.time_zone)
    series = final_series(result.iter_points())
    return drift_signals(result.contract.contract, zone, series)
