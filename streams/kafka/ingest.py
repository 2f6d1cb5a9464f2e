"""One batch of Kafka records in, one database flush out.

For each record: decode and validate it (``outcome_pulse.streams.wire.events``) and check its
Kafka key is its item's, source and subject (``outcome_pulse.streams.wire.item_key``); an invalid
one becomes a dead letter with its reason and topic/partition/offset; a valid one is folded into
the state of its item, ``(source, item id)`` (``outcome_pulse.processors.item_state``,
idempotent, so a redelivered record changes nothing). Then the whole batch is written to the
database in one flush. The two halves are ``prepare`` (CPU only, nothing awaited) and ``write``
(the dead letters and the database), so the batch drain can prepare the next batch while this
one is written. The caller acknowledges a batch's records only after its ``write`` returned, so
offsets are never committed past unwritten rows.

This module does not import faust: the table is any ``MutableMapping`` and the dead-letter
producer any async callable, so the logic is unit-tested without a broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.processors.item_state import ItemState, apply_event, has_applied, state_row
from outcome_pulse.sinks.errors import SinkRejected
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.sinks.rows import event_row
from outcome_pulse.streams.kafka.repeated_events import (
    RepeatKey,
    conflict,
    repeat_key,
    stored_conflicts,
)
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventDecoder, EventEnvelope
from outcome_pulse.streams.wire.item_key import ItemKey, event_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """What the handler needs from one Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # seconds since the epoch, as set by the producer


@dataclass(slots=True)
class PreparedBatch:
    """A batch decoded and folded (``BatchHandler.prepare``), waiting to be written."""

    accepted: list[EventEnvelope] = field(default_factory=list)
    sources: list[Record] = field(default_factory=list)  # the record of each accepted event
    touched: dict[ItemKey, ItemState] = field(default_factory=dict)  # item -> its new state
    dead: list[tuple[Record, InvalidRecord]] = field(default_factory=list)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)  # last offset per partition
    repeats: list[int] = field(default_factory=list)
    """Positions in ``accepted`` of events whose id their item had applied before this batch:
    compared with the stored copy at write time (``repeated_events``)."""
    changelog: StagedChangelog | None = None  # the changed items' records, not yet sent


# Context in which a table write belongs to a given record (faust needs its partition).
RecordContext = Callable[[Any], AbstractContextManager[Any]]


class ItemTable(Protocol):
    """The part of a (faust) table the handler uses: (source, item id) -> ItemState."""

    def get(self, key: ItemKey, default: None = None) -> ItemState | None: ...
    def __setitem__(self, key: ItemKey, value: ItemState) -> None: ...
    def __len__(self) -> int: ...


class EventSink(Protocol):
    async def write(
        self,
        events: Sequence[EventEnvelope],
        states: Sequence[dict[str, Any]],
        progress: Mapping[tuple[str, int], tuple[datetime, bool]] | None = None,
    ) -> Any:
        """Store events and states; ``progress``: ``(topic, partition) -> (latest event time,
        caught up)`` of the records they came from, stored with them (the per-partition
        watermark; caught up: the partition had no record after these when they were read)."""

    async def stored_events(
        self, keys: Sequence[RepeatKey]
    ) -> Mapping[RepeatKey, Sequence[Sequence[Any]]]:
        """The stored ``pulse_events`` rows (``EVENT_COLUMNS`` order) of each (source, item id,
        event id); keys with none stored absent."""


class StagedChangelog(Protocol):
    """A batch's item-table changelog records, already in the table's storage, not yet sent."""

    async def publish(self) -> Awaitable[None]:
        """Hand the records to the producer; the result completes when the broker has
        acknowledged every one of them (it raises if any failed)."""


class ItemChangelog(Protocol):
    """Writes a batch's changed items to the table at once (``streams/kafka/changelog.py``)."""

    def stage(
        self,
        changes: Sequence[tuple[ItemKey, ItemState, Any]],
        in_context: RecordContext,
    ) -> StagedChangelog:
        """Store each ``(item, state, record handle)`` in the table, in the record's context,
        without sending its changelog record yet."""


SendDeadLetter = Callable[[DeadLetter], Awaitable[Any]]


class BatchHandler:
    def __init__(
        self,
        *,
        decoder: EventDecoder,
        items: ItemTable,
        sink: EventSink,
        send_dead_letter: SendDeadLetter,
        metrics: PipelineMetrics,
        clock: Callable[[], datetime],
        highwater: Callable[[str, int], int | None] | None = None,
        rewrite_unchanged: bool = False,
        changelog: ItemChangelog | None = None,
    ) -> None:
        """``highwater(topic, partition)``: the offset after the partition's last record, as
        the consumer knows it (None: not known); without it every partition counts as caught
        up once its records are handled.

        ``rewrite_unchanged``: write every item a valid record touched to the table, also when
        re-applying the record changed nothing (a redelivery). A table kept on local disk
        (RocksDB) can survive a crash holding states whose changelog records were never sent;
        their records are redelivered, and rewriting their items sends those states
        (``streams/kafka/item_store.py``). An in-memory table is rebuilt from the changelog, so
        there a redelivered record that changes nothing needs no write.

        ``changelog``: how a batch's changed items reach the table. None: one ``items[item] =
        state`` per changed item, in its record's context (faust then sends each changelog
        record through its producer buffer). Given: ``changelog.stage`` stores them at once
        and ``write`` sends their changelog records together, and returns only after the broker
        acknowledged them and the rows are written (so the batch is acknowledged after both)."""
        self._decoder = decoder
        self._items = items
        self._sink = sink
        self._send_dead_letter = send_dead_letter
        self._metrics = metrics
        self._clock = clock
        self._highwater = highwater
        self._rewrite_unchanged = rewrite_unchanged
        self._changelog = changelog

    async def handle(
        self,
        batch: Iterable[tuple[Record, Any]],
        in_context: RecordContext,
    ) -> tuple[int, int]:
        """Process ``(record, handle)`` pairs; ``in_context(handle)`` scopes table writes.

        ``prepare`` then ``write``, one after the other. Returns (events accepted, dead letters).
        """
        return await self.write(self.prepare(batch, in_context))

    def prepare(
        self,
        batch: Iterable[tuple[Record, Any]],
        in_context: RecordContext,
    ) -> PreparedBatch:
        """The CPU part of a batch, without awaiting anything: decode and check each record,
        fold the valid ones into their items and write each changed item to the table once.

        Nothing is stored or sent yet: ``write`` does that. Batches must be prepared in the
        order they are read, and a batch prepared after another sees its items' new states
        (the table holds them), so the next batch can be prepared while this one is written.
        """
        prepared = PreparedBatch()
        touched = prepared.touched
        changed: dict[ItemKey, Any] = {}  # item -> handle of a record of that item (its partition)
        in_batch: dict[RepeatKey, EventEnvelope] = {}  # first copy of each id applied here
        for record, handle in batch:
            key = (record.topic, record.partition)
            ends = prepared.ends
            ends[key] = max(ends.get(key, record.offset), record.offset)
            try:
                envelope = self._valid_event(record)
            except InvalidRecord as bad:
                prepared.dead.append((record, bad))
                continue
            except Exception as exc:
                # A decoder bug, not bad input: without this one record would stop the worker,
                # and stop it again after every restart (a poison pill). Dead-letter it under
                # its own reason, with the traceback in the log, so the bug is seen and fixed.
                log.exception("decoding the record at %s failed unexpectedly", _origin(record))
                broken = InvalidRecord("decoder_error", f"{type(exc).__name__}: {exc}")
                prepared.dead.append((record, broken))
                continue
            item = (envelope.source, envelope.subject)
            before = touched.get(item) or self._items.get(item)
            if before is not None and has_applied(before, envelope.id):
                # A redelivery, or a copy with other content (repeated_events).
                first = in_batch.get(repeat_key(envelope))
                if first is None:
                    prepared.repeats.append(len(prepared.accepted))
                else:
                    clash = conflict(envelope, event_row(first), "earlier in this batch")
                    if clash is not None:
                        prepared.dead.append((record, clash))
                        continue
            else:
                in_batch[repeat_key(envelope)] = envelope
            after = apply_event(before, envelope.to_item_event(), envelope.sequence)
            if after is not before or self._rewrite_unchanged:
                changed[item] = handle
            touched[item] = after
            prepared.accepted.append(envelope)
            prepared.sources.append(record)
        # One table (changelog) write per changed item per batch, not one per event.
        if self._changelog is not None:
            if changed:
                prepared.changelog = self._changelog.stage(
                    [(item, touched[item], handle) for item, handle in changed.items()],
                    in_context,
                )
            return prepared
        for item, handle in changed.items():
            with in_context(handle):
                self._items[item] = touched[item]
        return prepared

    async def write(self, prepared: PreparedBatch) -> tuple[int, int]:
        """Send a prepared batch's dead letters and write its events and item states to the
        database in one flush; then count it. Returns (events accepted, dead letters).

        With a ``changelog``, the batch's changelog records are sent before the database
        flush and their acknowledgement awaited after it: this returns only once both are done.

        Batches are written one at a time, in the order they were prepared."""
        if prepared.repeats:
            await self._drop_conflicting(prepared)
        dead_reasons = [bad.reason for _, bad in prepared.dead]
        if prepared.dead:
            await asyncio.gather(
                *(self._send_dead_letter(_dead_letter(r, bad)) for r, bad in prepared.dead)
            )
        changelog_acked = None if prepared.changelog is None else await prepared.changelog.publish()
        accepted, sources, touched = prepared.accepted, prepared.sources, prepared.touched
        kept: Sequence[int] = range(len(accepted))
        if accepted:
            started = time.perf_counter()
            try:
                progress = self._progress(accepted, sources, prepared.ends)
                await self._sink.write(accepted, [state_row(s) for s in touched.values()], progress)
            except SinkRejected as rejected:
                self._metrics.health.sink_errors.inc()
                # The batch holds a value the database refuses (transient failures were already
                # retried inside the sink). Find it rather than crash-loop on the batch.
                log.error("database rejected a batch (%s); writing it event by event", rejected)
                kept = await self._write_one_by_one(accepted, sources, touched, dead_reasons)
            self._metrics.flush_seconds.observe(time.perf_counter() - started)
            self._metrics.batch_rows.observe(len(kept))
        if changelog_acked is not None:
            await changelog_acked  # the items' changelog records are stored by the broker
        self._count([accepted[i] for i in kept], dead_reasons, [sources[i].timestamp for i in kept])
        return len(kept), len(dead_reasons)

    async def _drop_conflicting(self, prepared: PreparedBatch) -> None:
        """Move each repeated event whose stored copy differs from ``accepted`` to ``dead``.

        Runs in ``write``, so every earlier batch (where the first copy may be) is stored. The
        item states are right already: the fold ignored the applied id."""
        repeats = [prepared.accepted[i] for i in prepared.repeats]
        stored = await self._sink.stored_events([repeat_key(e) for e in repeats])
        bad = stored_conflicts(repeats, stored)
        if not bad:
            return
        dropped = {prepared.repeats[i]: reason for i, reason in bad.items()}
        for i, reason in sorted(dropped.items()):
            prepared.dead.append((prepared.sources[i], reason))
        keep = [i for i in range(len(prepared.accepted)) if i not in dropped]
        prepared.accepted = [prepared.accepted[i] for i in keep]
        prepared.sources = [prepared.sources[i] for i in keep]
        prepared.repeats = []

    async def _write_one_by_one(
        self,
        accepted: list[EventEnvelope],
        sources: list[Record],
        touched: dict[ItemKey, ItemState],
        dead_reasons: list[str],
    ) -> list[int]:
        """Write each event with its item's state; dead-letter those the database refuses."""
        kept: list[int] = []
        for i, (envelope, record) in enumerate(zip(accepted, sources, strict=True)):
            try:
                item = (envelope.source, envelope.subject)
                await self._sink.write(
                    [envelope],
                    [state_row(touched[item])],
                    self._progress([envelope], [record], {}),
                )
                kept.append(i)
            except SinkRejected as exc:
                bad = InvalidRecord("rejected_by_database", str(exc))
                await self._send_dead_letter(_dead_letter(record, bad))
                dead_reasons.append(bad.reason)
        return kept

    def _progress(
        self,
        events: Sequence[EventEnvelope],
        records: Sequence[Record],
        ends: Mapping[tuple[str, int], int],
    ) -> dict[tuple[str, int], tuple[datetime, bool]]:
        """Per (topic, partition) of the records: the latest event time, and whether the
        partition was caught up (its last offset read, from ``ends``, is its last record)."""
        latest: dict[tuple[str, int], datetime] = {}
        for envelope, record in zip(events, records, strict=True):
            key = (record.topic, record.partition)
            held = latest.get(key)
            if held is None or envelope.time > held:
                latest[key] = envelope.time
        return {key: (at, self._caught_up(key, ends.get(key))) for key, at in latest.items()}

    def _caught_up(self, key: tuple[str, int], last_offset: int | None) -> bool:
        if self._highwater is None:
            return True
        if last_offset is None:
            return False
        try:
            end = self._highwater(*key)
        except Exception:  # the consumer may be rebalancing: not known, so not caught up
            return False
        return end is not None and last_offset + 1 >= end

    def _valid_event(self, record: Record) -> EventEnvelope:
        envelope = self._decoder.decode(record.value)
        expected = event_key(envelope)
        if record.key != expected:
            raise InvalidRecord("wrong_key", _wrong_key_detail(record.key, envelope, expected))
        return envelope

    def _count(
        self, accepted: list[EventEnvelope], dead_reasons: list[str], produced_at: list[float]
    ) -> None:
        for event_type, n in Counter(e.type for e in accepted).items():
            self._metrics.events.labels(type=event_type).inc(n)
        for reason, n in Counter(dead_reasons).items():
            self._metrics.dead_letters.labels(reason=reason).inc(n)
        now = self._clock().timestamp()
        for timestamp in produced_at:
            self._metrics.processing_latency.observe(max(0.0, now - timestamp))
        self._metrics.items_tracked.set(len(self._items))


def _wrong_key_detail(key: bytes | None, envelope: EventEnvelope, expected: bytes) -> str:
    shown = "no key" if key is None else f"the Kafka key {_shown(key)}"
    if key is not None and key == envelope.subject.encode():
        # The key format before events were keyed by source and item: an old producer.
        return (
            f"{shown} is the bare item id, the key format before items were identified by "
            f"source and item; events must be keyed {_shown(expected)} (source, NUL, subject: "
            "see the README's upgrade note)"
        )
    return (
        f"{shown} is not the event's item {_shown(expected)} (source {envelope.source!r}, NUL, "
        f"subject {envelope.subject!r}); events must be keyed by source and item so that all "
        "events of an item share a partition"
    )


def _shown(key: bytes) -> str:
    return repr(key) if len(key) <= 300 else repr(key[:300]) + "\u2026"


def _origin(record: Record) -> dict[str, Any]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _dead_letter(record: Record, bad: InvalidRecord) -> DeadLetter:
    return DeadLetter(
        reason=bad.reason, detail=bad.detail, origin=_origin(record), original=record.value
    )
