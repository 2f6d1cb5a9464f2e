"""A period's error budget, to date: exhausted, or forecast to be (the naive forecast).

The budget of a period is the misses it may have and still meet the target:
``(1 - target) x expected volume``, where the expected volume is the larger of the items measured
so far and the previous period's volume (the volume is not known before the period ends). The
budget is *exhausted* once the misses so far exceed it; the naive *forecast to miss* adds the
running items that will breach before the period ends if nothing changes (the engine's
``breaches_forecast``). A period expected to hold fewer items than the KPI's minimum volume is
not judged, so it raises neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from outcome_pulse.processors.alerting.episodes import Sample
from outcome_pulse.processors.alerting.inputs import KpiCounts


@dataclass(frozen=True, slots=True)
class BudgetToDate:
    at: datetime
    period_start: datetime
    period_end: datetime
    good: int
    bad: int
    expected_volume: int
    allowed: float
    forecast_bad: int | None

    @property
    def measured(self) -> int:
        return self.good + self.bad


def budget_to_date(counts: KpiCounts, target: float) -> Iterator[BudgetToDate]:
    previous_total: int | None = None
    start: datetime | None = None
    good = bad = 0
    for index, at in enumerate(counts.grid):
        if counts.period_starts[index] != start:
            if start is not None:
                previous_total = good + bad
            start = counts.period_starts[index]
            good = bad = 0
        good += counts.good[index]
        bad += counts.bad[index]
        expected = max(good + bad, previous_total or 0)
        yield BudgetToDate(
            at,
            start,
            counts.period_ends[index],
            good,
            bad,
            expected,
            (1.0 - target) * expected,
            None if counts.forecast_bad is None else counts.forecast_bad[index],
        )


def _facts(b: BudgetToDate, target: float) -> dict[str, object]:
    return {
        "good": b.good,
        "bad": b.bad,
        "measured": b.measured,
        "expected": b.expected_volume,
        "allowed": b.allowed,
        "target": target,
        "forecast_bad": b.forecast_bad,
        "period_start": b.period_start,
        "period_end": b.period_end,
    }


def exhausted_samples(counts: KpiCounts, target: float, minimum_volume: int) -> list[Sample]:
    out = []
    least = max(1, minimum_volume)
    for b in budget_to_date(counts, target):
        if b.expected_volume >= least and b.bad > b.allowed:
            used = b.bad / b.allowed if b.allowed > 0 else float(b.bad)
            out.append(Sample(b.at, True, used, b.period_end, _facts(b, target)))
        else:
            out.append(Sample(b.at, False, None, b.period_end))
    return out


def naive_forecast_samples(counts: KpiCounts, target: float, minimum_volume: int) -> list[Sample]:
    """Misses so far plus forecast breaches against the budget (needs ``forecast_bad``)."""
    out = []
    for b in budget_to_date(counts, target):
        projected = b.bad + (b.forecast_bad or 0)
        expected = max(b.expected_volume, b.measured + (b.forecast_bad or 0))
        allowed = (1.0 - target) * expected
        if expected >= max(1, minimum_volume) and projected > allowed:
            facts = _facts(b, target) | {"projected_bad": projected, "allowed": allowed}
            attainment = 1.0 - projected / expected
            out.append(Sample(b.at, True, attainment, b.period_end, facts))
        else:
            out.append(Sample(b.at, False, None, b.period_end))
    return out


__all__ = ["BudgetToDate", "budget_to_date", "exhausted_samples", "naive_forecast_samples"]
