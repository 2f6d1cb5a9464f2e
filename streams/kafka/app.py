"""The faust application: the events topic, the changelog-backed item table, and the agent.

Delivery is at-least-once with idempotent state and sinks (see README, "Exactness"):
the consumer hands ``ingest_batch`` each fetched batch of the events topic (``batch_drain``:
the next batch is decoded and folded while the previous one is written) and acknowledges its
records only after the fold, that batch's own database flush and the broker's acknowledgement
of its item-table changelog records (``changelog.py``, sent once per batch) returned; faust
still flushes the producer (dead letters) before it commits offsets. A crash anywhere
re-delivers records whose effects are either absent or identical, and re-applying them changes
nothing.

Agent concurrency stays 1 (faust issue #606: concurrency > 1 can commit past an in-flight
event); scale with partitions and workers.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

import faust
from faust.exceptions import ValueDecodeError
from faust.streams import _current_event, current_event
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, TransportT

import outcome_pulse.streams.kafka.codecs  # noqa: F401  (registers the item-state codec)
from outcome_pulse.sinks.alertmanager import AlertDelivery
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.streams.drivers.shards import ShardedMonitor
from outcome_pulse.streams.kafka import item_store
from outcome_pulse.streams.kafka.batch_drain import (
    BatchCallback,
    BatchDrainMixin,
    BatchWrite,
    RecordBatch,
)
from outcome_pulse.streams.kafka.changelog import BatchedChangelog
from outcome_pulse.streams.kafka.changelog import supported as changelog_supported
from outcome_pulse.streams.kafka.evaluator import add_contract_tasks
from outcome_pulse.streams.kafka.ingest import BatchHandler, EventSink, Record
from outcome_pulse.streams.kafka.prompt_fetch import PromptFetchConsumerThread
from outcome_pulse.streams.kafka.topics import ITEM_TABLE
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventDecoder
from outcome_pulse.streams.wire.item_key import ItemKey, item_key, split_item_key

log = logging.getLogger(__name__)


@contextmanager
def as_current_event(event: Any) -> Iterator[None]:
    """Make ``event`` faust's current event, so a table write goes to *its* partition.

    A batch mixes partitions, and faust picks the changelog partition of a
    table write from the current event (``Table.partition_for_key``).
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def create_app(
    settings: PulseSettings,
    *,
    sink: EventSink,
    metrics: PipelineMetrics,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monitor: ShardedMonitor | None = None,
    delivery: AlertDelivery | None = None,
) -> faust.App:
    # faust creates its data directory but not the parents of it.
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    rocks_dir = item_store.prepare_store_dir(settings)  # None: the memory store
    app = _PulseApp(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store=item_store.store_url(settings),
        # faust's working directory: under the stack's state directory, not the current one.
        datadir=str(settings.state_dir / "faust" / "{conf.name}"),
        # the RocksDB databases of the item table (unused by the memory store)
        tabledir=str(item_store.store_dir(settings)),
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        producer_acks=-1,
        broker_commit_every=10_000,
        broker_commit_interval=1.0,
        # A SIGKILLed worker's partitions stay assigned to it until its session expires: faust's
        # 60 s default meant a minute without processing after every crash (seen in the kill
        # test). The heartbeat runs on faust's consumer thread, not the agent's, so a long
        # database retry does not expire the session.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        stream_wait_empty=True,
        # A batch is what one fetch returns for the events topic, at most this many records;
        # nothing waits for a batch to fill (sink_batch_seconds is no longer used here).
        broker_max_poll_records=settings.sink_batch_size,
    )
    events_topic = app.topic(
        settings.events_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    dead_letter_topic = app.topic(
        settings.dead_letter_topic,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    # item_store.ItemTable: the changelog is read raw and recovered states are decoded once,
    # through ITEM_STATE_CODEC, into ItemState objects (memory) or stored as bytes (RocksDB).
    items = cast(
        faust.Table,  # type: ignore[type-arg]
        app.tables.add(
            item_store.ItemTable(
                app,
                name=ITEM_TABLE,
                default=None,
                beacon=app.tables.beacon,
                partitions=settings.partitions,
                key_type=bytes,
                options=item_store.table_options(settings),
                decode_recovered=rocks_dir is None,
            )
        ),
    )

    async def send_dead_letter(letter: DeadLetter) -> Any:
        log.warning("dead letter (%s): %s at %s", letter.reason, letter.detail, letter.origin)
        fut = await dead_letter_topic.send(
            key=letter.key(), value=letter.encode(clock()), headers=letter.headers()
        )
        return await fut

    item_view = _StrKeyTable(items, counted=rocks_dir is not None)
    handler = BatchHandler(
        decoder=EventDecoder(clock, max_bytes=settings.max_event_bytes),
        items=item_view,
        sink=sink,
        send_dead_letter=send_dead_letter,
        metrics=metrics,
        clock=clock,
        highwater=lambda topic, partition: app.consumer.highwater(TP(topic, partition)),
        # A RocksDB store may hold states its changelog lacks after a crash (item_store.py).
        rewrite_unchanged=rocks_dir is not None,
        # One changelog send per batch, acknowledged before the batch is (changelog.py); faust's
        # per-key path under exactly-once.
        changelog=(
            BatchedChangelog(items, item_view.store_only) if changelog_supported(app) else None
        ),
    )

    @app.task  # type: ignore[untyped-decorator]
    async def _size_changelog_buffer() -> None:
        # faust's producer buffer warns above 100 pending sends; on faust's own changelog path
        # (exactly-once) one batch sets up to sink_batch_size table keys, each a send.
        app.producer.buffer.max_messages = 2 * settings.sink_batch_size

    def ingest_batch(batch: RecordBatch) -> BatchWrite:
        # Called by the batch drain while the previous batch is being written (batch_drain.py).
        pairs = [(_record(tp, r), _InFlight(tp, r)) for tp, r in batch]
        try:
            prepared = handler.prepare(pairs, as_current_event)
        except BaseException:
            _stop_unacknowledged()

        async def write() -> None:
            try:
                await handler.write(prepared)
            except BaseException:  # also a cancellation in the middle of a database write
                _stop_unacknowledged()
            _report_lag(app, metrics, pairs)

        return write

    # The events topic's records go to ``ingest_batch`` in fetch batches (batch_drain.py), not
    # through faust's per-event stream. The agent stays: it subscribes the topic, so the group
    # assignment and the table's co-partitioning are faust's own. It never receives an event.
    app.batch_route = (settings.events_topic, ingest_batch)

    @app.agent(events_topic, concurrency=1)
    async def ingest(stream: faust.StreamT) -> None:  # type: ignore[type-arg]
        async for event in stream:
            log.critical("an event reached the stream path, bypassed by the batch drain: %s", event)
            _stop_unacknowledged()

    add_contract_tasks(app, settings, monitor, delivery)
    return app


class _NoGapConsumer(BatchDrainMixin, aiokafka_driver.Consumer):
    """faust's Kafka consumer, made to commit only offsets the agent has acknowledged.

    Two faust defects, both met in the kill test after a worker restart (faust-streaming 0.15.3):

    * Recovery resumes the event partitions before it seeks them to the committed offset, while
      flow is still stopped: a record fetched in that window is dropped, and faust then counts
      offsets as "gaps" (meant for compacted topics) from the stale read position. The gap's
      offsets were later acknowledged a second time, faust's run-finding stops at each duplicate,
      and commits crept one offset per second: the group stayed thousands of messages behind for
      minutes after every row was written (robinhood/faust#559, #625). The events topic is not
      compacted, so its offsets are contiguous: ``_add_gap`` records nothing here.
    * The dropped record itself: faust commits past a one-offset hole at the head of the
      acknowledged offsets, so the record at the committed offset was committed unprocessed
      (a lost event, caught by the kill test's row counts). Here a hole at the head blocks the
      commit, and the partition is re-read from the committed offset; re-processing is
      idempotent. (This also means records of a transactional producer, whose commit markers
      occupy offsets, are not supported on the events topic.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reread: set[TP] = set()

    def _new_consumer_thread(self) -> PromptFetchConsumerThread:
        # fetches held by the broker for at most 100 ms, not faust's 1.5 s (prompt_fetch.py)
        return PromptFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        return None

    def _new_offset(self, tp: TP) -> int | None:
        acked, committed = self._acked[tp], self._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed:
            self._reread.add(tp)
            return None
        return super()._new_offset(tp)

    async def commit(self, *args: Any, **kwargs: Any) -> bool:
        committed = bool(await super().commit(*args, **kwargs))
        holes, self._reread = self._reread, set()
        assigned = self.assignment()
        for tp in holes:
            offset = self._committed_offset[tp]
            if tp in assigned and offset is not None:
                log.warning(
                    "re-reading %s[%d] from offset %d: that record was dropped unprocessed",
                    tp.topic,
                    tp.partition,
                    offset,
                )
                await self.seek(tp, offset)
        return committed


class _NoGapTransport(aiokafka_driver.Transport):
    Consumer = _NoGapConsumer


class _PulseApp(faust.App):
    """faust.App whose consumer is ``_NoGapConsumer``, draining ``batch_route`` in batches."""

    batch_route: tuple[str, BatchCallback] | None = None

    def _new_transport(self) -> TransportT:
        return _NoGapTransport(self.conf.broker_consumer, self)

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        if self.batch_route is not None:
            cast(BatchDrainMixin, consumer).drain_in_batches(*self.batch_route)
        return consumer


class _InFlight:
    """Stands for faust's current event while a record's table writes are made: the table
    reads the changelog partition (and checks the source topic) from ``.message``."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, tp: TP, record: Any) -> None:
        self.message = record


class _StrKeyTable:
    """The item table seen with ``(source, item id)`` keys and ``ItemState`` values.

    Keys are raw bytes in faust: the events topic's key of the item (``wire.item_key``), so a
    table key and its changelog record are those of the item's events. Values written by this
    worker are ``ItemState`` objects, and so are those recovered from the changelog
    (``item_store.ItemTable``); a state RocksDB holds that does not decode is a
    ``DamagedItemState`` naming the item, on read.

    ``counted``: the table is in RocksDB, whose ``len()`` walks every key; the number of items
    is then kept by ``item_store.RocksKeyCount``, which needs to know which writes add a key.
    """

    def __init__(self, table: faust.Table, *, counted: bool = False) -> None:  # type: ignore[type-arg]
        self._table = table
        self._count = item_store.RocksKeyCount(table) if counted else None

    def get(self, key: ItemKey, default: Any = None) -> Any:
        try:
            return self._table.get(item_key(*key), default)
        except ValueDecodeError as exc:
            raise _damaged(key, exc) from exc

    def __getitem__(self, key: ItemKey) -> Any:
        try:
            return self._table[item_key(*key)]
        except ValueDecodeError as exc:
            raise _damaged(key, exc) from exc

    def __setitem__(self, key: ItemKey, value: Any) -> None:
        raw = item_key(*key)
        if self._count is None:
            self._table[raw] = value
            return
        new = raw not in self._table
        self._table[raw] = value
        if new:
            self._count.added(_current_partition())

    def store_only(self, key: ItemKey, value: Any) -> bytes:
        """``self[key] = value`` without faust's changelog send: the table's storage only (the
        caller sends the changelog record, ``changelog.BatchedChangelog``). Returns the raw key."""
        raw = item_key(*key)
        store = self._table.data
        if self._count is None:
            store[raw] = value
            return raw
        new = raw not in store
        store[raw] = value
        if new:
            self._count.added(_current_partition())
        return raw

    def __delitem__(self, key: ItemKey) -> None:
        raw = item_key(*key)
        del self._table[raw]
        if self._count is not None:
            self._count.removed(_current_partition())

    def __iter__(self) -> Iterator[ItemKey]:
        return (split_item_key(k) for k in self._table)

    def __len__(self) -> int:
        return len(self._table) if self._count is None else self._count.total()


def _damaged(key: ItemKey, exc: Exception) -> item_store.DamagedItemState:
    """A stored state (RocksDB keeps recovered records undecoded) that our codec cannot read."""
    return item_store.DamagedItemState(
        f"the stored state of item {key!r} is not an item state: {exc}"
    )


def _current_partition() -> int:
    """The partition a table write goes to: that of faust's current event (``as_current_event``)."""
    event = current_event()
    if event is None:
        raise RuntimeError("an item-table write outside a record's context (as_current_event)")
    return int(event.message.partition)


def _stop_unacknowledged() -> NoReturn:
    """End the process on a bug or an outage the sink gave up on, without acknowledging.

    Bad input never gets here (it is dead-lettered). Exiting is the only safe move: when an
    agent's body raised, faust closed the ``take_events`` generator, whose ``finally`` ACKED the
    failed batch, and its supervisor restarted the agent, so the batch's offsets were
    committed with its rows never written (seen here before this guard); the batch drain could
    go on with the next fetch in the same way. Exiting first leaves the
    batch unacknowledged; a restarted worker re-processes it, and re-processing is idempotent.
    """
    log.critical("worker stopping: a batch failed and was not acknowledged", exc_info=True)
    logging.shutdown()
    os._exit(70)


def _record(tp: TP, record: Any) -> Record:
    return Record(
        topic=tp.topic,
        partition=tp.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        timestamp=record.timestamp / 1000.0,  # aiokafka: milliseconds
    )


def _report_lag(app: faust.App, metrics: PipelineMetrics, pairs: list[tuple[Record, Any]]) -> None:
    last: dict[int, Record] = {}
    for record, _ in pairs:
        last[record.partition] = record
    for partition, record in last.items():
        try:
            highwater = app.consumer.highwater(TP(record.topic, partition))
        except Exception:  # the consumer may be rebalancing; lag is best effort
            continue
        if highwater is not None:
            metrics.consumer_lag.labels(partition=str(partition)).set(
                max(0, highwater - record.offset - 1)
            )
