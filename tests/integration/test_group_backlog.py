"""The per-partition watermark asks the real broker how many records of each events partition the
worker group has not committed (``streams/kafka/group_backlog.py``): a group that never committed
counts from the log's start, a commit takes its partition's backlog down, and a broker that
cannot be reached gives ``HOLD`` (the frontier stays), not an error or a zero."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from outcome_pulse.processors.partition_progress import HOLD
from outcome_pulse.streams.kafka.group_backlog import GroupBacklog
from outcome_pulse.streams.kafka.topics import ensure_topics
from outcome_pulse.streams.settings import PulseSettings
from tests.support.sandbox import free_port

pytestmark = pytest.mark.integration


async def _scenario(settings: PulseSettings) -> None:
    suffix = uuid.uuid4().hex[:8]
    fresh = settings.model_copy(
        update={
            "app_id": f"it-{suffix}",
            "events_topic": f"it.{suffix}.events",
            "dead_letter_topic": f"it.{suffix}.deadletter",
            "evaluation_topic": f"it.{suffix}.evaluation",
            "partitions": 2,
        }
    )
    await ensure_topics(fresh)
    topic, group = fresh.events_topic, fresh.app_id
    producer = AIOKafkaProducer(bootstrap_servers=fresh.bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, b"r%d" % n, partition=0)
        for n in range(3):
            await producer.send_and_wait(topic, b"s%d" % n, partition=1)
    finally:
        await producer.stop()
    backlog = GroupBacklog(fresh.bootstrap, group, topic)
    try:
        # A topic just created may not have its leaders known to every client yet: the backlog
        # holds (HOLD) until the broker answers.
        answer = await backlog()
        for _ in range(60):
            if answer is not HOLD:
                break
            await asyncio.sleep(0.5)
            answer = await backlog()
        assert answer == {(topic, 0): 5, (topic, 1): 3}, "nothing committed yet"
        committer = AIOKafkaConsumer(
            bootstrap_servers=fresh.bootstrap, group_id=group, enable_auto_commit=False
        )
        await committer.start()
        try:
            tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
            committer.assign([tp0, tp1])
            await committer.commit({tp0: OffsetAndMetadata(5, ""), tp1: OffsetAndMetadata(1, "")})
        finally:
            await committer.stop()
        assert await backlog() == {(topic, 0): 0, (topic, 1): 2}
    finally:
        await backlog.close()


def test_the_backlog_is_what_the_group_has_not_committed(settings: PulseSettings) -> None:
    asyncio.run(_scenario(settings))


def test_an_unreachable_broker_holds_the_frontier() -> None:
    port = free_port()  # nothing listens on it
    backlog = GroupBacklog(f"127.0.0.1:{port}", "nobody", "nothing")
    assert asyncio.run(backlog()) is HOLD
