"""The Kafka edge of the live feeds: produce events and dead letters and wait for Kafka's
acknowledgement (``acks=all``, idempotent producer), so a caller answers a sender or advances
a checkpoint only for what Kafka has. aiokafka errors and timeouts become ``BrokerError``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from outcome_pulse.streams.errors import BrokerError
from outcome_pulse.streams.settings import PulseSettings
from outcome_pulse.streams.wire.deadletter import DeadLetter
from outcome_pulse.streams.wire.events import EventEnvelope, encode_event
from outcome_pulse.streams.wire.item_key import event_key


def kafka_key(envelope: EventEnvelope) -> bytes:
    """The events topic's key: source and item (``wire.item_key``), what the worker's
    ``wrong_key`` rule expects."""
    return event_key(envelope)


class LiveProducer:
    def __init__(
        self,
        settings: PulseSettings,
        *,
        send_timeout: float = 15.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._timeout = send_timeout
        self._clock = clock
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
            request_timeout_ms=int(self._timeout * 1000),
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise BrokerError(f"cannot reach Kafka at {self._settings.bootstrap} ({exc})") from None
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_events(self, events: Sequence[EventEnvelope]) -> None:
        """Produce ``events`` and return once Kafka acknowledged every one."""
        topic = self._settings.events_topic
        await self._acknowledged(
            [(topic, kafka_key(e), encode_event(e), None) for e in events], "events"
        )

    async def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        topic = self._settings.dead_letter_topic
        at = self._clock()
        await self._acknowledged(
            [(topic, d.key(), d.encode(at), d.headers()) for d in letters], "dead letters"
        )

    async def reachable(self, timeout: float = 3.0) -> bool:
        """Whether the broker answers a metadata request and knows the events topic."""
        if self._producer is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                metadata = await self._producer.client.fetch_all_metadata()
        except (KafkaError, TimeoutError, OSError):
            return False
        return self._settings.events_topic in metadata.topics()

    async def _acknowledged(
        self,
        records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]] | None]],
        what: str,
    ) -> None:
        if self._producer is None:
            raise BrokerError("the Kafka producer is not started")
        try:
            async with asyncio.timeout(self._timeout):
                futures = [
                    await self._producer.send(topic, key=key, value=value, headers=headers)
                    for topic, key, value, headers in records
                ]
                await asyncio.gather(*futures)
        except TimeoutError:
            raise BrokerError(
                f"Kafka did not acknowledge {what} within {self._timeout:g}s"
            ) from None
        except KafkaError as exc:
            raise BrokerError(f"Kafka refused {what}: {exc}") from None
