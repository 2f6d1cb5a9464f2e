"""The small quantities contracts are written in: durations, shares and money, read and written.

* durations: ``8h``, ``4h30m``, ``90m``, ``1.5h``, ``2d``, ``1w`` or ISO 8601 (``PT8H``);
* shares: ``0.95`` or ``"95%"``; signed (``"-20%"``) for changes against a baseline.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache

from pydantic import TypeAdapter, ValidationError

DURATION_EXPECTED = "expected a duration such as 8h, 90m, 4h30m, 2d or PT8H"
SHARE_EXPECTED = "expected a share such as 0.95 or '95%'"

_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
_UNITS |= {"m": timedelta(minutes=1), "min": timedelta(minutes=1), "s": timedelta(seconds=1)}
_TOKEN = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|min|m|s)")
_SHORTHAND = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*(?:w|d|h|min|m|s)\s*)+$")
_ISO = TypeAdapter(timedelta)


@lru_cache(maxsize=4096)  # called per item and priority segment by the clock measures
def parse_duration(text: str) -> timedelta:
    """``"4h30m"`` -> 4.5 hours; raises ValueError saying what is expected."""
    value = text.strip()
    if value.upper().startswith("P"):
        try:
            result = _ISO.validate_python(value.upper())
        except ValidationError:
            raise ValueError(DURATION_EXPECTED) from None
    elif _SHORTHAND.match(value):
        result = sum(
            (_UNITS[unit] * float(number) for number, unit in _TOKEN.findall(value)),
            timedelta(0),
        )
    else:
        raise ValueError(DURATION_EXPECTED)
    if result <= timedelta(0):
        raise ValueError(f"expected a positive duration (got {text!r})")
    return result


def counts_days(text: str) -> bool:
    """Whether a duration is written in days or weeks (ambiguous as *business* time)."""
    value = text.strip().upper()
    if value.startswith("P"):
        return bool(re.search(r"[DW]", value.split("T", 1)[0]))
    return any(unit in ("d", "w") for _, unit in _TOKEN.findall(text.strip()))


def format_duration(value: timedelta, *, unit_word: str = "") -> str:
    """``4 hours 30 minutes``; ``unit_word`` qualifies the units (``business hours``)."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if unit_word:  # business time: hours only, a business "day" has no fixed length
        hours += days * 24
        days = 0
    qualifier = f"{unit_word} " if unit_word else ""
    parts = []
    for amount, name in ((days, "day"), (hours, "hour"), (minutes, "minute"), (secs, "second")):
        if amount:
            parts.append(f"{amount} {qualifier}{name}{'' if amount == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def parse_share(value: object, *, signed: bool = False) -> float:
    """``0.95`` or ``"95%"`` -> 0.95. Unsigned shares are 0..1; signed ones are >= -1."""
    number: float
    if isinstance(value, bool):
        raise ValueError(SHARE_EXPECTED)
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1].strip()) / 100
        except ValueError:
            raise ValueError(SHARE_EXPECTED) from None
    else:
        raise ValueError(SHARE_EXPECTED)
    low = -1.0 if signed else 0.0
    if not low <= number <= (float("inf") if signed else 1.0):
        expected = "a change of -100% or more" if signed else "a share between 0% and 100%"
        raise ValueError(f"expected {expected}, such as 0.95 or '95%' (got {value!r})")
    return number


def format_share(value: float, *, signed: bool = False) -> str:
    """0.955 -> ``95.5%``; signed: -0.2 -> ``-20%``, 0.1 -> ``+10%``."""
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return f"+{text}%" if signed and value > 0 else f"{text}%"


def format_money(amount: Decimal | float, currency: str) -> str:
    return f"{currency} {Decimal(str(amount)).quantize(Decimal('0.01')):,}".replace(".00", "")
