"""One batch of Kafka records in, one database flush out.

For each record: decode and validate it (``outcome_pulse.streams.wire.events``); an invalid one
becomes a dead letter with its reason and topic/partition/offset; a valid one is folded into its
item's state (``outcome_pulse.processors.item_state``, idempotent, so a redelivered record changes
nothing). Then the whole batch is written to the database in one flush. The caller (the faust agent)
acknowledges the records only after ``handle`` returns, so offsets are never committed past
unwritten rows.

This module does not import faust: the table is any ``MutableMapping`` and the dead-letter
producer any async callable, so the logic is unit-tested without a broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from outcome_pulse.processors.errors import InvalidRecord
from outcome_pulse.processors.item_state import ItemState, apply_event, state_row
from outcome_pulse.sinks.errors import SinkRejected
from outcome_pulse.sinks.metrics import PipelineMetrics
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventDecoder, EventEnvelope

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


class ItemTable(Protocol):
    """The part of a (faust) table the handler uses: item id -> ItemState."""

    def get(self, key: str, default: None = None) -> ItemState | None: ...
    def __setitem__(self, key: str, value: ItemState) -> None: ...
    def __len__(self) -> int: ...


class EventSink(Protocol):
    async def write(
        self, events: Sequence[EventEnvelope], states: Sequence[dict[str, Any]]
    ) -> Any: ...


SendDeadLetter = Callable[[DeadLetter], Awaitable[Any]]
# Context in which a table write belongs to a given record (faust needs its partition).
RecordContext = Callable[[Any], AbstractContextManager[Any]]


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
    ) -> None:
        self._decoder = decoder
        self._items = items
        self._sink = sink
        self._send_dead_letter = send_dead_letter
        self._metrics = metrics
        self._clock = clock

    async def handle(
        self,
        batch: Iterable[tuple[Record, Any]],
        in_context: RecordContext,
    ) -> tuple[int, int]:
        """Process ``(record, handle)`` pairs; ``in_context(handle)`` scopes table writes.

        Returns (events accepted, dead letters).
        """
        accepted: list[EventEnvelope] = []
        sources: list[Record] = []
        touched: dict[str, ItemState] = {}
        changed: dict[str, Any] = {}  # item id -> handle of a record of that item (its partition)
        pending_dead: list[Awaitable[Any]] = []
        dead_reasons: list[str] = []
        produced_at: list[float] = []
        for record, handle in batch:
            try:
                envelope = self._valid_event(record)
            except InvalidRecord as bad:
                pending_dead.append(self._send_dead_letter(_dead_letter(record, bad)))
                dead_reasons.append(bad.reason)
                continue
            except Exception as exc:
                # A decoder bug, not bad input: without this one record would stop the worker,
                # and stop it again after every restart (a poison pill). Dead-letter it under
                # its own reason, with the traceback in the log, so the bug is seen and fixed.
                log.exception("decoding the record at %s failed unexpectedly", _origin(record))
                broken = InvalidRecord("decoder_error", f"{type(exc).__name__}: {exc}")
                pending_dead.append(self._send_dead_letter(_dead_letter(record, broken)))
                dead_reasons.append(broken.reason)
                continue
            item_id = envelope.subject
            before = touched.get(item_id) or self._items.get(item_id)
            after = apply_event(before, envelope.to_item_event(), envelope.sequence)
            if after is not before:
                changed[item_id] = handle
            touched[item_id] = after
            accepted.append(envelope)
            sources.append(record)
            produced_at.append(record.timestamp)
        # One table (changelog) write per changed item per batch, not one per event.
        for item_id, handle in changed.items():
            with in_context(handle):
                self._items[item_id] = touched[item_id]
        if pending_dead:
            await asyncio.gather(*pending_dead)
        if accepted:
            started = time.perf_counter()
            try:
                await self._sink.write(accepted, [state_row(s) for s in touched.values()])
            except SinkRejected as rejected:
                # The batch holds a value the database refuses (transient failures were already
                # retried inside the sink). Find it rather than crash-loop on the batch.
                log.error("database rejected a batch (%s); writing it event by event", rejected)
                kept = await self._write_one_by_one(accepted, sources, touched, dead_reasons)
                accepted = [accepted[i] for i in kept]
                produced_at = [produced_at[i] for i in kept]
            self._metrics.flush_seconds.observe(time.perf_counter() - started)
            self._metrics.batch_rows.observe(len(accepted))
        self._count(accepted, dead_reasons, produced_at)
        return len(accepted), len(dead_reasons)

    async def _write_one_by_one(
        self,
        accepted: list[EventEnvelope],
        sources: list[Record],
        touched: dict[str, ItemState],
        dead_reasons: list[str],
    ) -> list[int]:
        """Write each event with its item's state; dead-letter those the database refuses."""
        kept: list[int] = []
        for i, (envelope, record) in enumerate(zip(accepted, sources, strict=True)):
            try:
                await self._sink.write([envelope], [state_row(touched[envelope.subject])])
                kept.append(i)
            except SinkRejected as exc:
                bad = InvalidRecord("rejected_by_database", str(exc))
                await self._send_dead_letter(_dead_letter(record, bad))
                dead_reasons.append(bad.reason)
        return kept

    def _valid_event(self, record: Record) -> EventEnvelope:
        envelope = self._decoder.decode(record.value)
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        if key != envelope.subject:
            shown = key if key is None or len(key) <= 300 else key[:300] + "\u2026"
            raise InvalidRecord(
                "wrong_key",
                f"the Kafka key {shown!r} is not the event's subject {envelope.subject!r}; events "
                "must be keyed by item id so that all events of an item share a partition",
            )
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


def _origin(record: Record) -> dict[str, Any]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _dead_letter(record: Record, bad: InvalidRecord) -> DeadLetter:
    return DeadLetter(
        reason=bad.reason, detail=bad.detail, origin=_origin(record), original=record.value
    )
