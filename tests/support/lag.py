"""How far the worker's consumer group is behind the events topic (tests, demo, benchmarks)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from outcome_pulse.streams.settings import PulseSettings


async def group_lag(settings: PulseSettings) -> int:
    """Messages in the events topic not yet committed by the worker group (app_id)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.events_topic, p) for p in range(settings.partitions)]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(settings.app_id, partitions=partitions)
        lag = 0
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(0, ends[tp] - done)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


def wait_caught_up(settings: PulseSettings, timeout: float = 300.0, poll: float = 1.0) -> float:
    """Block until the worker group has committed every message; return seconds waited."""
    started = time.monotonic()
    while True:
        lag = asyncio.run(group_lag(settings))
        if lag == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"worker group {settings.app_id!r} still {lag} messages behind")
        time.sleep(poll)
