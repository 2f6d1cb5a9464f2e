"""``pulse_alerts`` against a real PostgreSQL: the monitor's writes of alert episodes (upserts of
changed episodes, deletes of vanished ones, a rebuild replacing a contract's rows), read back."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from outcome_pulse.processors.alerting.episodes import AlertEpisode, fingerprint
from outcome_pulse.processors.measurements import diff
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.queries import alert_episodes
from tests.integration.pgdb import empty_tables

pytestmark = pytest.mark.integration
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def episode(item: str, contract: str = "c1", hours: int = 0) -> AlertEpisode:
    labels = {"alertname": "PulseItemAboutToBreach", "contract": contract, "item_id": item}
    return AlertEpisode(
        contract, fingerprint(labels), T0 + timedelta(hours=hours), None,
        "PulseItemAboutToBreach", "ticket", "desk", "restore", item, 0.8, labels,
        {"summary": f"{item} has used 80% of its 8 hours target", "description": "ünïcode"},
    )  # fmt: skip


@pytest.fixture
def dsn(migrated: str) -> str:
    empty_tables(migrated, "pulse_alerts")
    with psycopg.connect(migrated, autocommit=True) as conn:
        conn.execute("UPDATE pulse_monitor_lease SET owner = NULL, taken_at = NULL")
    return migrated


def by_key(rows: list[AlertEpisode]) -> dict[tuple[str, str, datetime], AlertEpisode]:
    return {row.key: row for row in rows}


def test_alert_episodes_written_as_diffs_and_replaced(dsn: str) -> None:
    first = [episode("a"), episode("b"), episode("b", hours=5)]
    resolved = replace(first[0], resolved_at=T0 + timedelta(hours=2), value=0.9)
    second = [resolved, episode("c")]

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store:
            async with store.tick() as tick:
                await tick.replace_alerts("c1", first)
                await tick.replace_alerts("c2", [episode("a", contract="c2")])
            assert by_key(alert_episodes(dsn, "c1")) == by_key(first)
            async with store.tick() as tick:
                await tick.write_alerts("c1", diff(by_key(first), by_key(second)))

    asyncio.run(run())
    assert by_key(alert_episodes(dsn, "c1")) == by_key(second)
    (stored,) = [a for a in alert_episodes(dsn, "c1") if a.item_id == "a"]
    assert stored.resolved_at == T0 + timedelta(hours=2) and stored.value == 0.9
    assert stored.annotations["description"] == "ünïcode"
    assert alert_episodes(dsn, "c2") == [episode("a", contract="c2")]


def test_an_alert_of_another_contract_is_refused(dsn: str) -> None:
    from outcome_pulse.sinks.errors import SinkError

    async def run() -> None:
        async with MonitorStore(dsn, "monitor-a") as store, store.tick() as tick:
            await tick.replace_alerts("c1", [episode("a", contract="c2")])

    with pytest.raises(SinkError, match="alert of contract 'c2'"):
        asyncio.run(run())
