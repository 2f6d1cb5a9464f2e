"""``pulse report`` from the database equals the report from the file: the help desk log and its
backtest rows stored as the streaming monitor stores them (events through the sink, outcomes and
points through the monitor's store), then the evidence read back from PostgreSQL, with an alert
in pulse_alerts and a revised outcome that only the database knows about."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from outcome_pulse.processors.evidence import assemble, report_period
from outcome_pulse.sinks.event_sink import PostgresSink
from outcome_pulse.sinks.monitor_store import MonitorStore
from outcome_pulse.sinks.schema import SCHEMA_VERSION, migrate
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.drivers.backtest import BacktestResult, backtest_file
from outcome_pulse.streams.file_import.mapping import load_mapping
from outcome_pulse.streams.report.db_source import evidence_from_database
from outcome_pulse.streams.report.file_source import evidence_from_backtest
from outcome_pulse.streams.report.html import render_html
from outcome_pulse.streams.settings import PulseSettings
from tests.datasets import dataset
from tests.integration.pgdb import temporary_database

pytestmark = pytest.mark.integration

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "helpdesk_tickets.yaml"
MONTH = "2012-10"


async def _store(dsn: str, result: BacktestResult) -> None:
    assert result.mapped is not None
    events = result.mapped.events
    async with PostgresSink(dsn) as sink:
        for start in range(0, len(events), 5000):
            await sink.write(events[start : start + 5000], [])
    async with MonitorStore(dsn, "evidence-test") as store, store.tick() as tick:
        await tick.replace(
            result.contract.contract,
            result.evaluation.points.values(),
            result.evaluation.outcomes.values(),
        )


@pytest.fixture(scope="module")
def stored(pg_dsn: str) -> tuple[str, BacktestResult]:
    result = backtest_file(dataset("helpdesk"), load_mapping("helpdesk"), load_contract(CONTRACT))
    with temporary_database(pg_dsn, "pulse_report") as dsn:
        migrate(dsn)
        asyncio.run(_store(dsn, result))
        yield dsn, result


def test_report_from_the_database_equals_the_report_from_the_file(
    stored: tuple[str, BacktestResult], settings: PulseSettings
) -> None:
    dsn, result = stored
    db_settings = settings.model_copy(update={"database_url": dsn})
    from_db = assemble(evidence_from_database(db_settings, result.contract, MONTH))
    from_file = assemble(evidence_from_backtest(result, dataset("helpdesk"), MONTH))
    assert from_db.kpis == from_file.kpis  # outcomes, 12-period history, items behind misses
    assert from_db.money == from_file.money
    assert from_db.indicators == from_file.indicators
    db_p, file_p = from_db.provenance, from_file.provenance
    for field in ("events", "items", "first_event", "last_event", "watermark", "quality"):
        assert getattr(db_p, field) == getattr(file_p, field), field
    assert db_p.schema_version == SCHEMA_VERSION
    assert db_p.origin.startswith("database pulse_report_")
    assert db_p.dead_letters is not None, db_p.dead_letters_note  # counted on the topic
    assert from_file.kpis[0].misses is not None and from_file.kpis[0].misses.misses


def test_alerts_and_revisions_in_the_database_are_reported(
    stored: tuple[str, BacktestResult], settings: PulseSettings
) -> None:
    dsn, result = stored
    period_start = report_period(result.contract, MONTH).start
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO pulse_alerts (contract, fingerprint, fired_at, resolved_at, alertname,"
            " severity, service, kpi, item_id, value, labels, annotations)"
            " VALUES (%s, 'f1', %s, %s, 'KpiForecastToMissTarget', 'page', 'ticket-desk',"
            " 'resolution-time', NULL, 0.42, '{}', %s)",
            (
                result.contract.contract,
                period_start + timedelta(days=3),
                period_start + timedelta(days=5),
                json.dumps({"summary": "resolution-time forecast to end at 70%"}),
            ),
        )
        conn.execute(
            "UPDATE pulse_period_outcomes SET revision = 2 WHERE contract = %s AND kpi = %s "
            "AND period_start = %s",
            (result.contract.contract, "resolution-time", period_start),
        )
    db_settings = settings.model_copy(update={"database_url": dsn})
    report = assemble(evidence_from_database(db_settings, result.contract, MONTH))
    (alert,) = report.alerts
    assert alert.alertname == "KpiForecastToMissTarget" and alert.value == 0.42
    (revised,) = report.revised
    assert revised.kpi == "resolution-time" and revised.revision == 2
    page = render_html(report)
    assert "resolution-time forecast to end at 70%" in page
    assert "KpiForecastToMissTarget" in page


async def _produce_dead_letters(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n, reason in enumerate(["malformed_json", "empty", "malformed_json"]):
            await producer.send_and_wait(
                topic, b"{}", key=str(n).encode(), headers=[("pulse-reason", reason.encode())]
            )
    finally:
        await producer.stop()


def test_dead_letters_are_counted_on_the_topic_by_reason(
    stored: tuple[str, BacktestResult], settings: PulseSettings
) -> None:
    dsn, result = stored
    topic = f"pulse-evidence-test-{uuid.uuid4().hex[:8]}"
    asyncio.run(_produce_dead_letters(settings.bootstrap, topic))
    db_settings = settings.model_copy(update={"database_url": dsn, "dead_letter_topic": topic})
    data = evidence_from_database(db_settings, result.contract, MONTH)
    assert data.provenance.dead_letters == {"empty": 1, "malformed_json": 2}
    unreachable = db_settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1"})
    data = evidence_from_database(unreachable, result.contract, MONTH)
    assert data.provenance.dead_letters is None
    assert data.provenance.dead_letters_note.startswith("not counted: cannot count dead letters")
    assert "not counted" in render_html(assemble(data))
