""" "To date" windows: a value at sample instant ``g`` counts what happened from the start of
``g``'s contract period (calendar KPIs: ``[period start, g]``; rolling KPIs of N days:
``(g - N days, g]``). A change at instant ``t`` reaches only the samples whose window holds
``t``, so a recomputation from some sample on reads only the instants from its window's start.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.contract import PeriodSpec
from outcome_pulse.processors.periods import calendar_period


class ToDateWindows:
    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        # Where the month or quarter of a grid instant starts: fixed, so kept across rounds.
        self._starts: dict[tuple[datetime, str], datetime] = {}

    def period_start(self, g: datetime, kind: str) -> datetime:
        key = (g, kind)
        begins = self._starts.get(key)
        if begins is None:
            begins = self._starts[key] = calendar_period(g, kind, self.zone).start
        return begins

    def forget_before(self, moment: datetime) -> None:
        """Drop the cached period starts of grid instants before ``moment`` (trimmed grids)."""
        self._starts = {key: at for key, at in self._starts.items() if key[0] >= moment}

    def earliest(self, period: PeriodSpec, g: datetime) -> datetime:
        """The earliest instant the window of ``g`` may hold."""
        if period.is_rolling:
            assert period.days is not None
            return g - timedelta(days=period.days)
        return self.period_start(g, period.kind)

    def indices(self, period: PeriodSpec, times: list[datetime], g: datetime) -> tuple[int, int]:
        """``[lo, hi)``: the positions in sorted ``times`` inside the window of ``g``."""
        if period.is_rolling:
            assert period.days is not None
            start = g - timedelta(days=period.days)
            return bisect.bisect_right(times, start), bisect.bisect_right(times, g)
        begins = self.period_start(g, period.kind)
        return bisect.bisect_left(times, begins), bisect.bisect_right(times, g)

    def counts(
        self, period: PeriodSpec, times: list[datetime], grid: list[datetime], lo: int
    ) -> list[float | None]:
        out: list[float | None] = []
        for index in range(lo, len(grid)):
            first, last = self.indices(period, times, grid[index])
            out.append(float(last - first))
        return out


def prefix(values: list[int]) -> list[int]:
    out = [0]
    for value in values:
        out.append(out[-1] + value)
    return out
