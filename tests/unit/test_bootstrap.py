"""The worker wired by the composition root, with in-memory adapters instead of PostgreSQL.

The events topic's records reach the batch handler through the consumer's batch route (the agent
never receives them); here a fetched record is handed to that route inside faust's own test
context (no broker) and goes through the batch handler into the injected sink, counted on the
injected registry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from faust.types import TP

from outcome_pulse.processors.lifecycle import ItemKind, Lifecycle
from outcome_pulse.processors.measurements import SERVICE_WIDE, IndicatorPoint
from outcome_pulse.streams.contract_files import load_contract
from outcome_pulse.streams.kafka.topics import ITEM_TABLE
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import build_envelope, encode_event
from outcome_pulse.streams.wire.item_key import item_key
from tests.support.memory import MemoryEventSink, fixed_clock, memory_adapters, wired_worker
from tests.unit.test_changelog import RecordingProducer

NOW = datetime(2026, 11, 21, tzinfo=UTC)
EXAMPLE = Path(str(resources.files("outcome_pulse.contracts") / "helpdesk_tickets.yaml"))


def created(item: str) -> bytes:
    return encode_event(
        build_envelope(
            event_id=f"{item}-created",
            source="unit",
            kind=ItemKind.INCIDENT,
            lifecycle=Lifecycle.CREATED,
            time=datetime(2012, 1, 1, 10, tzinfo=UTC),
            item_id=item,
            sequence=1,
        )
    )


@dataclass(frozen=True)
class _Fetched:
    """The fields of an aiokafka ConsumerRecord the batch route reads."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp: int  # milliseconds


def test_the_worker_runs_its_batch_route_on_the_injected_sink_and_registry(
    unit_settings: PulseSettings,
) -> None:
    sink = MemoryEventSink()
    adapters = memory_adapters(fixed_clock(NOW), sink)
    with wired_worker(unit_settings, [], adapters) as worker:
        assert worker.metrics.registry is adapters.registry
        assert worker.monitor is not None and worker.monitor.store is adapters.monitor_store
        assert worker.gauges is None  # no contract, no KPI gauges
        agent = next(iter(worker.app.agents.values()))

        assert worker.app.batch_route is not None
        topic, ingest_batch = worker.app.batch_route
        assert topic == unit_settings.events_topic
        record = _Fetched(
            topic, 0, offset=0, key=item_key("unit", "inc-1"), value=created("inc-1"), timestamp=0
        )

        producer = RecordingProducer()  # the changelog is sent on the (unstarted) producer
        worker.app.producer = producer

        async def run() -> None:
            async with agent.test_context():
                write = ingest_batch([(TP(topic, 0), record)])  # prepared (decoded, folded)
                written = asyncio.ensure_future(write())  # and written...
                for _ in range(500):
                    if producer.sent:
                        break
                    await asyncio.sleep(0.01)
                producer.acknowledge()  # ...once its changelog record is acknowledged
                await written

        asyncio.run(run())
    assert [(topic, partition) for topic, partition, *_ in producer.sent] == [
        (worker.app.tables[ITEM_TABLE].changelog_topic_name, 0)
    ]
    [(events, states)] = sink.flushes
    assert [e.subject for e in events] == ["inc-1"]
    assert [s["status"] for s in states] == ["open"]
    counted = adapters.registry.get_sample_value(
        "pulse_events_total", {"type": "pulse.incident.created"}
    )
    assert counted == 1


def test_with_contracts_the_kpi_gauges_are_collected_from_the_injected_registry(
    unit_settings: PulseSettings,
) -> None:
    adapters = memory_adapters(fixed_clock(NOW))
    with wired_worker(unit_settings, [load_contract(EXAMPLE)], adapters) as worker:
        assert worker.gauges is not None
        at = datetime(2024, 3, 1, tzinfo=UTC)
        point = IndicatorPoint("c1", "desk", SERVICE_WIDE, "open_backlog", at, 7, False)
        worker.gauges.update("acme", [point])
    labels = {"client": "acme", "service": "desk", "kpi": SERVICE_WIDE}
    assert adapters.registry.get_sample_value("pulse_kpi_open_backlog", labels) == 7


def _tasks(app: object) -> set[str]:
    return {task.__name__ for task in getattr(app, "_app_tasks")}  # noqa: B009


def test_a_worker_of_role_ingest_stores_events_and_evaluates_nothing(
    unit_settings: PulseSettings,
) -> None:
    settings = unit_settings.model_copy(update={"worker_role": "ingest"})
    adapters = memory_adapters(fixed_clock(NOW))
    with wired_worker(settings, [load_contract(EXAMPLE)], adapters) as worker:
        assert worker.monitor is None and worker.gauges is None
        assert worker.app.conf.id == settings.app_id
        assert worker.app.batch_route is not None  # the events still go to the batch handler
        topics = {t for agent in worker.app.agents.values() for t in agent.channel.topics}
        assert topics == {settings.events_topic}  # not subscribed to the evaluation shards
        assert not {"_monitor_contracts", "_deliver_alerts"} & _tasks(worker.app)


def test_a_worker_of_role_evaluate_holds_shards_in_a_group_of_its_own(
    unit_settings: PulseSettings,
) -> None:
    settings = unit_settings.model_copy(update={"worker_role": "evaluate"})
    adapters = memory_adapters(fixed_clock(NOW))
    with wired_worker(settings, [load_contract(EXAMPLE)], adapters) as worker:
        assert worker.monitor is not None and worker.monitor.store is adapters.monitor_store
        assert worker.gauges is not None
        assert worker.app.conf.id == f"{settings.app_id}-evaluation"
        assert getattr(worker.app, "batch_route", None) is None
        topics = {t for agent in worker.app.agents.values() for t in agent.channel.topics}
        assert topics == {settings.evaluation_topic}  # neither the events nor a table
        assert not worker.app.tables
        assert "_monitor_contracts" in _tasks(worker.app)


def test_a_worker_of_role_all_does_both(unit_settings: PulseSettings) -> None:
    adapters = memory_adapters(fixed_clock(NOW))
    with wired_worker(unit_settings, [load_contract(EXAMPLE)], adapters) as worker:
        assert unit_settings.worker_role == "all" and worker.monitor is not None
        topics = {t for agent in worker.app.agents.values() for t in agent.channel.topics}
        assert topics == {unit_settings.events_topic, unit_settings.evaluation_topic}
        assert "_monitor_contracts" in _tasks(worker.app)
