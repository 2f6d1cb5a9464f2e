"""A second baseline consumer: kafka-python (synchronous, no asyncio), consume and json-decode.

Used by ``bench.e2e_throughput`` beside the bare aiokafka loop, on the same topic: two
independent Kafka clients bound what any Python consumer reaches on this machine. kafka-python
is a dependency of the ``bench`` extra only (``pip install -e '.[bench]'``); the pipeline itself
uses aiokafka through faust.
"""

from __future__ import annotations

import json
import time

from kafka import KafkaConsumer, TopicPartition

from outcome_pulse.streams.settings import PulseSettings


def kafka_python_consume(settings: PulseSettings, expected: int) -> float:
    """Seconds kafka-python needs to read and decode ``expected`` events from the start."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        partitions = [TopicPartition(settings.events_topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.monotonic()
        while seen < expected:
            for messages in consumer.poll(timeout_ms=1000, max_records=10_000).values():
                for message in messages:
                    json.loads(message.value)
                    seen += 1
        return time.monotonic() - started
    finally:
        consumer.close()
