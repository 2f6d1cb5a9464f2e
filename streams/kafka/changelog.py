"""The item table's changelog, written once per batch instead of once per key through faust.

faust sends a table's changelog record from inside ``table[key] = value``: one
``Topic.send_soon`` per key into its ``ProducerBuffer``, whose background task publishes the
records one at a time. While the batch drain folded batches that buffer drained only 300-450
records/s here, and faust's commit then waited 1.0-1.3 s flushing it every 10,000 records
(README "Throughput"). Here a batch's changed items are written to the table's *storage* (memory
or RocksDB, as faust's ``__setitem__`` writes it) without faust's send (``stage``), and their
changelog records are handed to the producer together when the batch is written (``publish``):
the same topic, the same partition faust picks (the source record's; the table does not use the
partitioner), the same key and value bytes (the changelog topic's own ``prepare_key`` /
``prepare_value`` with the table's serializers, as ``Table.send_changelog`` passes them), no
headers and the producer's timestamp, as faust's path sends them. So standbys and recovery read
exactly what they read before.

What the batch drain relies on: ``publish`` returns an awaitable that completes once the broker
acknowledged every record of the batch (and raises if any failed), and the handler awaits it
before the batch is acknowledged, so an offset is never committed before its items' changelog
records are stored. Once they are, the RocksDB store's persisted offsets are moved as faust's
``_on_changelog_sent`` moves them (at-least-once: immediately; exactly-once is not taken here,
``supported``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import TP
from faust.types.enums import ProcessingGuarantee

from outcome_pulse.processors.item_state import ItemState
from outcome_pulse.streams.wire.item_key import ItemKey

# Writes an item's state into the table's storage without faust's changelog send, in the
# current record's context; returns the item's raw table key.
StoreWrite = Callable[[ItemKey, ItemState], bytes]


def supported(app: Any) -> bool:
    """Whether this path may replace faust's: only at-least-once (with exactly-once faust sends
    the changelog inside the partition's transaction and persists offsets on commit)."""
    # (not ``app.in_transaction``: a cached property, false until the worker runs)
    return bool(app.conf.processing_guarantee == ProcessingGuarantee.AT_LEAST_ONCE)


@dataclass(frozen=True, slots=True)
class ChangelogRecord:
    partition: int
    key: bytes
    value: bytes


class ChangelogBatch:
    """The changelog records of one batch, staged (in the table's storage) and not yet sent."""

    __slots__ = ("_changelog", "records")

    def __init__(self, changelog: BatchedChangelog, records: list[ChangelogRecord]) -> None:
        self._changelog = changelog
        self.records = records

    async def publish(self) -> Awaitable[None]:
        """Hand every record to the producer; the result completes when all are acknowledged."""
        return await self._changelog.publish(self.records)


class BatchedChangelog:
    """The item table's storage writes and changelog sends of a batch, done once per batch."""

    def __init__(self, table: Any, store_write: StoreWrite) -> None:
        self._table = table
        self._store_write = store_write
        self._verified: set[str] = set()

    @property
    def topic(self) -> str:
        return str(self._table.changelog_topic.get_topic_name())

    def stage(
        self,
        changes: Sequence[tuple[ItemKey, ItemState, Any]],
        in_context: Callable[[Any], Any],
    ) -> ChangelogBatch:
        """Write each ``(item, state, handle)`` to the table's storage in ``handle``'s record
        context and encode its changelog record (partition: that record's); nothing is sent."""
        table = self._table
        changelog_topic = table.changelog_topic
        key_serializer, value_serializer = table.key_serializer, table.value_serializer
        records: list[ChangelogRecord] = []
        for item, state, handle in changes:
            message = handle.message
            source_topic = message.topic
            if source_topic not in self._verified:
                # faust's own check that the source topic and the changelog are co-partitioned
                table._verify_source_topic_partitions(source_topic)
                self._verified.add(source_topic)
            with in_context(handle):
                raw = self._store_write(item, state)
            key, _ = changelog_topic.prepare_key(raw, key_serializer, None, {})
            value, _ = changelog_topic.prepare_value(state, value_serializer, None, {})
            records.append(ChangelogRecord(int(message.partition), key, value))
        return ChangelogBatch(self, records)

    async def publish(self, records: Sequence[ChangelogRecord]) -> Awaitable[None]:
        if not records:
            return asyncio.ensure_future(_nothing())
        producer = self._table.app.producer
        topic = self.topic
        sent = [
            await producer.send(topic, r.key, r.value, r.partition, None, None) for r in records
        ]
        return asyncio.ensure_future(self._acknowledged(sent))

    async def _acknowledged(self, sent: list[Awaitable[Any]]) -> None:
        results = await asyncio.gather(*sent)
        # faust's _on_changelog_sent: the RocksDB store remembers the last changelog offset it
        # holds per partition, so a restart reads only what comes after (memory: a no-op).
        last: dict[TP, int] = {}
        for metadata in results:
            tp = metadata.topic_partition
            last[tp] = max(last.get(tp, -1), metadata.offset)
        store = self._table.data
        for tp, offset in last.items():
            store.set_persisted_offset(tp, offset)


async def _nothing() -> None:
    return None
