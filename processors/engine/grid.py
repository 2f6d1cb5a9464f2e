"""A sample grid that grows with event time: the instants that
``outcome_pulse.processors.periods.sample_grid`` gives for ``[first, last]``, extended in place
as ``last`` moves on."""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outcome_pulse.processors.periods import is_whole_days, local_midnight, sample_grid

_DAY = timedelta(days=1)


class SampleGrid:
    def __init__(self, first: datetime, last: datetime, step: timedelta, zone: ZoneInfo) -> None:
        self.step = step
        self.zone = zone
        self.instants: list[datetime] = sample_grid(first, last, step, zone)
        self.start = sample_grid(first, first, step, zone)[0]
        self._days = step // _DAY if is_whole_days(step) else 0
        if self._days:
            self._next_day = first.astimezone(zone).date() + _DAY * self._days * len(self.instants)
        self.last = last

    @staticmethod
    def starts_at(first: datetime, step: timedelta, zone: ZoneInfo) -> datetime:
        """The grid's first instant for a history starting at ``first``."""
        return sample_grid(first, first, step, zone)[0]

    def extend_to(self, last: datetime) -> None:
        """Append the instants up to ``last`` (inclusive)."""
        if last <= self.last:
            return
        self.last = last
        instants = self.instants
        if self._days:
            step_days = _DAY * self._days
            instant = local_midnight(self._next_day, self.zone)
            while instant <= last:
                instants.append(instant)
                self._next_day += step_days
                instant = local_midnight(self._next_day, self.zone)
            return
        instant = (instants[-1] if instants else self.start - self.step) + self.step
        while instant <= last:
            instants.append(instant)
            instant += self.step

    def index_from(self, moment: datetime) -> int:
        """The first index whose instant is at or after ``moment``."""
        return bisect_left(self.instants, moment)

    def __len__(self) -> int:
        return len(self.instants)
