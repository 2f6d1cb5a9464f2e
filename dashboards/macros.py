"""Grafana's handling of a SQL panel's text, step by step, so tests can run exactly what Grafana
would send to PostgreSQL.

1. The browser interpolates template variables (``$name``, ``${name}``, ``[[name]]``) and the
   built-in ``$__interval``/``$__interval_ms``. For SQL datasources a multi-value or "All"
   variable becomes a comma-separated list of quoted literals with quotes doubled; a single-value
   variable has its quotes doubled but is not quoted (Grafana's ``interpolateVariable``).
2. The server (``pkg/tsdb/grafana-postgresql-datasource/macros.go``) expands every
   ``$name(args)``: ``$__time``, ``$__timeEpoch``, ``$__timeFilter``, ``$__timeFrom``,
   ``$__timeTo``, ``$__timeGroup``, ``$__timeGroupAlias``, ``$__unixEpoch*``; an unknown name is
   an error. ``$__timeGroup`` is ``floor(extract(epoch from col)/N)*N`` on plain PostgreSQL and
   ``time_bucket('N.000s',col)`` with the datasource's ``timescaledb`` flag.

Like Grafana, step 2 runs over the output of step 1, so a variable value containing ``$__...(``
reaches the macro engine: the isolation tests feed such values on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class MacroError(ValueError):
    """Grafana would refuse the query (unknown macro, missing argument, bad interval)."""


@dataclass(frozen=True, slots=True)
class Variable:
    values: tuple[str, ...]
    multi: bool = True  # the generated dashboards' variables are all multi-value with "All"


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("TimeRange needs timezone-aware datetimes")


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def interval_seconds(text: str) -> float:
    match = _INTERVAL.match(text.strip().strip("'"))
    if not match:
        raise MacroError(f"error parsing interval {text}")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def interpolate_variables(sql: str, variables: Mapping[str, Variable], interval: str) -> str:
    """Step 1 (the browser): template variables and ``$__interval``."""
    builtins = {
        "__interval": interval,
        "__interval_ms": str(round(interval_seconds(interval) * 1000)),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        if name in builtins:
            return builtins[name]
        variable = variables.get(name)
        if variable is None:
            return match.group(0)  # not a variable: left for the server (macros) or literal
        if variable.multi:
            return ",".join(quote_literal(v) for v in variable.values)
        return ",".join(v.replace("'", "''") for v in variable.values)

    return _VARIABLE.sub(replace, sql)


def _rfc3339(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if "." in text:
        head, frac = text[:-1].split(".")
        frac = frac.rstrip("0")
        text = f"{head}.{frac}Z" if frac else f"{head}Z"
    return text


def _go_number(value: float) -> str:
    return format(value, "g")


def _macro(name: str, args: Sequence[str], span: TimeRange, timescaledb: bool) -> str:
    start, end = _rfc3339(span.start), _rfc3339(span.end)
    if name in ("__time", "__timeEpoch", "__timeFilter", "__unixEpochFilter") and not args[0]:
        raise MacroError(f"missing time column argument for macro {name}")
    if name == "__time":
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{start}' AND '{end}'"
    if name == "__timeFrom":
        return f"'{start}'"
    if name == "__timeTo":
        return f"'{end}'"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval and optional fill value")
        seconds = interval_seconds(args[1])
        if timescaledb:
            group = f"time_bucket('{seconds:.3f}s',{args[0]})"
        else:
            n = _go_number(seconds)
            group = f"floor(extract(epoch from {args[0]})/{n})*{n}"
        return group + (' AS "time"' if name == "__timeGroupAlias" else "")
    if name == "__unixEpochFilter":
        lo, hi = int(span.start.timestamp()), int(span.end.timestamp())
        return f"{args[0]} >= {lo} AND {args[0]} <= {hi}"
    if name == "__unixEpochFrom":
        return str(int(span.start.timestamp()))
    if name == "__unixEpochTo":
        return str(int(span.end.timestamp()))
    raise MacroError(f'unknown macro "{name}"')


def expand_macros(sql: str, span: TimeRange, *, timescaledb: bool = False) -> str:
    """Step 2 (the server): ``$__name(args)`` macros."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__timeGroup":
            after = match.end()
            if after < len(sql) and sql[after] == ",":
                name = "__timeGroupAlias"  # Grafana's pre-5.3 compatibility rule
        args = [arg.strip() for arg in match.group(2).split(",")]
        return _macro(name, args, span, timescaledb)

    return _MACRO.sub(replace, sql)


def render(
    sql: str,
    span: TimeRange,
    variables: Mapping[str, Variable] | None = None,
    *,
    interval: str = "1h",
    timescaledb: bool = False,
) -> str:
    """What Grafana sends to PostgreSQL for ``sql``: variables, then macros."""
    return expand_macros(
        interpolate_variables(sql, variables or {}, interval), span, timescaledb=timescaledb
    )
