"""``pulse replay``: produce a mapped export to Kafka in event-time order.

The file is mapped first (``outcome_pulse.streams.file_import.mapped_file``; bad records become dead
letters with file and line), then produced keyed by item id. ``speed`` None means as fast as the
broker takes it; a number N replays N times faster than the events originally happened (a live
demo).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.streams.file_import.mapped_file import MappedFile, map_file
from outcome_pulse.streams.file_import.mapping import RecordMapping
from outcome_pulse.streams.file_import.rejections import check_rejections
from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventEnvelope, encode_event
from outcome_pulse.streams.wire.item_key import event_key

Progress = Callable[[int], None]

_IN_FLIGHT = 5000  # sends awaited together; bounds memory and keeps the producer batching


@dataclass(frozen=True)
class ReplayReport:
    records_read: int
    events_produced: int
    dead_letters: int
    absent_milestones: int
    items: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events_produced / self.seconds if self.seconds > 0 else 0.0


def mapped_dead_letters(mapped: MappedFile) -> list[DeadLetter]:
    return [
        DeadLetter(reason=r.reason, detail=r.detail, origin=r.origin, original=r.raw)
        for r in mapped.dead_letters
    ]


async def produce(
    settings: PulseSettings,
    events: Sequence[EventEnvelope],
    dead_letters: Sequence[DeadLetter],
    *,
    speed: float | None = None,
    on_progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> float:
    """Send events (and dead letters) to Kafka; return seconds spent producing."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
        request_timeout_ms=30000,
    )
    try:
        await producer.start()
    except KafkaError as exc:
        raise BrokerError(
            f"cannot reach Kafka at {settings.bootstrap} ({exc}); `pulse stack up`?"
        ) from exc
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        for letter in dead_letters:
            await producer.send(
                settings.dead_letter_topic,
                key=letter.key(),
                value=letter.encode(clock()),
                headers=letter.headers(),
            )
        pending: list[asyncio.Future[object]] = []
        first_time = events[0].time if events else None
        for n, envelope in enumerate(events, start=1):
            if speed is not None and first_time is not None:
                due = started + (envelope.time - first_time).total_seconds() / speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.gather(*pending)
                    pending.clear()
                    await asyncio.sleep(delay)
            pending.append(
                await producer.send(
                    settings.events_topic,
                    key=event_key(envelope),
                    value=encode_event(envelope),
                )
            )
            if len(pending) >= _IN_FLIGHT:
                await asyncio.gather(*pending)
                pending.clear()
                if on_progress:
                    on_progress(n)
        await asyncio.gather(*pending)
        await producer.flush()
        if on_progress:
            on_progress(len(events))
    except KafkaError as exc:
        raise BrokerError(f"Kafka refused a record: {exc}") from exc
    finally:
        await producer.stop()
    return loop.time() - started


async def _ensure_topics_and_produce(
    settings: PulseSettings,
    events: Sequence[EventEnvelope],
    dead_letters: Sequence[DeadLetter],
    speed: float | None,
    on_progress: Progress | None,
) -> float:
    await ensure_topics(settings)
    return await produce(settings, events, dead_letters, speed=speed, on_progress=on_progress)


def replay_file(
    settings: PulseSettings,
    path: Path,
    mapping: RecordMapping,
    *,
    limit: int | None = None,
    speed: float | None = None,
    on_read: Progress | None = None,
    on_produced: Progress | None = None,
) -> ReplayReport:
    mapped = map_file(path, mapping, limit=limit, progress=on_read)
    # Before anything is produced: a file that is mostly dead letters is a wrong mapping.
    check_rejections(mapped, settings.max_dead_letter_share)
    letters = mapped_dead_letters(mapped)
    seconds = asyncio.run(
        _ensure_topics_and_produce(settings, mapped.events, letters, speed, on_produced)
    )
    return ReplayReport(
        records_read=mapped.records_read,
        events_produced=len(mapped.events),
        dead_letters=len(letters),
        absent_milestones=mapped.absent_milestones,
        items=len({(e.source, e.subject) for e in mapped.events}),
        seconds=seconds,
    )
