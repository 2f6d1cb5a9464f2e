"""Read-side queries used by the CLI summary, the demo and the tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from outcome_pulse.processors.alerting.episodes import AlertEpisode
from outcome_pulse.processors.forecast.drift import DriftSignal
from outcome_pulse.processors.forecast.period_forecast import PeriodForecast
from outcome_pulse.processors.measurements import IndicatorPoint, OpenClock, PeriodOutcome
from outcome_pulse.sinks import alert_statements as a_sql
from outcome_pulse.sinks import forecast_statements as f
from outcome_pulse.sinks import monitor_statements as m
from outcome_pulse.sinks.errors import SinkError
from outcome_pulse.sinks.pgerrors import translate
from outcome_pulse.sinks.sql_text import statements

_SQL = statements("queries")
UTC_SESSION = statements("session")["utc_session"]


def source_summary(dsn: str, source: str) -> dict[str, int]:
    """Events stored and items per status for one source."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            events = conn.execute(_SQL["source_events"], (source,)).fetchone()
            rows = conn.execute(_SQL["source_item_statuses"], (source,)).fetchall()
    except psycopg.Error as exc:
        raise translate(exc, "reading the summary") from exc
    out = {"events": int(events[0]) if events else 0}
    out.update({f"items_{status}": int(n) for status, n in rows})
    out["items"] = sum(int(n) for _, n in rows)
    return out


def table_fingerprint(dsn: str, table: str, order_by: str) -> tuple[int, str]:
    """Row count and an md5 over every row in a stable order: equal means row-for-row equal."""
    if not table.isidentifier() or not all(c.isidentifier() for c in order_by.split(", ")):
        raise ValueError(f"bad table or column name: {table!r} {order_by!r}")
    query = sql.SQL(_SQL["table_fingerprint"]).format(
        table=sql.Identifier(table),
        order_by=sql.SQL(", ").join(sql.Identifier(c) for c in order_by.split(", ")),
    )
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def period_outcomes(dsn: str, contract: str) -> list[PeriodOutcome]:
    """The stored outcomes of ``contract`` by (kpi, period_start), as the monitor computed them:
    Decimal money, float levels, timezone-aware UTC datetimes (so ``==`` compares with rows
    computed in memory)."""
    rows = _monitor_rows(dsn, m.SELECT_OUTCOMES, contract, "reading pulse_period_outcomes")
    return [PeriodOutcome(*row) for row in rows]


def indicator_points(dsn: str, contract: str) -> list[IndicatorPoint]:
    """The stored indicator points of ``contract`` by (service, kpi, indicator, at)."""
    rows = _monitor_rows(dsn, m.SELECT_POINTS, contract, "reading pulse_indicator_points")
    return [IndicatorPoint(*row) for row in rows]


def open_item_clocks(dsn: str, contract: str) -> list[OpenClock]:
    """The stored open item clocks of ``contract`` by (kpi, item_id)."""
    rows = _monitor_rows(dsn, m.SELECT_CLOCKS, contract, "reading pulse_open_item_clocks")
    return [OpenClock(*row) for row in rows]


def period_forecasts(dsn: str, contract: str) -> list[PeriodForecast]:
    """The stored running-period forecasts of ``contract`` by (kpi, period_start)."""
    rows = _monitor_rows(dsn, f.SELECT_FORECASTS, contract, "reading pulse_period_forecasts")
    return [PeriodForecast(*row) for row in rows]


def drift_signals(dsn: str, contract: str) -> list[DriftSignal]:
    """The stored drift signals of ``contract`` by (detected_at, service, indicator)."""
    rows = _monitor_rows(dsn, f.SELECT_DRIFT_SIGNALS, contract, "reading pulse_drift_signals")
    return [DriftSignal(*row) for row in rows]


def inbox_size(dsn: str) -> int:
    """Events stored but not yet applied by the contract monitor (rows of pulse_monitor_inbox)."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            row = conn.execute(_SQL["inbox_size"]).fetchone()
    except psycopg.Error as exc:
        raise translate(exc, "counting pulse_monitor_inbox") from exc
    return int(row[0]) if row else 0


def monitor_progress(dsn: str) -> tuple[datetime, datetime | None, int]:
    """The database's clock now, when every evaluation shard had committed a round (None: one
    never did), and how many stored events the contract monitor has not applied yet."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            row = conn.execute(_SQL["monitor_progress"]).fetchone()
    except psycopg.Error as exc:
        raise translate(exc, "reading the contract monitor's progress") from exc
    assert row is not None
    return row[0], row[1], int(row[2])


def _monitor_rows(dsn: str, query: str, contract: str, doing: str) -> list[tuple[Any, ...]]:
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.execute(UTC_SESSION)
            return conn.execute(query, [contract]).fetchall()
    except psycopg.Error as exc:
        raise translate(exc, doing) from exc


def schema_uses_timescaledb(dsn: str) -> bool:
    """Whether the database's schema was built with TimescaleDB (pulse_schema_version)."""
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT bool_or(timescaledb) FROM pulse_schema_version").fetchone()
    except psycopg.Error as exc:
        raise translate(exc, "reading pulse_schema_version") from exc
    if row is None or row[0] is None:
        raise SinkError("the database has no schema yet: run `pulse db migrate`")
    return bool(row[0])


def alert_episodes(dsn: str, contract: str) -> list[AlertEpisode]:
    """The stored alert episodes of ``contract`` (``pulse_alerts``) by (fingerprint, fired_at)."""
    rows = _monitor_rows(dsn, a_sql.SELECT_ALERTS, contract, "reading pulse_alerts")
    return [a_sql.episode_of(tuple(row)) for row in rows]
