"""Business calendars and exact business-time arithmetic.

A ``BusinessCalendar`` says when the clock of a service promise runs: an IANA time zone, the
working intervals of each weekday in that zone's wall-clock time (several per day allowed, e.g.
``08:00-12:00`` and ``13:00-17:00``), and holidays as dates in that zone. ``always()`` is the 24x7
calendar. Every instant going in may carry any offset; every instant coming out is UTC.

Wall-clock time and daylight saving
-----------------------------------
A working interval is two *local* times of one date. Each is turned into a UTC instant on that
date, and business time is the real time elapsed inside those instants. So ``09:00-17:00`` is
8 hours on every working day, including the days the clocks change (the change happens at night).
An interval that contains a change measures what a stopwatch would: ``00:00-24:00`` is 23 hours
on the spring-forward day and 25 hours on the fall-back day, which is what makes a 24x7 calendar
equal to wall time in every zone. Local times that do not exist (inside a spring-forward gap) are
moved to the first instant after the gap; ambiguous local times (in a fall-back overlap) mean
their first occurrence. Both rules keep the local-to-UTC map monotonic, so intervals never
overlap or run backwards.

Cost
----
Each date's intervals are converted once and cached on the calendar. The arithmetic reads a
*timeline*: the working spans of a run of consecutive dates, in time order, as integer
microseconds, each with the business time before it. The business time before an instant is one
bisection into it, so ``business_time_between`` is two and ``add_business_time`` one more
(bisecting the running totals), whatever the span's length. The timeline grows to cover the
dates asked about (it doubles, so it is rebuilt a few times at most); past ``_CACHE_LIMIT`` dates
the arithmetic walks day by day instead, skipping whole days by their cached totals.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECONDS_PER_DAY = 86_400
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_CACHE_LIMIT = 50_000  # dates per calendar (over a century of days); cleared when exceeded
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = _EPOCH.date()
_MICRO = timedelta(microseconds=1)
_DAY_MICROS = 86_400_000_000
# A working span of date d lies within [UTC midnight of d - 1, UTC midnight of d + 2): local
# midnights are within 15 hours of UTC's. So an instant of UTC day u is after every span of the
# dates before u - 1 and before every span of the dates after u + 1.
_MARGIN = 2

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

Span = tuple[datetime, datetime]
"""A half-open interval of UTC instants ``[start, end)``."""


def _seconds_of(text: str) -> int:
    """``"09:30"`` -> 34200; ``"24:00"`` is the end of the day."""
    match = _CLOCK.match(text.strip())
    if match is None:
        raise ValueError(f"expected a time of day as HH:MM (got {text!r})")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    if minutes > 59 or seconds > 59 or hours > 24 or (hours == 24 and minutes + seconds > 0):
        raise ValueError(f"expected a time of day between 00:00 and 24:00 (got {text!r})")
    return hours * 3600 + minutes * 60 + seconds


def _clock_text(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


@dataclass(frozen=True, slots=True, order=True)
class WorkingInterval:
    """Working time ``[start, end)`` of one day, in seconds after local midnight (end <= 24:00)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= SECONDS_PER_DAY:
            raise ValueError(
                f"expected 00:00 <= start < end <= 24:00 "
                f"(got {_clock_text(self.start)}-{_clock_text(self.end)})"
            )

    @classmethod
    def parse(cls, text: str) -> WorkingInterval:
        """``"09:00-17:30"`` (``24:00`` allowed as an end)."""
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"expected a working interval such as 09:00-17:00 (got {text!r})")
        return cls(_seconds_of(start), _seconds_of(end))

    @property
    def length(self) -> timedelta:
        return timedelta(seconds=self.end - self.start)

    def __str__(self) -> str:
        return f"{_clock_text(self.start)}-{_clock_text(self.end)}"


Day = tuple[WorkingInterval, ...]
Week = tuple[Day, Day, Day, Day, Day, Day, Day]
"""Working intervals per weekday, Monday first (``date.weekday()`` order)."""

_FULL_DAY: Day = (WorkingInterval(0, SECONDS_PER_DAY),)


def require_aware(moment: datetime, name: str = "time") -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {moment.isoformat()})")


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When business time runs: a time zone, working intervals per weekday and holidays.

    Build one with ``BusinessCalendar.weekly(...)`` or ``BusinessCalendar.always()``; the
    constructor takes the normalised form (``week`` has seven sorted, non-overlapping days).
    """

    time_zone: str
    week: Week
    holidays: frozenset[date] = frozenset()
    name: str = ""
    yearly_holidays: frozenset[tuple[int, int]] = frozenset()
    """(month, day) pairs that are holidays every year."""
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _spans: dict[date, tuple[Span, ...]] = field(init=False, repr=False, compare=False)
    _totals: dict[date, timedelta] = field(init=False, repr=False, compare=False)
    _timeline: _Timeline = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA time zone name such as UTC or Europe/Brussels "
                f"(got {self.time_zone!r})"
            ) from None
        if len(self.week) != 7:
            raise ValueError(f"expected working intervals for 7 weekdays (got {len(self.week)})")
        for name, day in zip(WEEKDAY_NAMES, self.week, strict=True):
            for before, after in pairwise(day):
                if after.start < before.end:
                    raise ValueError(
                        f"{name}: working intervals must be sorted and must not overlap "
                        f"({before} and {after})"
                    )
        if not any(self.week):
            raise ValueError("expected working hours on at least one weekday")
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_spans", {})
        object.__setattr__(self, "_totals", {})
        object.__setattr__(self, "_timeline", _Timeline())

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def always(cls, time_zone: str = "UTC", name: str = "24x7") -> BusinessCalendar:
        """The 24x7 calendar: business time equals wall time."""
        return cls(time_zone, (_FULL_DAY,) * 7, frozenset(), name)

    @classmethod
    def weekly(
        cls,
        time_zone: str,
        hours: Mapping[int | str, Iterable[str | WorkingInterval]],
        holidays: Iterable[date] = (),
        name: str = "",
        *,
        yearly_holidays: Iterable[tuple[int, int]] = (),
    ) -> BusinessCalendar:
        """Build from ``{"mon": ["09:00-17:00"], 5: [...]}``: weekday names or numbers (0 = Monday).

        Weekdays not named have no working time.
        """
        days: list[list[WorkingInterval]] = [[] for _ in range(7)]
        for key, intervals in hours.items():
            index = weekday_index(key)
            for item in intervals:
                days[index].append(
                    item if isinstance(item, WorkingInterval) else WorkingInterval.parse(item)
                )
        week = tuple(tuple(sorted(day)) for day in days)
        yearly = frozenset(yearly_holidays)
        return cls(time_zone, week, frozenset(holidays), name, yearly)  # type: ignore[arg-type]

    # -- what it is -----------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def is_always(self) -> bool:
        """Whether this is a 24x7 calendar (every day 00:00-24:00, no holidays)."""
        return (
            not self.holidays
            and not self.yearly_holidays
            and all(day == _FULL_DAY for day in self.week)
        )

    def weekly_hours(self) -> timedelta:
        """Nominal working time of a week without holidays (clock changes ignored)."""
        return sum((iv.length for day in self.week for iv in day), ZERO)

    # -- arithmetic -----------------------------------------------------------------------------

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end``; negative when ``end`` is before ``start``.

        Exact to the microsecond, and additive: ``between(a, b) + between(b, c) == between(a, c)``
        for any three instants.
        """
        require_aware(start, "start")
        require_aware(end, "end")
        if end < start:
            return -self.business_time_between(end, start)
        if self.is_always:
            return end - start
        lo, hi = _micros(start), _micros(end)
        if self._covers(lo // _DAY_MICROS, hi // _DAY_MICROS):
            timeline = self._timeline
            return (timeline.before(hi) - timeline.before(lo)) * _MICRO
        return self._walk_between(start, end)

    def _walk_between(self, start: datetime, end: datetime) -> timedelta:
        """``business_time_between`` (``start <= end``) day by day (past the timeline's reach)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        # One day either side: an interval of one date can hold instants whose local date is
        # the next or previous one around a clock change at midnight.
        first = self.local_date(start) - _ONE_DAY
        last = self.local_date(end) + _ONE_DAY
        total = ZERO
        day = first
        while day <= last:
            spans = self.day_spans(day)
            if spans and start <= spans[0][0] and spans[-1][1] <= end:
                total += self.day_total(day)
            else:
                for lo, hi in spans:
                    lo, hi = max(lo, start), min(hi, end)
                    if hi > lo:
                        total += hi - lo
            day += _ONE_DAY
        return total

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The first instant at which ``duration`` of business time has passed since ``start``.

        ``duration`` zero returns ``start`` (in UTC). A target reached exactly at the end of a
        working interval returns that end (17:00), not the next day's opening. For every
        ``d >= 0``: ``business_time_between(t, add_business_time(t, d)) == d``.
        """
        require_aware(start, "start")
        if duration < ZERO:
            raise ValueError(f"duration must not be negative (got {duration})")
        start = start.astimezone(UTC)
        if duration == ZERO:
            return start
        if self.is_always:
            return start + duration
        at = _micros(start)
        day = at // _DAY_MICROS
        wanted = duration // _MICRO
        timeline = self._timeline
        span = max(_MARGIN * 2, 16)
        while self._covers(day, day + span):
            found = timeline.reached(timeline.before(at) + wanted)
            if found is not None:
                return _EPOCH + found * _MICRO
            span *= 2
        return self._walk_add(start, duration)

    def _walk_add(self, start: datetime, duration: timedelta) -> datetime:
        """``add_business_time`` (``duration > 0``) day by day (past the timeline's reach)."""
        remaining = duration
        day = self.local_date(start) - _ONE_DAY
        while True:
            spans = self.day_spans(day)
            if spans and start <= spans[0][0] and self.day_total(day) < remaining:
                remaining -= self.day_total(day)
            else:
                for lo, hi in spans:
                    lo = max(lo, start)
                    if hi <= lo:
                        continue
                    if remaining <= hi - lo:
                        return lo + remaining
                    remaining -= hi - lo
            day += _ONE_DAY

    def _covers(self, first: int, last: int) -> bool:
        """Make the timeline hold every span that can reach UTC days ``first`` to ``last``
        (days since 1970-01-01); False when that is more dates than ``_CACHE_LIMIT``."""
        timeline = self._timeline
        lo, hi = first - _MARGIN, last + _MARGIN + 1
        if timeline.first_day <= lo and hi <= timeline.end_day:
            return True
        if timeline.end_day > timeline.first_day:  # grow by doubling, to amortise rebuilds
            reach = timeline.end_day - timeline.first_day
            if lo < timeline.first_day:
                lo = min(lo, timeline.first_day - reach)
            if hi > timeline.end_day:
                hi = max(hi, timeline.end_day + reach)
            lo, hi = min(lo, timeline.first_day), max(hi, timeline.end_day)
        if hi - lo > _CACHE_LIMIT:
            return False
        if lo < timeline.first_day or timeline.end_day <= timeline.first_day:
            timeline.reset(lo)
        for offset in range(timeline.end_day, hi):
            timeline.append(self.day_spans(_EPOCH_DATE + timedelta(days=offset)))
        return True

    def is_business_time(self, moment: datetime) -> bool:
        """Whether business time runs at ``moment`` (intervals are half-open: 17:00 is not)."""
        require_aware(moment, "moment")
        moment = moment.astimezone(UTC)
        day = self.local_date(moment)
        return any(
            lo <= moment < hi
            for d in (day - _ONE_DAY, day, day + _ONE_DAY)
            for lo, hi in self.day_spans(d)
        )

    # -- per-day building blocks ----------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (day.month, day.day) in self.yearly_holidays

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def day_spans(self, day: date) -> tuple[Span, ...]:
        """The UTC spans of ``day``'s working intervals (none on holidays), cached."""
        spans = self._spans.get(day)
        if spans is None:
            if len(self._spans) >= _CACHE_LIMIT:
                self._spans.clear()
                self._totals.clear()
            spans = self._compute_spans(day)
            self._spans[day] = spans
        return spans

    def day_total(self, day: date) -> timedelta:
        total = self._totals.get(day)
        if total is None:
            total = sum((hi - lo for lo, hi in self.day_spans(day)), ZERO)
            self._totals[day] = total
        return total

    def _compute_spans(self, day: date) -> tuple[Span, ...]:
        intervals = self.week[day.weekday()]
        if not intervals or self.is_holiday(day):
            return ()
        offset = self._midnight_offset(day)
        if offset == self._midnight_offset(day + _ONE_DAY):
            # No clock change today (the usual case): local time is UTC plus one offset.
            base = datetime.combine(day, time(), tzinfo=UTC) - offset
            return tuple(
                (base + timedelta(seconds=iv.start), base + timedelta(seconds=iv.end))
                for iv in intervals
            )
        spans = []
        for interval in intervals:
            lo = self._instant(day, interval.start)
            hi = self._instant(day, interval.end)
            if hi > lo:  # an interval entirely inside a spring-forward gap is empty
                spans.append((lo, hi))
        return tuple(spans)

    def _midnight_offset(self, day: date) -> timedelta:
        offset = datetime.combine(day, time(), tzinfo=self._zone).utcoffset()
        assert offset is not None  # a ZoneInfo always has an offset
        return offset

    def _instant(self, day: date, seconds: int) -> datetime:
        """The UTC instant of local ``day`` + ``seconds`` (see the module doc for gaps/overlaps)."""
        if seconds >= SECONDS_PER_DAY:
            day, seconds = day + _ONE_DAY, seconds - SECONDS_PER_DAY
        wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
        instant = wall.replace(tzinfo=self._zone).astimezone(UTC)
        if instant.astimezone(self._zone).replace(tzinfo=None) == wall:
            return instant
        return self._end_of_gap(wall)

    def _end_of_gap(self, wall: datetime) -> datetime:
        """The first instant after the spring-forward gap that swallowed local time ``wall``."""
        # fold=1 reads ``wall`` with the offset after the change (an instant before it);
        # fold=0 with the offset before (an instant after it). Bisect between them, by seconds.
        lo = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        hi = wall.replace(tzinfo=self._zone, fold=0).astimezone(UTC)
        if hi < lo:
            lo, hi = hi, lo
        before = lo.astimezone(self._zone).utcoffset()
        low, high = 0, int((hi - lo).total_seconds())
        while low < high:
            middle = (low + high) // 2
            if (lo + timedelta(seconds=middle)).astimezone(self._zone).utcoffset() == before:
                low = middle + 1
            else:
                high = middle
        return lo + timedelta(seconds=low)


def _micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC (exact; any offset)."""
    return (moment - _EPOCH) // _MICRO


class _Timeline:
    """The working spans of the days ``first_day`` to ``end_day`` (exclusive; days since
    1970-01-01), in time order, as microseconds since the epoch, and the business time before
    each span: ``before(t)`` is the business time of those days before instant ``t``."""

    __slots__ = ("end_day", "ends", "first_day", "starts", "totals")

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, first_day: int) -> None:
        self.first_day = self.end_day = first_day
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.totals: list[int] = []
        """Business time up to the end of each span."""

    def append(self, spans: tuple[Span, ...]) -> None:
        """Add the spans of day ``end_day`` (they follow every span held)."""
        total = self.totals[-1] if self.totals else 0
        for lo, hi in spans:
            start, end = _micros(lo), _micros(hi)
            self.starts.append(start)
            self.ends.append(end)
            total += end - start
            self.totals.append(total)
        self.end_day += 1

    def before(self, moment: int) -> int:
        index = bisect_right(self.starts, moment) - 1
        if index < 0:
            return 0
        end = self.ends[index]
        return self.totals[index] - (end - moment if moment < end else 0)

    def reached(self, amount: int) -> int | None:
        """The first instant the business time held reaches ``amount`` (None: not held)."""
        index = bisect_left(self.totals, amount)
        if index == len(self.totals):
            return None
        return self.ends[index] - (self.totals[index] - amount)


def weekday_index(key: int | str) -> int:
    """0-6 from a weekday number or name (``mon``, ``Monday``, case-insensitive)."""
    if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 6:
        return key
    if isinstance(key, str):
        name = key.strip().lower()
        if name in WEEKDAY_NAMES:
            return WEEKDAY_NAMES.index(name)
        if name in _FULL_WEEKDAY_NAMES:
            return _FULL_WEEKDAY_NAMES.index(name)
    raise ValueError(f"expected a weekday such as mon, tue, ..., sun (got {key!r})")


def weekday_keys(text: str) -> list[int]:
    """``"mon-fri"`` -> [0..4]; ``"sat,sun"`` -> [5, 6]; ``"wed"`` -> [2]."""
    days: list[int] = []
    for part in text.split(","):
        first, sep, last = part.strip().partition("-")
        if sep:
            a, b = weekday_index(first), weekday_index(last)
            if b < a:
                raise ValueError(f"expected a weekday range such as mon-fri (got {part.strip()!r})")
            days.extend(range(a, b + 1))
        else:
            days.append(weekday_index(first))
    return days


ALWAYS = BusinessCalendar.always()
"""The 24x7 calendar in UTC."""
