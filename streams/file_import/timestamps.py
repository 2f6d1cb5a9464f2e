"""Turning the timestamp text of an export into a timezone-aware UTC instant.

Exports write time in many ways: ISO 8601 with an offset (the Volvo log), local wall-clock time
with no offset (the help-desk log, in Italy), bare dates (the SCMS orders). A ``TimestampParser``
is built once per column from the mapping (``format`` and ``timezone``) and then parses every
value of that column; local times are placed in the mapping's IANA time zone, and everything
comes out in UTC, which is the only time the pipeline uses inside.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ISO8601 = "iso8601"
# Seconds or milliseconds since 1970-01-01 UTC, as numbers or their text (Jira's webhook
# ``timestamp`` is epoch milliseconds).
EPOCH_SECONDS = "epoch_seconds"
EPOCH_MILLIS = "epoch_millis"
_EPOCH_DIVISORS = {EPOCH_SECONDS: 1, EPOCH_MILLIS: 1000}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FORMAT_EXPECTED = (
    f"expected one of: {ISO8601}, or a strptime format such as %Y/%m/%d %H:%M:%S.%f"
    f" (it must include the year, month and day), or {EPOCH_SECONDS} or {EPOCH_MILLIS}"
)
TIMEZONE_EXPECTED = "expected an IANA time zone name such as UTC, Europe/Rome or America/New_York"

_SAMPLE = datetime(2001, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)


def check_format(fmt: str) -> str:
    """Return ``fmt`` if it is ``iso8601`` or a strptime pattern that can carry a date.

    A pattern is accepted when a sample date written with it reads back as the same day, which
    rejects typos (``%Q``), patterns without a directive and patterns without a full date.
    """
    if fmt == ISO8601 or fmt in _EPOCH_DIVISORS:
        return fmt
    try:
        parsed = datetime.strptime(_SAMPLE.strftime(fmt), fmt)
    except ValueError:
        raise ValueError(FORMAT_EXPECTED) from None
    if "%" not in fmt or parsed.date() != _SAMPLE.date():
        raise ValueError(FORMAT_EXPECTED)
    return fmt


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(TIMEZONE_EXPECTED) from None
    return name


def carries_offset(fmt: str) -> bool:
    """Whether values in ``fmt`` may carry their own UTC offset (ISO 8601 or a ``%z``)."""
    return fmt == ISO8601 or fmt in _EPOCH_DIVISORS or "%z" in fmt


class TimestampParser:
    """Parse one column's values; raise ValueError with a readable reason when one is bad.

    Results are memoised: exports repeat values a lot (day-level dates), and ``strptime`` is
    slow enough to matter on a 100,000-row replay.
    """

    def __init__(self, fmt: str, timezone: str | None = None, *, cache_size: int = 65536) -> None:
        self._format = check_format(fmt)
        self._zone = None if timezone is None else ZoneInfo(check_timezone(timezone))
        self.parse = lru_cache(maxsize=cache_size)(self._parse)

    def _parse(self, text: str) -> datetime:
        value = text.strip()
        if self._format in _EPOCH_DIVISORS:
            return _from_epoch(value, _EPOCH_DIVISORS[self._format], self._format)
        try:
            if self._format == ISO8601:
                moment = datetime.fromisoformat(value)
            else:
                moment = datetime.strptime(value, self._format)
        except ValueError:
            expected = "an ISO 8601 time" if self._format == ISO8601 else self._format
            raise ValueError(f"{value!r} does not match {expected}") from None
        if moment.tzinfo is None:
            if self._zone is None:
                raise ValueError(f"{value!r} has no UTC offset and the mapping sets no timezone")
            moment = moment.replace(tzinfo=self._zone)
        return moment.astimezone(UTC)


def _from_epoch(value: str, divisor: int, fmt: str) -> datetime:
    try:
        if value.removeprefix("-").isdigit():  # exact, no float rounding of milliseconds
            return _EPOCH + timedelta(milliseconds=int(value) * (1000 // divisor))
        return datetime.fromtimestamp(float(value) / divisor, UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{value!r} is not a time in {fmt}") from None
