"""Contract periods and sample grids on the client's calendar, in event time.

Months and quarters begin at local midnight of their first day in the client's time zone, so a
period is ``[start, end)`` as two UTC instants that may be 23, 24 or 25 hours of a day apart
across daylight-saving changes. A rolling KPI of N days is settled monthly, on the window of N
days ending at each month's end.

Sample grids are the instants at which gauges are read: every ``step`` from an anchor. A step of
whole days moves by local calendar days (always local midnight, whatever the DST offset); other
steps move by fixed UTC time from the Unix epoch (hourly samples fall on the hour in UTC).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    """One contract period ``[start, end)``; ``label`` names it (``2012-05``, ``2012-Q2``,
    ``28d to 2012-05-31``)."""

    start: datetime
    end: datetime
    label: str


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant of local midnight starting ``day`` (the first instant of the day, when a
    DST gap swallows midnight itself)."""
    naive = datetime(day.year, day.month, day.day)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    # A gap at midnight maps to a later wall time; fold=0 gives the earlier, valid instant.
    return instant


def _month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def calendar_period(moment: datetime, kind: str, zone: ZoneInfo) -> Period:
    """The month or quarter (in ``zone``) containing ``moment``."""
    local = moment.astimezone(zone).date()
    if kind == "month":
        first = _month_start(local.year, local.month)
        length, label = 1, f"{first.year}-{first.month:02d}"
    elif kind == "quarter":
        quarter = (local.month - 1) // 3
        first = _month_start(local.year, quarter * 3 + 1)
        length, label = 3, f"{first.year}-Q{quarter + 1}"
    else:
        raise ValueError(f"expected month or quarter, got {kind!r}")
    start = local_midnight(first, zone)
    end = local_midnight(_add_months(first, length), zone)
    return Period(start, end, label)


def rolling_period(month_end: datetime, days: int, zone: ZoneInfo) -> Period:
    """The window of ``days`` local days ending at ``month_end`` (a local midnight)."""
    last_day = month_end.astimezone(zone).date()
    start = local_midnight(last_day - timedelta(days=days), zone)
    label = f"{days}d to {(last_day - _DAY).isoformat()}"
    return Period(start, month_end, label)


def periods_covering(
    first: datetime, last: datetime, kind: str, zone: ZoneInfo, days: int | None = None
) -> list[Period]:
    """Every period from the one containing ``first`` to the one containing ``last``.

    For ``rolling`` KPIs: one window per month, ending at each month's end, for the months from
    ``first`` to ``last``.
    """
    if last < first:
        return []
    base = "month" if kind == "rolling" else kind
    periods: list[Period] = []
    current = calendar_period(first, base, zone)
    while current.start <= last:
        if kind == "rolling":
            assert days is not None
            periods.append(rolling_period(current.end, days, zone))
        else:
            periods.append(current)
        current = calendar_period(current.end, base, zone)
    return periods


def shift_period(period: Period, kind: str, zone: ZoneInfo, months: int) -> Period:
    """The calendar period ``months`` months before (negative) or after ``period``."""
    first = period.start.astimezone(zone).date()
    moved = _add_months(first, months)
    return calendar_period(local_midnight(moved, zone), kind, zone)


def is_whole_days(step: timedelta) -> bool:
    return step >= _DAY and step % _DAY == timedelta(0)


def sample_grid(first: datetime, last: datetime, step: timedelta, zone: ZoneInfo) -> list[datetime]:
    """The sample instants in ``[floor(first), last]`` (see the module doc for the alignment)."""
    if step <= timedelta(0):
        raise ValueError(f"step must be positive (got {step})")
    if last < first:
        return []
    grid: list[datetime] = []
    if is_whole_days(step):
        days = step // _DAY
        day = first.astimezone(zone).date()
        instant = local_midnight(day, zone)
        while instant <= last:
            grid.append(instant)
            day += timedelta(days=days)
            instant = local_midnight(day, zone)
        return grid
    offset = (first - _EPOCH) // step
    instant = _EPOCH + offset * step
    while instant <= last:
        grid.append(instant)
        instant += step
    return grid


def index_range(grid: list[datetime], start: datetime, end: datetime | None) -> range:
    """Indices of the grid instants inside ``[start, end)`` (``end`` None: unbounded)."""
    lo = bisect_left(grid, start)
    hi = len(grid) if end is None else bisect_left(grid, end)
    return range(lo, max(lo, hi))


def period_label(kind: str, start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """How people name a period: ``2012-05``, ``2012-Q2``, ``28d to 2012-05-31``."""
    if kind == "month":
        return calendar_period(start, "month", zone).label
    if kind == "quarter":
        return calendar_period(start, "quarter", zone).label
    last_day = (end.astimezone(zone) - _DAY).date()
    days = round((end - start) / _DAY)
    return f"{days}d to {last_day.isoformat()}"
