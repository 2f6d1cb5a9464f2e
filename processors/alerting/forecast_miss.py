"""A running period forecast to miss its target, from the period forecasts when they exist.

Each forecast (read at ``as_of``) is one sample: firing while ``p_meet_target`` is below the
rule's threshold (a forecast without a probability: while its expected attainment is below the
target). Without forecasts the rule uses the naive forecast of ``budget``.
"""

from __future__ import annotations

from collections.abc import Iterable

from outcome_pulse.processors.alerting.episodes import Sample
from outcome_pulse.processors.alerting.inputs import PeriodForecast


def forecast_samples(
    forecasts: Iterable[PeriodForecast], kpi: str, target: float, p_below: float
) -> list[Sample]:
    out = []
    for f in sorted((f for f in forecasts if f.kpi == kpi), key=lambda f: f.as_of):
        if f.p_meet_target is not None:
            firing, value = f.p_meet_target < p_below, f.p_meet_target
        elif f.expected_attainment is not None:
            firing, value = f.expected_attainment < target, f.expected_attainment
        else:
            firing, value = False, None
        facts = {
            "p_meet_target": f.p_meet_target,
            "expected_attainment": f.expected_attainment,
            "budget_left": f.budget_left_target,
            "target": target,
            "period_start": f.period_start,
            "period_end": f.period_end,
        }
        out.append(Sample(f.as_of, firing, value, f.period_end, facts))
    return out


__all__ = ["forecast_samples"]
