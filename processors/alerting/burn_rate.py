"""Multiwindow, multi-burn-rate alerts on a KPI's count-based error budget (SRE workbook ch. 5).

The error budget of a period is the share of its items allowed to miss: ``1 - target``. The
burn rate over a window is the share of the window's items that missed, over that budget: 1
spends the budget exactly over the period, 14.4 spends 2% of a 30-day budget in one hour. As in
Sloth and Pyrra, each window pair fires while both its long window (is the burn significant?)
and its short window (is it still going on?) burn faster than the pair's factor, and the pairs
of one severity combine with "or" into one alert.

Counting is per slice of the KPI's event-time grid: a window ``W`` read at instant ``t`` holds
the slices whose instant lies in ``(t - W, t]``, and at least the slice ending at ``t`` (so a
window shorter than the sample step is one step long).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from outcome_pulse.processors.alerting.episodes import Sample
from outcome_pulse.processors.alerting.inputs import KpiCounts
from outcome_pulse.processors.alerting.rules import BurnRateRule, Severity, scaled


@dataclass(frozen=True, slots=True)
class _Window:
    long: timedelta
    short: timedelta
    factor: float
    severity: Severity


def _prefix(values: tuple[int, ...]) -> list[int]:
    out = [0]
    for value in values:
        out.append(out[-1] + value)
    return out


class _Counter:
    """Bad and total counts in windows ending at each grid instant (prefix sums, and each
    window's first slice found by one forward pass per window length)."""

    def __init__(self, counts: KpiCounts) -> None:
        self.grid = counts.grid
        self.bad = _prefix(counts.bad)
        self.total = _prefix(tuple(g + b for g, b in zip(counts.good, counts.bad, strict=True)))
        self._starts: dict[timedelta, list[int]] = {}

    def starts(self, length: timedelta) -> list[int]:
        """Per instant, the first slice in ``(instant - length, instant]`` (at least itself)."""
        known = self._starts.get(length)
        if known is not None:
            return known
        out: list[int] = []
        lo = 0
        for index, at in enumerate(self.grid):
            edge = at - length
            while lo < index and self.grid[lo] <= edge:
                lo += 1
            out.append(lo)
        self._starts[length] = out
        return out


def burn_samples(
    counts: KpiCounts, target: float, period_length: timedelta, rule: BurnRateRule
) -> Iterator[tuple[Severity, list[Sample]]]:
    """Per severity, the rule's verdict at every grid instant (none if the budget is zero)."""
    budget = 1.0 - target
    if budget <= 0 or not counts.grid:
        return
    windows = [
        _Window(*scaled(w, period_length, rule.scale_to_period), w.factor, w.severity)
        for w in rule.windows
    ]
    counter = _Counter(counts)
    severities: tuple[Severity, ...] = ("page", "ticket")
    for severity in severities:
        mine = [w for w in windows if w.severity == severity]
        if not mine:
            continue
        samples = [Sample(at, False, None) for at in counts.grid]
        for window in mine:
            _fire(counter, window, budget, rule.min_events, samples)
        yield severity, samples


def _fire(
    counter: _Counter, window: _Window, budget: float, min_events: int, samples: list[Sample]
) -> None:
    """Mark the instants where ``window`` fires (keeping the highest long-window burn)."""
    bad, total, grid = counter.bad, counter.total, counter.grid
    long_starts, short_starts = counter.starts(window.long), counter.starts(window.short)
    limit = window.factor * budget
    for index in range(len(grid)):
        end = index + 1
        s = short_starts[index]
        bad_short = bad[end] - bad[s]
        if not bad_short:
            continue
        total_short = total[end] - total[s]
        if bad_short <= limit * total_short:
            continue
        lo = long_starts[index]
        bad_long, total_long = bad[end] - bad[lo], total[end] - total[lo]
        if total_long < min_events or bad_long <= limit * total_long:
            continue
        long_rate = bad_long / total_long / budget
        held = samples[index]
        if held.firing and held.value is not None and held.value >= long_rate:
            continue
        facts = {
            "long": window.long,
            "short": window.short,
            "factor": window.factor,
            "long_rate": long_rate,
            "short_rate": bad_short / total_short / budget,
            "bad": bad_long,
            "total": total_long,
        }
        samples[index] = Sample(grid[index], True, long_rate, None, facts)


__all__ = ["burn_samples"]
