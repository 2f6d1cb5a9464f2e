"""The forecasting rows the contract monitor keeps in the database, per contract.

``ForecastRows.write`` runs in the monitor's tick after the evaluation stepped: the running
periods' forecasts at the latest event time (``ContractEngine.period_forecasts``) replace the
contract's ``pulse_period_forecasts`` rows, and the drift signals (a ``forecast.drift.DriftTracker``
fed the final samples of the watched series as the watermark moves; started over after a
correction of final rows) replace its ``pulse_drift_signals`` rows. A table is only written when
its rows changed. Both are functions of the set of events, so after the same events they are
the rows ``pulse backtest --forecasts/--drift`` gives for the last instant.
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import Contract
from outcome_pulse.processors.evaluation import ContractEvaluation
from outcome_pulse.processors.forecast.drift import WATCHED, DriftSignal, DriftTracker
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.sinks.monitor_store import MonitorTick


class ForecastRows:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.drift = DriftTracker(contract.contract, ZoneInfo(contract.client.time_zone))
        self._forecasts: list[PeriodForecast] | None = None
        self._signals: list[DriftSignal] | None = None

    @property
    def signals(self) -> list[DriftSignal]:
        """The drift signals last written (none before the first write)."""
        return list(self._signals or ())

    def compute(
        self, evaluation: ContractEvaluation, corrected: bool
    ) -> tuple[list[PeriodForecast], list[DriftSignal]]:
        """The rows after a step; ``corrected``: the step changed final rows (late events)."""
        if corrected:
            self.drift.reset()
        self.drift.update(evaluation.final_series(WATCHED))
        return evaluation.period_forecasts(), self.drift.signals()

    async def write(
        self, tick: MonitorTick, evaluation: ContractEvaluation, corrected: bool
    ) -> None:
        forecasts, signals = await asyncio.to_thread(self.compute, evaluation, corrected)
        contract = self.contract.contract
        if forecasts != self._forecasts:
            await tick.replace_forecasts(contract, forecasts)
            self._forecasts = forecasts
        if signals != self._signals:
            await tick.replace_drift_signals(contract, signals)
            self._signals = signals
