"""What the alerting side consumes from the forecasting, as plain rows.

* ``ClockRisk``: one open clock's breach probability and time left, read at ``as_of`` (from an
  ``OpenClock`` of the engine; ``clock_risks`` picks the riskiest first);
* ``period_forecast.PeriodForecast``: one KPI's running period: expected attainment,
  p(meet target), p(meet minimum), budget left, expected credit (the ``pulse_period_forecasts``
  row);
* ``drift.DriftSignal``: one leading indicator's drift against its seasonal baseline: direction,
  size, start, detection time (the ``pulse_drift_signals`` row).

All times are UTC event times; all three are deterministic functions of the set of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.measurements import OpenClock


@dataclass(frozen=True, slots=True)
class ClockRisk:
    """An open clock about to breach, or not: ``probability`` (None: no model yet),
    ``seconds_left`` of business time before its target is used up (0 once breached),
    ``breach_at`` when that happens if it keeps running (None while paused)."""

    contract: str
    service: str
    kpi: str
    item_id: str
    priority: str | None
    as_of: datetime
    probability: float | None
    seconds_left: float
    breach_at: datetime | None
    breached: bool

    @classmethod
    def of(cls, clock: OpenClock) -> ClockRisk:
        return cls(
            clock.contract,
            clock.service,
            clock.kpi,
            clock.item_id,
            clock.priority,
            clock.as_of,
            clock.breach_probability,
            max(clock.target_seconds - clock.elapsed_seconds, 0.0),
            clock.breach_at,
            clock.breached,
        )


def clock_risks(clocks: Iterable[OpenClock], top: int | None = None) -> list[ClockRisk]:
    """Open clocks not yet breached, riskiest first (probability, then least time left)."""
    risks = [ClockRisk.of(c) for c in clocks if not c.breached]
    risks.sort(key=lambda r: (-(r.probability or 0.0), r.seconds_left, r.kpi, r.item_id))
    return risks if top is None else risks[:top]


__all__ = ["ClockRisk", "DriftSignal", "PeriodForecast", "clock_risks"]
