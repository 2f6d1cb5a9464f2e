"""The item table's changelog written once per batch (streams/kafka/changelog.py).

Through the worker's own wiring (``app.batch_route``, the callback the batch drain calls), with
the producer replaced by a recorder: no broker. faust's own per-key path (``table[key] =
state`` in the record's context, one ``send_soon`` per key) is run beside it on the same records
as the reference for what the changelog must receive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord, RecordMetadata, TopicPartition
from faust.types import TP

from outcome_pulse.processors.lifecycle import Lifecycle
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.streams.kafka.app import _InFlight, _record, _StrKeyTable, as_current_event
from outcome_pulse.streams.kafka.ingest import BatchHandler
from outcome_pulse.streams.kafka.topics import ITEM_TABLE
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.events import EventDecoder
from tests.support.memory import MemoryEventSink, Worker, memory_adapters, wired_worker
from tests.unit.test_ingest import event_bytes, key

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def consumer_record(topic: str, partition: int, offset: int, item: str, n: int) -> Any:
    lifecycle = Lifecycle.CREATED if n == 0 else Lifecycle.STATE_CHANGED
    data = {} if n == 0 else {"state": f"step {n}"}
    value = event_bytes(n, item, lifecycle, **data)
    k = key(item)
    return ConsumerRecord(topic, partition, offset, 0, 0, k, value, None, len(k), len(value), [])


def a_batch(topic: str) -> list[tuple[TP, Any]]:
    # A twice and C on partition 0, B on partition 1; A's second event changes it again.
    rows = [(0, 0, "A", 0), (1, 0, "B", 0), (0, 1, "A", 1), (0, 2, "C", 0), (1, 1, "B", 0)]
    return [(TP(topic, p), consumer_record(topic, p, o, item, n)) for p, o, item, n in rows]


class RecordingProducer:
    """Stands for faust's producer: ``send`` returns a future resolved by ``acknowledge``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, bytes, bytes, Any]] = []
        self.futures: list[asyncio.Future[RecordMetadata]] = []
        self.soon: list[Any] = []  # faust's per-key buffer (send_soon): must stay unused

    async def send(self, topic: str, key: Any, value: Any, partition: Any, *rest: Any) -> Any:
        headers = rest[1] if len(rest) > 1 else None
        self.sent.append((topic, partition, key, value, headers))
        future: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future

    def send_soon(self, fut: Any) -> None:
        self.soon.append(fut)

    def acknowledge(self, error: Exception | None = None) -> None:
        for i, ((topic, partition, *_), future) in enumerate(
            zip(self.sent, self.futures, strict=True)
        ):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
                continue
            tp = TopicPartition(topic, partition)
            future.set_result(RecordMetadata(topic, partition, tp, 100 + i, 0, 0, 0))


@pytest.fixture(params=["memory", "rocksdb"])
def settings(request: pytest.FixtureRequest, unit_settings: PulseSettings) -> PulseSettings:
    return unit_settings.model_copy(update={"item_store": request.param})


@pytest.fixture
def sink() -> MemoryEventSink:
    return MemoryEventSink()


@pytest.fixture
def worker(
    settings: PulseSettings, sink: MemoryEventSink
) -> Iterator[tuple[Worker, RecordingProducer]]:
    with wired_worker(settings, [], memory_adapters(lambda: NOW, sink)) as worker:
        producer = RecordingProducer()
        worker.app.producer = producer
        yield worker, producer


def hold_partitions(worker: Worker, partitions: set[int]) -> None:
    table = worker.app.tables[ITEM_TABLE]
    topic = table.changelog_topic_name
    worker.app.assignor.assigned_actives = lambda: {TP(topic, p) for p in partitions}
    if table.data.__class__.__module__.endswith("rocksdb"):
        for p in partitions:
            table.data._db_for_partition(p)


def faust_s_own_records(settings: PulseSettings, topic: str) -> tuple[list[Any], dict[Any, Any]]:
    """What faust's per-key path sends for the same batch (``BatchHandler`` without a
    ``changelog``: ``table[key] = state`` per changed item, in its record's context)."""
    apart = settings.model_copy(update={"state_dir": settings.state_dir.parent / "faust-path"})
    with wired_worker(apart, [], memory_adapters(lambda: NOW)) as other:
        producer = RecordingProducer()
        other.app.producer = producer
        hold_partitions(other, {0, 1})
        table = other.app.tables[ITEM_TABLE]
        items = _StrKeyTable(table, counted=settings.item_store == "rocksdb")
        handler = BatchHandler(
            decoder=EventDecoder(lambda: NOW),
            items=items,
            sink=MemoryEventSink(),
            send_dead_letter=_no_dead_letters,
            metrics=PipelineMetrics(),
            clock=lambda: NOW,
        )
        pairs = [(_record(tp, r), _InFlight(tp, r)) for tp, r in a_batch(topic)]

        async def prepare() -> None:  # faust's future messages need a running loop
            handler.prepare(pairs, as_current_event)

        asyncio.run(prepare())
        records = sorted(
            (
                f.message.channel.get_topic_name(),
                f.message.partition,
                f.message.key,
                f.message.value,
                f.message.headers or None,
            )
            for f in producer.soon
        )
        states = {k: items.get(k) for k in (("unit", "A"), ("unit", "B"), ("unit", "C"))}
        return records, states


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def _no_dead_letters(letter: Any) -> None:
    raise AssertionError(f"unexpected dead letter {letter}")


def test_a_batch_s_changelog_records_are_those_faust_s_own_path_sends(
    worker: tuple[Worker, RecordingProducer], settings: PulseSettings
) -> None:
    w, producer = worker
    hold_partitions(w, {0, 1})
    topic, ingest_batch = w.app.batch_route
    table = w.app.tables[ITEM_TABLE]

    async def run() -> None:
        write = ingest_batch(a_batch(topic))
        done = asyncio.ensure_future(write())
        await until(lambda: len(producer.sent) >= 3)
        producer.acknowledge()
        await done

    asyncio.run(run())
    expected, states = faust_s_own_records(settings, topic)
    # one record per changed item per batch, same topic, partition, key and value bytes
    assert sorted(producer.sent) == expected and len(expected) == 3
    assert {(t, p) for t, p, *_ in expected} == {(table.changelog_topic_name, 0)} | {
        (table.changelog_topic_name, 1)
    }
    assert producer.soon == []  # nothing went through faust's per-key buffer
    items = _StrKeyTable(table)
    assert {k: items.get(k) for k in states} == states
    assert states[("unit", "A")].event_count == 2
    if settings.item_store == "rocksdb":  # as faust's _on_changelog_sent: last offset per partition
        changelog = table.changelog_topic_name
        # sent A (0), B (1), C (0): offsets 100, 101, 102
        assert table.data.persisted_offset(TP(changelog, 0)) == 102
        assert table.data.persisted_offset(TP(changelog, 1)) == 101


def test_a_batch_is_written_only_once_its_changelog_records_are_acknowledged(
    worker: tuple[Worker, RecordingProducer], sink: MemoryEventSink
) -> None:
    # faust's own path returned once the rows were written, its changelog records still in
    # the producer's buffer: the batch was acknowledged before its state changes were stored.
    w, producer = worker
    hold_partitions(w, {0, 1})
    topic, ingest_batch = w.app.batch_route

    async def run() -> None:
        done = asyncio.ensure_future(ingest_batch(a_batch(topic))())
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(sink.flushes) == 1 and len(producer.sent) == 3  # rows written, records sent
        assert not done.done()  # ... and not acknowledged by the broker yet
        producer.acknowledge()
        await asyncio.wait_for(done, 5)

    asyncio.run(run())


def test_a_changelog_send_that_fails_fails_the_batch(
    worker: tuple[Worker, RecordingProducer], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, producer = worker
    hold_partitions(w, {0, 1})
    topic, ingest_batch = w.app.batch_route
    stopped: list[bool] = []

    class Stopped(Exception):
        pass

    def stop() -> None:  # the worker's exit without acknowledging (os._exit(70))
        stopped.append(True)
        raise Stopped

    monkeypatch.setattr("outcome_pulse.streams.kafka.app._stop_unacknowledged", stop)

    async def run() -> None:
        done = asyncio.ensure_future(ingest_batch(a_batch(topic))())
        await until(lambda: len(producer.sent) >= 3)
        producer.acknowledge(RuntimeError("broker refused"))
        with pytest.raises(Stopped):
            await done

    asyncio.run(run())
    assert stopped == [True]  # the process stops without acknowledging the batch
