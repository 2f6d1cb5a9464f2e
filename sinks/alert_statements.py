"""SQL of ``pulse_alerts`` (schema v4, statements in ``sinks/sql/dml/alerts.sql``).

Rows are keyed ``(contract, fingerprint, fired_at)``; an episode's later state (resolved, its
value) replaces the row. Episodes that a later evaluation no longer has (a late event changed
history within the allowed lateness) are deleted by key.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from outcome_pulse.processors.alerting.episodes import ALERT_COLUMNS, AlertEpisode
from outcome_pulse.sinks.sql_text import statements

_SQL = statements(
    "alerts",
    alert_columns=", ".join(ALERT_COLUMNS),
    alert_values=", ".join(["%s"] * len(ALERT_COLUMNS)),
    alert_updates=", ".join(f"{c} = EXCLUDED.{c}" for c in ALERT_COLUMNS[3:]),
)
UPSERT_ALERT = _SQL["upsert_alert"]
DELETE_ALERTS = _SQL["delete_alerts"]
DELETE_CONTRACT_ALERTS = _SQL["delete_contract_alerts"]
SELECT_ALERTS = _SQL["select_alerts"]


def alert_row(episode: AlertEpisode) -> tuple[Any, ...]:
    return (
        episode.contract,
        episode.fingerprint,
        episode.fired_at,
        episode.resolved_at,
        episode.alertname,
        episode.severity,
        episode.service,
        episode.kpi,
        episode.item_id,
        episode.value,
        Jsonb(dict(episode.labels)),
        Jsonb(dict(episode.annotations)),
    )


def episode_of(row: tuple[Any, ...]) -> AlertEpisode:
    """The episode of a ``SELECT_ALERTS`` row."""
    contract, fp, fired, resolved, name, severity, service, kpi, item, value = row[:10]
    return AlertEpisode(
        contract,
        fp,
        fired,
        resolved,
        name,
        severity,
        service,
        kpi,
        item,
        value,
        dict(row[10]),
        dict(row[11]),
    )


__all__ = [
    "ALERT_COLUMNS",
    "DELETE_ALERTS",
    "DELETE_CONTRACT_ALERTS",
    "SELECT_ALERTS",
    "UPSERT_ALERT",
    "alert_row",
    "episode_of",
]
