"""Dead letters by reason, counted on the dead-letter topic (they are not in the database)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from outcome_pulse.streams.errors import BrokerError

_REASON_HEADER = "pulse-reason"


def count_dead_letters(bootstrap: str, topic: str, timeout: float = 30.0) -> dict[str, int]:
    """Every record on ``topic`` from the beginning to its current end, by reason header
    (``{}`` when the topic does not exist yet).

    Raises ``BrokerError`` when Kafka cannot be reached or the end is not reached in time."""
    try:
        return asyncio.run(_count(bootstrap, topic, timeout))
    except KafkaError as exc:
        raise BrokerError(f"cannot count dead letters on {topic} at {bootstrap}: {exc}") from None


async def _partitions(bootstrap: str, topic: str, timeout: float) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        (described,) = await admin.describe_topics([topic])
        return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])
    finally:
        await admin.close()


async def _count(bootstrap: str, topic: str, timeout: float) -> dict[str, int]:
    # No asyncio.wait_for around the consumer: cancelling it mid-stop leaks a CancelledError out
    # of aiokafka's coordinator; the deadline is checked between polls instead.
    deadline = time.monotonic() + timeout
    assigned = await _partitions(bootstrap, topic, timeout)
    if not assigned:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=int(timeout * 1000),
    )
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise
    try:
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        reasons: Counter[str] = Counter()
        while True:
            positions = {tp: await consumer.position(tp) for tp in assigned}
            if all(positions[tp] >= ends[tp] for tp in assigned):
                break
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"counting dead letters on {topic} at {bootstrap} took over {timeout:.0f} s"
                )
            batches = await consumer.getmany(*assigned, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers or ())
                    reason = headers.get(_REASON_HEADER, b"unknown").decode("utf-8", "replace")
                    reasons[reason] += 1
        return dict(sorted(reasons.items()))
    finally:
        await consumer.stop()
